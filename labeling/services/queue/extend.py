"""Holding a task longer: an annotator still working on it keeps its lock (the workspace page
asks, throttled, while they type or press keys in the task)."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.db import sqlite_lock_retried
from labeling.models import Assignment
from labeling.services.queue.checks import assignment_for_submission
from labeling.services.queue.refusals import refused_expired, refused_skipped, refused_submitted


@sqlite_lock_retried
@transaction.atomic
def assignment_extend(*, token: str | uuid.UUID, annotator: AbstractBaseUser) -> Assignment:
    """Hold the annotator's active task for a full lock (ASSIGNMENT_LOCK_SECONDS) from now.

    Only an active assignment of theirs: one submitted, skipped or already released to the
    queue (its slot may be someone else's now) is refused with its code. Their preloaded task
    (the next one, not shown yet) is held as long: it waits for them while they work.
    """
    assignment = assignment_for_submission(token=token, annotator=annotator)  # row-locked
    if assignment.status == Assignment.Status.SUBMITTED:
        raise refused_submitted()
    if assignment.status == Assignment.Status.SKIPPED:
        raise refused_skipped()
    if assignment.status == Assignment.Status.EXPIRED:
        raise refused_expired()
    assignment.expires_at = timezone.now() + timedelta(seconds=settings.ASSIGNMENT_LOCK_SECONDS)
    assignment.save(update_fields=["expires_at"])
    Assignment.objects.filter(
        project_id=assignment.project_id,
        annotator=annotator,
        status=Assignment.Status.PRELOADED,
        expires_at__gt=timezone.now(),
        pk__gt=assignment.pk,
    ).update(expires_at=assignment.expires_at)
    return assignment
