"""The periodic driver of pre-generation: one `generation_tick` task that re-enqueues itself.

There is never more than one pending (READY) tick: enqueueing checks for one under a lock.
The delay until the next tick follows what the last one found: soon while buffers are still
being filled, every TICK_IDLE_S when all is full, and the servers' backoff while they are down.
"""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus

from labeling.models import Project
from labeling.selectors.generation import (
    buffer_target,
    buffered_prompt_count,
    uses_completions,
)
from labeling.services.generation import completions_refill, model_servers_probe
from serving.config import server_urls
from serving.selectors import model_servers_retry_at
from training.selectors.versions import live_version

logger = logging.getLogger(__name__)

TICK_IDLE_S = 10.0
TICK_BUSY_S = 1.0
TICK_AFTER_ERROR_S = 30.0
_TICK_LOCK_KEY = 0x6C77_6765  # pg advisory lock key: "lwge"


def _retry_delay_s() -> float | None:
    retry_at = model_servers_retry_at(urls=server_urls())
    if retry_at is None:
        return None
    return max(TICK_BUSY_S, (retry_at - timezone.now()).total_seconds())


def generation_tick_run() -> dict:
    """Refill every project whose buffer is below target; say when to tick next."""
    if (delay := _retry_delay_s()) is not None:
        return {"next_tick_s": delay, "refills": [], "servers": "backed off"}
    refills = []
    for project in Project.objects.order_by("pk"):
        version = live_version(project)
        if version is None or not uses_completions(project):
            continue
        if buffered_prompt_count(project, version=version) >= buffer_target(project):
            continue
        report = completions_refill(project=project)
        if report.requests or report.server_down:
            refills.append(report.as_dict())
        if report.server_down:
            return {"next_tick_s": _retry_delay_s() or TICK_BUSY_S, "refills": refills}
    if not any(refill["requests"] for refill in refills):
        model_servers_probe()  # nothing sent: keep the servers' state fresh for the admin
        if (delay := _retry_delay_s()) is not None:
            return {"next_tick_s": delay, "refills": refills}
    busy = any(refill["more_needed"] for refill in refills)
    return {"next_tick_s": TICK_BUSY_S if busy else TICK_IDLE_S, "refills": refills}


def _tick_lock() -> None:
    """Serialize tick enqueueing. SQLite needs nothing: the settings open every transaction
    with BEGIN IMMEDIATE, which already takes the write lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_TICK_LOCK_KEY])


def generation_tick_schedule(*, delay_s: float) -> bool:
    """Enqueue the next tick in `delay_s` unless one is already pending. True if enqueued."""
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    from labeling.tasks import generation_tick

    backend = generation_tick.get_backend()
    if not backend.supports_defer:
        return False  # e.g. the immediate backend: a self-enqueueing task would never end
    run_after = timezone.now() + timedelta(seconds=delay_s)
    if not isinstance(backend, DatabaseBackend):
        generation_tick.using(run_after=run_after).enqueue()
        return True
    with transaction.atomic():
        _tick_lock()
        pending = DBTaskResult.objects.filter(
            task_path=generation_tick.module_path, status=TaskResultStatus.READY
        )
        if pending.exists():
            return False
        generation_tick.using(run_after=run_after).enqueue()
    return True


def generation_tick_wake() -> int:
    """Bring a pending tick forward to now (after a server came back, prompts were imported,
    a new version went live). Returns how many pending ticks were moved."""
    from django_tasks_db.models import DBTaskResult

    from labeling.tasks import generation_tick

    now = timezone.now()
    return DBTaskResult.objects.filter(
        task_path=generation_tick.module_path,
        status=TaskResultStatus.READY,
        run_after__gt=now,
    ).update(run_after=now)


def generation_start() -> bool:
    """Make sure a tick is pending and due now; safe to call any number of times."""
    enqueued = generation_tick_schedule(delay_s=0)
    if not enqueued:
        generation_tick_wake()
    return enqueued
