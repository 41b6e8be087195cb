"""Feeding the queue: queue items made a batch at a time from a cursor per kind (and version)
over new prompts (kinds that show no completions) or new completions of the live version."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.kinds import kind_of
from labeling.models import (
    Completion,
    Project,
    Prompt,
    PromptUncertainty,
    QueueCursor,
    QueueItem,
)
from labeling.selectors.head_to_head import head_to_head_prompts
from labeling.selectors.queue import completions_needed, completions_shown_by
from labeling.selectors.selection import shuffle_key
from training.models import ModelVersion

# Prompts made into queue items per look past the cursor.
FEED_BATCH = 100
# Rows newer than this may still be joined by rows with lower ids committing late
# (PostgreSQL sequences): the cursor stays behind them and they are looked at again.
SETTLE = timedelta(seconds=5)

# (row id, created at, prompt id) of the prompts or completions past a cursor
Row = tuple[int, datetime, int]


@transaction.atomic
def items_feed(
    *, project: Project, kind: str, version: ModelVersion | None, now: datetime | None = None
) -> tuple[bool, bool]:
    """Create queue items for the next batch past the kind's cursor: prompts for answer
    tasks, prompts whose completions of `version` are ready for the others.

    Returns (looked at any rows, cursor advanced). Creating an item twice is harmless.
    """
    now = now or timezone.now()
    cursor = _cursor(project=project, kind=kind, version=version)
    if version is None:
        rows = _prompts_past(project=project, position=cursor.position)
        ready = sorted({prompt_id for _, _, prompt_id in rows})
    else:
        rows = _completions_past(project=project, version=version, position=cursor.position)
        ready = _prompts_ready(project=project, kind=kind, version=version, rows=rows)
    if not rows:
        return False, False
    _items_create(project=project, kind=kind, version=version, prompt_ids=ready)
    return True, _cursor_advance(cursor=cursor, rows=rows, now=now)


def _prompts_past(*, project: Project, position: int) -> list[Row]:
    return list(
        Prompt.objects.filter(project=project, pk__gt=position)
        .order_by("pk")
        .values_list("pk", "created_at", "pk")[:FEED_BATCH]
    )


def _completions_past(*, project: Project, version: ModelVersion, position: int) -> list[Row]:
    return list(
        Completion.objects.filter(model_version=version, pk__gt=position)
        .order_by("pk")
        .values_list("pk", "created_at", "prompt_id")[: FEED_BATCH * project.completions_per_prompt]
    )


def _prompts_ready(
    *, project: Project, kind: str, version: ModelVersion, rows: list[Row]
) -> list[int]:
    """The prompts among `rows` with as many completions of `version` as `kind` needs."""
    of_prompts = Completion.objects.filter(
        model_version=version, prompt_id__in={prompt_id for _, _, prompt_id in rows}
    )
    counts = (
        completions_shown_by(of_prompts, kind_of(kind))
        .values("prompt_id")
        .annotate(completions=Count("pk"))
    )
    needed = completions_needed(project=project, kind=kind)
    return sorted(c["prompt_id"] for c in counts if c["completions"] >= needed)


def _items_create(
    *, project: Project, kind: str, version: ModelVersion | None, prompt_ids: list[int]
) -> None:
    """One item per prompt; a head-to-head kind's items of prompts in the compare share
    carry the version the live one replaced as `versus`. Each carries what the project's
    prompt selection orders by (labeling.selectors.selection)."""
    versus = (
        head_to_head_prompts(project=project, live=version, prompt_ids=prompt_ids)
        if kind_of(kind).head_to_head and version is not None and prompt_ids
        else {}
    )
    uncertainty = (
        dict(
            PromptUncertainty.objects.filter(
                prompt_id__in=prompt_ids, model_version=version
            ).values_list("prompt_id", "score")
        )
        if version is not None and prompt_ids
        else {}
    )
    QueueItem.objects.bulk_create(
        [
            QueueItem(
                project=project,
                prompt_id=prompt_id,
                kind=kind,
                model_version=version,
                versus_id=versus.get(prompt_id),
                uncertainty=uncertainty.get(prompt_id, 0.0),
                shuffle=shuffle_key(project_id=project.pk, prompt_id=prompt_id),
            )
            for prompt_id in prompt_ids
        ],
        ignore_conflicts=True,
    )


def _cursor_advance(*, cursor: QueueCursor, rows: list[Row], now: datetime) -> bool:
    """Move the cursor past the rows old enough to have settled; True if it moved."""
    position = cursor.position
    for pk, created_at, _ in rows:
        if created_at > now - SETTLE:
            break
        position = pk
    seen = rows[-1][0]
    advanced = position > cursor.position
    if advanced or seen > cursor.seen:
        QueueCursor.objects.filter(pk=cursor.pk).update(
            position=Greatest("position", Value(position)), seen=Greatest("seen", Value(seen))
        )
    return advanced


def _cursor(*, project: Project, kind: str, version: ModelVersion | None) -> QueueCursor:
    """The kind's feed cursor, created at 0 the first time (by one request if several race)."""
    cursor = QueueCursor.objects.filter(project=project, kind=kind, model_version=version).first()
    if cursor is not None:
        return cursor
    try:
        with transaction.atomic():
            return QueueCursor.objects.create(project=project, kind=kind, model_version=version)
    except IntegrityError:  # another request created it first
        return QueueCursor.objects.get(project=project, kind=kind, model_version=version)
