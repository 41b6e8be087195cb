"""Which model servers the app talks to, and how (Django side of serving/).

VLLM_URLS names servers run elsewhere; when it is empty the app uses the local server that
`manage.py serve_model` starts on VLLM_HOST:VLLM_PORT.
"""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from serving.vllm.client import ServerPool
from serving.vllm.launcher import ServerConfig, detect_cpu

# Generation on a busy CPU server can take minutes; a timeout that fires early only makes
# the client retry and add load.
CHAT_TIMEOUT_SECONDS = 600.0


def uses_local_server() -> bool:
    return not settings.VLLM_URLS


def server_urls() -> list[str]:
    if settings.VLLM_URLS:
        return list(settings.VLLM_URLS)
    return [f"http://{settings.VLLM_HOST}:{settings.VLLM_PORT}"]


def send_seed() -> bool:
    """Per-request seeds kill the CPU engine (FACTS.md): never for the local CPU server."""
    if settings.VLLM_URLS:
        return settings.VLLM_SEND_SEED
    return not _local_server_is_cpu(Path(settings.VLLM_PYTHON))


@functools.cache
def _local_server_is_cpu(python: Path) -> bool:
    return detect_cpu(python)


def server_pool() -> ServerPool:
    """A new pool over every configured server; the caller closes it."""
    return ServerPool(server_urls(), send_seed=send_seed(), timeout=CHAT_TIMEOUT_SECONDS)


def local_server_config() -> ServerConfig:
    return ServerConfig(
        model_dir=Path(settings.BASE_MODEL_DIR),
        served_name=settings.BASE_MODEL_NAME,
        python=Path(settings.VLLM_PYTHON),
        host=settings.VLLM_HOST,
        port=settings.VLLM_PORT,
        log_file=Path(settings.LOG_DIR) / "vllm.log",
    )
