"""Writes of the model-server state the background worker keeps (serving.ModelServer):
health after each check, and the backoff that spaces requests to a server that is down."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from serving.models import ModelServer

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
