"""Reads of the model-server state (serving.ModelServer): is any server worth a request."""

from datetime import datetime

from django.utils import timezone

from serving.config import server_urls
from serving.models import ModelServer


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
