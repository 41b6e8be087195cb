"""Which model servers the app talks to, and how (Django side of serving/).

VLLM_URLS names servers run elsewhere; when it is empty the app uses the local server that
`manage.py serve_model` starts on VLLM_HOST:VLLM_PORT.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from serving.vllm.client import ServerPool
from serving.vllm.launcher import ServerConfig, detect_cpu
from training.engine.prompts import prompt_style_for

# Generation on a busy CPU server can take minutes; a timeout that fires early only makes
# the client retry and add load.
CHAT_TIMEOUT_SECONDS = 600.0


def uses_local_server() -> bool:
    return not settings.VLLM_URLS


def uses_agents() -> bool:
    """The servers in VLLM_URLS each have an agent (SERVING_AGENT_TOKEN set): adapters reach
    them over HTTP, and publishing waits for the agents' reports instead of loading by path."""
    return bool(settings.VLLM_URLS) and bool(settings.SERVING_AGENT_TOKEN)


def rollout_lifetime() -> timedelta:
    """How long an adapter being published is listed to the agents at most (its publish has
    given up by then)."""
    return timedelta(seconds=settings.SERVING_AGENT_PUBLISH_TIMEOUT + 60)


def server_urls() -> list[str]:
    if settings.VLLM_URLS:
        return [url.rstrip("/") for url in settings.VLLM_URLS]
    return [f"http://{settings.VLLM_HOST}:{settings.VLLM_PORT}"]


def send_seed() -> bool:
    """Per-request seeds kill the CPU engine (FACTS.md): never for the local CPU server."""
    if settings.VLLM_URLS:
        return settings.VLLM_SEND_SEED
    return not _local_server_is_cpu(Path(settings.VLLM_PYTHON))


@functools.cache
def _local_server_is_cpu(python: Path) -> bool:
    return detect_cpu(python)


def base_model_prompt_style(model_dir: str | Path | None = None) -> str:
    """chat or text: how the base model is asked, by generation and training alike:
    BASE_MODEL_PROMPT_STYLE when set, else read from `model_dir` (default BASE_MODEL_DIR, the
    served model): a model without a chat template is text."""
    model_dir = settings.BASE_MODEL_DIR if model_dir is None else model_dir
    return prompt_style_for(settings.BASE_MODEL_PROMPT_STYLE, model_dir)


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
