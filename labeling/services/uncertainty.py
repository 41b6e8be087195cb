"""Writing each prompt's uncertainty for a model version (the formula and its parts:
labeling.quality.uncertainty), in the generation worker: when the prompt's completions are
stored, and on each tick for the prompts judged since the last one. Nothing here runs while a
task is handed out or submitted; the queue only orders by the copy on its items."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Greatest
from django.utils import timezone

from labeling.kinds import judgement_kinds
from labeling.models import Judgement, Project, PromptUncertainty, QueueItem, VotesCursor
from labeling.quality.uncertainty import completions_spread, uncertainty_score, votes_split
from labeling.selectors.quality import judgement_rows
from labeling.services.queue.feed import SETTLE

# Judgements looked at per project and tick.
VOTES_BATCH = 500


def uncertainty_of_completions(
    *, prompt_id: int, version_id: int, mean_logprobs: Iterable[float | None]
) -> PromptUncertainty | None:
    """Record the spread of a prompt's freshly stored completions of a version (inside the
    store's transaction); None when the server gave no log-probabilities and no votes are
    known."""
    spread = completions_spread(mean_logprobs)
    row = _row_locked(prompt_id=prompt_id, version_id=version_id, create=spread is not None)
    if row is None:
        return None
    row.completions_spread = spread
    return _score_save(row)


def uncertainty_votes_refresh(*, project: Project, now: datetime | None = None) -> int:
    """Fold the project's judgements since the last tick into votes_split of their prompt and
    version; returns how many (prompt, version) pairs were updated."""
    now = now or timezone.now()
    cursor, _ = VotesCursor.objects.get_or_create(project=project)
    rows = list(
        Judgement.objects.filter(
            prompt__project=project, kind__in=judgement_kinds(), pk__gt=cursor.position
        )
        .exclude(assignment__item__model_version__isnull=True)
        .order_by("pk")
        .values_list("pk", "created_at", "prompt_id", "assignment__item__model_version_id")[
            :VOTES_BATCH
        ]
    )
    pairs = {(prompt_id, version_id) for _, _, prompt_id, version_id in rows}
    for prompt_id, version_id in sorted(pairs):
        _votes_split_update(prompt_id=prompt_id, version_id=version_id)
    position = cursor.position  # past the rows old enough to have settled, as the feed's
    for pk, created_at, _, _ in rows:
        if created_at > now - SETTLE:
            break
        position = pk
    if position > cursor.position:
        VotesCursor.objects.filter(pk=cursor.pk).update(
            position=Greatest("position", Value(position))
        )
    return len(pairs)


def uncertainty_votes_refresh_all() -> int:
    """uncertainty_votes_refresh for every project (the generation tick runs it)."""
    return sum(
        uncertainty_votes_refresh(project=project) for project in Project.objects.order_by("pk")
    )


@transaction.atomic
def _votes_split_update(*, prompt_id: int, version_id: int) -> None:
    """How split the votes on one prompt's completions of one version are now (nothing is
    written below two annotators)."""
    row = _row_locked(prompt_id=prompt_id, version_id=version_id, create=True)
    judgements = Judgement.objects.filter(
        prompt_id=prompt_id,
        kind__in=judgement_kinds(),
        assignment__item__model_version_id=version_id,
    ).order_by("pk")
    row.votes_split = votes_split(judgement_rows(judgements))
    if row.pk is None and row.votes_split is None:
        return
    _score_save(row)


def _row_locked(*, prompt_id: int, version_id: int, create: bool) -> PromptUncertainty | None:
    """The pair's row, locked for the rest of the transaction (the store and the tick may
    write it at once); a new unsaved one if it has none and `create`."""
    rows = PromptUncertainty.objects.select_for_update()
    row = rows.filter(prompt_id=prompt_id, model_version_id=version_id).first()
    if row is None and create:
        row = PromptUncertainty(prompt_id=prompt_id, model_version_id=version_id)
    return row


def _score_save(row: PromptUncertainty) -> PromptUncertainty:
    """Save the row with its combined score, and copy the score onto its queue items."""
    row.score = uncertainty_score(spread=row.completions_spread, split=row.votes_split)
    row.save()
    QueueItem.objects.filter(prompt_id=row.prompt_id, model_version_id=row.model_version_id).update(
        uncertainty=row.score
    )
    return row
