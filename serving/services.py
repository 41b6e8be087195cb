"""Writes of the model-server state (serving.ModelServer): health after each check, the
backoff that spaces requests to a server that is down, what each server's agent reports, and
loading an adapter on every server (by path, or through the agents)."""

import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from serving.config import rollout_lifetime, server_pool, server_urls, uses_agents
from serving.models import AdapterRollout, ModelServer
from serving.vllm.client import PoolError, ServingError

BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 300.0
MAX_ERROR_CHARS = 2000


def backoff_delay(*, consecutive_failures: int) -> float:
    """Seconds to wait after the n-th failure in a row: 5 s, 10 s, 20 s ... capped at 5 min."""
    if consecutive_failures <= 0:
        return 0.0
    # The exponent is capped too, so a server down for days does not overflow the float.
    return min(BACKOFF_FIRST_S * 2 ** min(consecutive_failures - 1, 32), BACKOFF_MAX_S)


@transaction.atomic
def model_server_record_ok(*, url: str) -> ModelServer:
    now = timezone.now()
    server, _ = ModelServer.objects.select_for_update().get_or_create(url=url)
    server.state = ModelServer.State.UP
    server.last_checked_at = now
    server.last_ok_at = now
    server.consecutive_failures = 0
    server.next_retry_at = None
    server.save()
    return server


@transaction.atomic
def model_server_record_failure(*, url: str, error: str) -> ModelServer:
    """Mark the server down and push its next retry out along the backoff schedule."""
    now = timezone.now()
    server, _ = ModelServer.objects.select_for_update().get_or_create(url=url)
    server.state = ModelServer.State.DOWN
    server.last_checked_at = now
    server.last_error = (error or "unreachable")[:MAX_ERROR_CHARS]
    server.consecutive_failures += 1
    delay = backoff_delay(consecutive_failures=server.consecutive_failures)
    server.next_retry_at = now + timedelta(seconds=delay)
    server.save()
    return server


@transaction.atomic
def model_server_record_report(
    *, url: str, adapters: list[str], failures: dict[str, str], error: str = ""
) -> ModelServer:
    """What the server's agent found after its round: the adapters loaded, those it could not
    load (and why), and an error when it could not reach its server."""
    server, _ = ModelServer.objects.select_for_update().get_or_create(url=url)
    server.adapters = sorted(adapters)
    server.adapter_failures = {name: why[:MAX_ERROR_CHARS] for name, why in failures.items()}
    server.agent_error = error[:MAX_ERROR_CHARS]
    server.agent_reported_at = timezone.now()
    server.save(update_fields=["adapters", "adapter_failures", "agent_error", "agent_reported_at"])
    return server


def adapter_load_everywhere(*, name: str, path: str) -> None:
    """Load the adapter on every configured server, or on none (PoolError names the servers
    that failed). Without agents: by path, through ServerPool (the servers share the disk);
    with agents: each server's agent fetches it, and this waits for their reports."""
    if uses_agents():
        adapter_rollout(name=name, path=path)
        return
    pool = server_pool()
    try:
        pool.load_adapter(name=name, path=path)
    finally:
        pool.close()


def adapter_rollout(
    *, name: str, path: str, timeout: float | None = None, poll_seconds: float = 0.5
) -> None:
    """List the adapter to the agents and wait until every server's agent reports it loaded,
    in a report sent after this began. One that reports it cannot load it, or a timeout,
    ends the rollout: the adapter is listed no more, so the agents that loaded it unload it
    again (unless the project wants it loaded anyway, as one of its recent candidates)."""
    timeout = settings.SERVING_AGENT_PUBLISH_TIMEOUT if timeout is None else timeout
    urls = server_urls()
    if not Path(path).is_dir():  # the agents fetch it from this host: nothing to send
        raise PoolError(
            f"Could not load adapter {name!r}: its folder {path} is not on this host.",
            failures={},
        )
    started = timezone.now()
    AdapterRollout.objects.filter(started_at__lt=started - rollout_lifetime()).delete()
    AdapterRollout.objects.update_or_create(
        name=name, defaults={"path": str(path), "started_at": started}
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            waiting, failures = _rollout_state(name=name, urls=urls, since=started)
            if failures:
                raise PoolError(
                    f"Could not load adapter {name!r} on {len(failures)} of {len(urls)} "
                    "servers: " + "; ".join(f"{url}: {error}" for url, error in failures.items()),
                    failures=failures,
                )
            if not waiting:
                return  # the row stays until it expires: the switch to live comes next
            if time.monotonic() > deadline:
                raise PoolError(
                    f"Timed out after {timeout:.0f}s waiting for the agents of "
                    f"{len(waiting)} of {len(urls)} servers to report adapter {name!r} "
                    "loaded: " + "; ".join(f"{url}: {why}" for url, why in waiting.items()),
                    failures={url: ServingError(why, url=url) for url, why in waiting.items()},
                )
            time.sleep(poll_seconds)
    except BaseException:
        AdapterRollout.objects.filter(name=name, started_at=started).delete()
        raise


def _rollout_state(
    *, name: str, urls: list[str], since
) -> tuple[dict[str, str], dict[str, ServingError]]:
    """({url: why it is still awaited}, {url: the error its agent reported for the adapter})."""
    servers = {server.url: server for server in ModelServer.objects.filter(url__in=urls)}
    waiting: dict[str, str] = {}
    failures: dict[str, ServingError] = {}
    for url in urls:
        server = servers.get(url)
        if server is None or server.agent_reported_at is None:
            waiting[url] = "its agent never reported"
        elif server.agent_reported_at < since:
            waiting[url] = (
                f"no report since {since:%H:%M:%S} (last {server.agent_reported_at:%H:%M:%S})"
            )
        elif name in server.adapters:
            continue
        elif name in server.adapter_failures:
            failures[url] = ServingError(server.adapter_failures[name], url=url)
        else:
            waiting[url] = server.agent_error or "not loaded yet"
    return waiting, failures
