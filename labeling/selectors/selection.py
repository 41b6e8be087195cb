"""The project's prompt selection: in which order prompts get completions and tasks.

- order: oldest first (prompt ids for generation, queue items in the order they were made).
- random: a stable shuffle of prompt ids (Knuth's multiplicative hash, seeded with the project
  id): the same in SQL for generation and in Python for the queue items, so nothing random is
  drawn per request and a reload keeps the order.
- uncertainty: the queue hands out the items whose prompt the live version is least sure of
  first (QueueItem.uncertainty, a copy of PromptUncertainty.score; see
  labeling.quality.uncertainty); generation first samples the prompts the version the live one
  replaced was least sure of, then the rest in order.

Everything is read from stored columns: the open-item pick stays one query over an index
(queue_item_uncertain_idx, queue_item_shuffle_idx), whatever the selection. The queue is fed
a batch at a time, so the order holds within the prompts fed so far (labeling.services.queue).
"""

from dataclasses import dataclass

from django.db.models import F, QuerySet

from labeling.kinds import completion_kinds
from labeling.models import Project, Prompt, PromptSelection, PromptUncertainty, QueueItem
from training.models import ModelVersion
from training.selectors.versions import comparison_version, live_version

SHUFFLE_MULTIPLIER = 2_654_435_761  # Knuth: an odd number near 2**32 / golden ratio
SHUFFLE_MODULUS = 2**32
QUEUE_HEAD = 8  # queued items the dashboard lists


def shuffle_key(*, project_id: int, prompt_id: int) -> float:
    """The prompt's stable random rank in [0, 1) in its project (QueueItem.shuffle)."""
    return (prompt_id + project_id) * SHUFFLE_MULTIPLIER % SHUFFLE_MODULUS / SHUFFLE_MODULUS


def _shuffle_sql(project_id: int):
    """shuffle_key as SQL over the prompt id, times the modulus (integers are exact in SQL)."""
    return (F("pk") + project_id) * SHUFFLE_MULTIPLIER % SHUFFLE_MODULUS


def queue_order(project: Project) -> tuple[str, ...]:
    """How open queue items are ordered: items nearest to their overlap first (prompts get
    complete before new ones open), then by the project's selection."""
    by = {
        PromptSelection.RANDOM: ("shuffle",),
        PromptSelection.UNCERTAINTY: ("-uncertainty",),
    }.get(project.prompt_selection, ())
    return ("-taken", *by, "pk")


def prompts_in_selection_order(
    *, project: Project, candidates: QuerySet[Prompt], version: ModelVersion, limit: int
) -> list[Prompt]:
    """The first `limit` of `candidates` (prompts that need completions of `version`) in the
    project's selection order."""
    selection = project.prompt_selection
    if selection == PromptSelection.RANDOM:
        shuffled = candidates.alias(shuffled=_shuffle_sql(project.pk))
        return list(shuffled.order_by("shuffled")[:limit])
    in_order = candidates.order_by("created_at", "pk")
    if selection != PromptSelection.UNCERTAINTY:
        return list(in_order[:limit])
    previous = comparison_version(project, live=version)
    uncertain = []
    if previous is not None:  # driven from the previous version's scores, highest first
        scored = candidates.filter(
            uncertainties__model_version=previous, uncertainties__score__gt=0
        ).order_by("-uncertainties__score", "created_at", "pk")
        uncertain = list(scored[:limit])
    rest = in_order.exclude(pk__in=[prompt.pk for prompt in uncertain])
    return uncertain + list(rest[: limit - len(uncertain)])


@dataclass(frozen=True)
class QueuedPrompt:
    """One of the first queued items, for the dashboard."""

    prompt_id: int
    instruction: str
    kind: str
    taken: int
    score: float  # QueueItem.uncertainty
    completions_spread: float | None
    votes_split: float | None


def queue_head(project: Project, *, limit: int = QUEUE_HEAD) -> list[QueuedPrompt]:
    """The open items of the live version that come first in the project's selection order
    (all kinds merged), with their prompt's uncertainty figures."""
    live = live_version(project)
    if live is None:
        return []
    items = list(
        QueueItem.objects.filter(
            project=project,
            kind__in=completion_kinds(),
            model_version=live,
            taken__lt=project.overlap,
        )
        .order_by(*queue_order(project))
        .values_list("prompt_id", "prompt__instruction", "kind", "taken", "uncertainty")[:limit]
    )
    figures = {
        row[0]: row[1:]
        for row in PromptUncertainty.objects.filter(
            model_version=live, prompt_id__in={item[0] for item in items}
        ).values_list("prompt_id", "completions_spread", "votes_split")
    }
    return [QueuedPrompt(*item, *figures.get(item[0], (None, None))) for item in items]
