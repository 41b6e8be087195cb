"""Which model servers the app talks to, and what they should serve (Django side of serving/).

VLLM_URLS names servers run elsewhere; when it is empty the app uses the local server that
`manage.py serve_model` starts on VLLM_HOST:VLLM_PORT.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from serving.client import ServerPool
from serving.launcher import ServerConfig, detect_cpu

# Generation on a busy CPU server can take minutes; a timeout that fires early only makes
# the client retry and add load.
CHAT_TIMEOUT_SECONDS = 600.0
RECENT_ADAPTERS_PER_PROJECT = 3


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


@dataclass(frozen=True)
class ServedAdapter:
    name: str  # ModelVersion.served_name
    path: str  # ModelVersion.adapter_path


def adapters_to_serve(*, recent: int = RECENT_ADAPTERS_PER_PROJECT) -> list[ServedAdapter]:
    """Every project's live adapter, the one it is compared with (even when retired), plus
    its `recent` newest non-retired ones."""
    from labeling.selectors.head_to_head import comparison_in_use
    from training.models import ModelVersion

    adapters = ModelVersion.objects.exclude(adapter_path="")
    wanted = {}
    for live in ModelVersion.objects.filter(status=ModelVersion.Status.LIVE).select_related(
        "project"
    ):
        comparison = comparison_in_use(live.project, live=live)
        for version in (live, comparison):
            if version is not None and version.is_adapter:
                wanted[version.pk] = version
    candidates = adapters.exclude(status=ModelVersion.Status.RETIRED).order_by(
        "project_id", "-number"
    )
    taken: dict[int, int] = {}
    for version in candidates.only("project_id", "served_name", "adapter_path"):
        if taken.get(version.project_id, 0) < recent:
            taken[version.project_id] = taken.get(version.project_id, 0) + 1
            wanted.setdefault(version.pk, version)
    return [ServedAdapter(name=v.served_name, path=v.adapter_path) for v in wanted.values()]
