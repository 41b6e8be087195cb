"""Locks that ran out: their slots go back to the queue, lazily, on the next task_next.

A preloaded task (claimed for the annotator as their next one, not shown yet) is held by
the same lock and released the same way."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from labeling.models import Assignment, Project, QueueItem

# Expired assignments released per request (there are at most as many as annotators).
EXPIRE_BATCH = 100


def assignments_expire(
    *, project: Project, now: datetime, annotator: AbstractBaseUser | None = None
) -> int:
    """Release the slots of the project's active assignments whose lock ran out (a batch of
    them, and all of `annotator`'s, who is about to get a new one), preloaded ones too."""
    stale = []
    # One query per status: each rides its own partial index over the few rows in it.
    for status in (Assignment.Status.ACTIVE, Assignment.Status.PRELOADED):
        expired = Assignment.objects.filter(project=project, status=status, expires_at__lte=now)
        batch = list(expired.order_by("pk").values_list("pk", "item_id")[:EXPIRE_BATCH])
        if annotator is not None and len(batch) == EXPIRE_BATCH:
            batch += expired.filter(annotator=annotator).values_list("pk", "item_id")
        stale += batch
    if not stale:
        return 0  # the usual case: no write transaction at all
    return _assignments_release(stale)


@transaction.atomic
def _assignments_release(stale: list[tuple[int, int | None]]) -> int:
    """Mark the given (assignment, item) pairs expired and give their items a slot back."""
    released = 0
    for pk, item_id in stale:
        # Conditional: a submission or another request may have changed it meanwhile.
        held = (Assignment.Status.ACTIVE, Assignment.Status.PRELOADED)
        changed = Assignment.objects.filter(pk=pk, status__in=held).update(
            status=Assignment.Status.EXPIRED
        )
        if changed and item_id is not None:
            QueueItem.objects.filter(pk=item_id, taken__gt=0).update(taken=F("taken") - 1)
        released += changed
    return released
