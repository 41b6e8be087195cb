"""Reads of the model-server state (serving.ModelServer): is any server worth a request; and
what the servers' agents must serve."""

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from serving.config import rollout_lifetime, server_urls
from serving.models import AdapterRollout, ModelServer
from serving.vllm.archive import archive_digest
from training.selectors.versions import ServedAdapter, adapters_to_serve

logger = logging.getLogger(__name__)


def _configured(urls: list[str] | None) -> list[str]:
    return list(server_urls() if urls is None else urls)


def model_servers_available(*, urls: list[str] | None = None) -> bool:
    """True unless every configured server is known to be down.

    A server never checked yet counts as available: nobody should be told "the model
    server is down" before the worker has tried it. `urls` defaults to the configured ones.
    """
    urls = _configured(urls)
    down = set(
        ModelServer.objects.filter(url__in=urls, state=ModelServer.State.DOWN).values_list(
            "url", flat=True
        )
    )
    return any(url not in down for url in urls)


def model_servers_retry_at(*, urls: list[str] | None = None) -> datetime | None:
    """When the next request may be sent: None if now (some server is up, unknown or due)."""
    urls = _configured(urls)
    servers = {s.url: s for s in ModelServer.objects.filter(url__in=urls)}
    now = timezone.now()
    retry_times = []
    for url in urls:
        server = servers.get(url)
        if server is None or server.state != ModelServer.State.DOWN:
            return None
        if server.next_retry_at is None or server.next_retry_at <= now:
            return None
        retry_times.append(server.next_retry_at)
    return min(retry_times) if retry_times else None


def adapters_for_agents() -> list[ServedAdapter]:
    """What every server's agent must keep loaded: the adapters every project wants
    (`adapters_to_serve`) and the ones being published right now."""
    adapters = {adapter.name: adapter for adapter in adapters_to_serve()}
    recent = AdapterRollout.objects.filter(started_at__gte=timezone.now() - rollout_lifetime())
    for rollout in recent.order_by("started_at"):
        adapters.setdefault(rollout.name, ServedAdapter(name=rollout.name, path=rollout.path))
    return list(adapters.values())


def adapter_for_agent(*, name: str) -> ServedAdapter | None:
    """The adapter `name` if an agent may fetch it (it is one it must serve), else None."""
    return next((adapter for adapter in adapters_for_agents() if adapter.name == name), None)


@dataclass(frozen=True)
class AdapterArchive:
    name: str
    path: str
    sha256: str  # of the deterministic archive serving.vllm.archive makes of `path`
    size: int


def adapter_archives_for_agents() -> list[AdapterArchive]:
    """`adapters_for_agents` with their archives' digests; one whose folder is missing on this
    host is left out (and logged): there is nothing to send."""
    archives = []
    for adapter in adapters_for_agents():
        if not Path(adapter.path).is_dir():
            logger.warning("adapter %s: no folder %s on this host", adapter.name, adapter.path)
            continue
        digest = archive_digest(adapter.path)
        archives.append(
            AdapterArchive(
                name=adapter.name, path=adapter.path, sha256=digest.sha256, size=digest.size
            )
        )
    return archives
