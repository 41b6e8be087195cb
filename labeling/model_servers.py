"""Which model servers the app talks to, and what they should serve (Django side of serving/).

VLLM_URLS names servers run elsewhere; when it is empty the app uses the local server that
`manage.py serve_model` starts on VLLM_HOST:VLLM_PORT.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from serving.client import ServerPool
from serving.launcher import ServerConfig, detect_cpu

if TYPE_CHECKING:
    from labeling.models import Project
    from training.models import ModelVersion

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
    """What every project wants loaded (`adapters_wanted`), for a server that starts."""
    from labeling.models import Project
    from training.models import ModelVersion

    projects = Project.objects.filter(
        pk__in=ModelVersion.objects.exclude(adapter_path="").values("project_id")
    )
    return [
        ServedAdapter(name=v.served_name, path=v.adapter_path)
        for project in projects
        for v in adapters_wanted(project, recent=recent)
    ]


def adapters_wanted(
    project: Project, *, recent: int = RECENT_ADAPTERS_PER_PROJECT
) -> list[ModelVersion]:
    """The project's adapters to keep loaded: the live one, the one it is compared with
    (even when retired), and the `recent` newest non-retired ones. Servers start with these
    (`adapters_to_serve`); publishing unloads the rest (training.services.versions)."""
    from labeling.selectors.head_to_head import comparison_in_use
    from training.models import ModelVersion

    live = project.model_versions.filter(status=ModelVersion.Status.LIVE).first()
    comparison = comparison_in_use(project, live=live) if live is not None else None
    wanted = {v.pk: v for v in (live, comparison) if v is not None and v.is_adapter}
    newest = (
        project.model_versions.exclude(adapter_path="")
        .exclude(status=ModelVersion.Status.RETIRED)
        .order_by("-number")
    )
    for version in newest[:recent]:
        wanted.setdefault(version.pk, version)
    return list(wanted.values())
