"""Reads for dataset exports: the source rows a chunk of prompts at a time, and the exports.

Everything here returns plain values (`values()` rows), so the export never holds model
instances, and each function reads one chunk's worth: memory stays flat however large the
project is.
"""

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from labeling.access import projects_administered_by
from labeling.models import Completion, DatasetExport, Demonstration, Judgement, Project, Prompt
from serving.config import base_model_prompt_style
from training.engine.prompts import CHAT
from training.models import ModelVersion

PROMPT_FIELDS = ("pk", "instruction", "input", "category", "history", "drafted_by")
PROMPT_FIELDS += ("draft_edit_distance",)
JUDGEMENT_FIELDS = (
    "pk",
    "prompt_id",
    "annotator_id",
    "kind",
    "outcome",
    "ranking",
    "choice",
    "left_completion_id",
    "right_completion_id",
    "ratings",
)
DEMONSTRATION_FIELDS = (
    "pk",
    "prompt_id",
    "output",
    "origin",
    "author_id",
    "source_completion_id",
    "rejected_output",
    "drafted_by",
    "edit_distance",
)


def export_prompt_chunks(
    *, project: Project, as_of: datetime, chunk_size: int
) -> Iterator[list[dict]]:
    """The project's prompts in id order, `chunk_size` at a time, streamed from one query."""
    rows = (
        Prompt.objects.filter(project=project, created_at__lte=as_of)
        .order_by("pk")
        .values(*PROMPT_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    yield from rows_chunked(rows, chunk_size)


def rows_chunked(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """One query's rows, `size` at a time: only a chunk is in memory."""
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_judgements(
    *,
    prompt_ids: list[int],
    kinds: list[str],
    outcomes: list[str],
    filters: dict,
    as_of: datetime,
    with_shown: bool = False,
) -> list[dict]:
    """Judgements of these prompts (ids ascending), by prompt then id; `with_shown` adds the
    completions the task showed (`shown`), which "none acceptable" judgements need."""
    judgements = Judgement.objects.filter(
        **_prompt_range(prompt_ids), kind__in=kinds, outcome__in=outcomes, created_at__lte=as_of
    )
    judgements = _filtered(judgements, filters, person="annotator_id")
    fields = [*JUDGEMENT_FIELDS, "assignment__completion_ids"] if with_shown else JUDGEMENT_FIELDS
    wanted = set(prompt_ids)
    rows = [
        row
        for row in judgements.order_by("prompt_id", "pk").values(*fields)
        if row["prompt_id"] in wanted
    ]
    if with_shown:
        for row in rows:
            row["shown"] = row.pop("assignment__completion_ids") or []
    return rows


def export_demonstrations(
    *,
    prompt_ids: list[int],
    origins: list[str] | None,
    review_statuses: list[str],
    filters: dict,
    as_of: datetime,
) -> list[dict]:
    """Demonstrations of these prompts (ids ascending) with an admitted review status, by
    prompt then id."""
    demonstrations = Demonstration.objects.filter(
        **_prompt_range(prompt_ids), review_status__in=review_statuses, created_at__lte=as_of
    )
    if origins is not None:
        demonstrations = demonstrations.filter(origin__in=origins)
    demonstrations = _filtered(demonstrations, filters, person="author_id")
    wanted = set(prompt_ids)
    return [
        row
        for row in demonstrations.order_by("prompt_id", "pk").values(*DEMONSTRATION_FIELDS)
        if row["prompt_id"] in wanted
    ]


def export_ratings(*, prompt_ids: list[int], as_of: datetime) -> list[dict]:
    """The ratings ({completion id: {"thumb", scores, "flags"}}) of every judgement of these
    prompts (ids ascending), whoever gave them: the export's filters do not apply, as a
    completion one annotator flagged harmful stays harmful in an export of another's work."""
    wanted = set(prompt_ids)
    rows = Judgement.objects.filter(
        **_prompt_range(prompt_ids), ratings__isnull=False, created_at__lte=as_of
    ).values_list("prompt_id", "ratings")
    return [ratings for prompt_id, ratings in rows if prompt_id in wanted]


def export_completions(*, prompt_ids: list[int], ids: set[int]) -> dict[int, tuple[str, int]]:
    """{completion id: (text, model version id)} for the completions a chunk of prompts (ids
    ascending) refers to."""
    if not ids:
        return {}
    rows = Completion.objects.filter(**_prompt_range(prompt_ids)).values_list(
        "pk", "text", "model_version_id"
    )
    return {pk: (text, version_id) for pk, text, version_id in rows if pk in ids}


def _prompt_range(prompt_ids: list[int]) -> dict:
    """A range over the prompt index rather than IN (a list of thousands of ids costs more to
    build than to run); rows of other projects' prompts inside the range are dropped after."""
    return {"prompt_id__gte": prompt_ids[0], "prompt_id__lte": prompt_ids[-1]}


def model_version_numbers(*, project: Project) -> dict[int, int]:
    """{model version id: its number k (as in <project>-v<k>)} of the project."""
    return dict(ModelVersion.objects.filter(project=project).values_list("pk", "number"))


def _filtered(queryset: QuerySet, filters: dict, *, person: str) -> QuerySet:
    """The date range (inclusive days, in the current time zone) and the annotators."""
    if filters.get("date_from"):
        queryset = queryset.filter(created_at__gte=_day_start(filters["date_from"]))
    if filters.get("date_to"):
        queryset = queryset.filter(created_at__lt=_day_start(filters["date_to"], next_day=True))
    if filters.get("annotators"):
        queryset = queryset.filter(Q(**{f"{person}__in": filters["annotators"]}))
    return queryset


def _day_start(value: str | date, *, next_day: bool = False) -> datetime:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    if next_day:
        day = date.fromordinal(day.toordinal() + 1)
    return timezone.make_aware(datetime.combine(day, time.min))


# --- the exports themselves -----------------------------------------------------------------


def dataset_exports_visible_to(*, user: AbstractBaseUser) -> QuerySet[DatasetExport]:
    """Exports of the projects the user administers (all of them for a superuser)."""
    exports = DatasetExport.objects.select_related("project")
    if user.is_superuser:
        return exports
    return exports.filter(project__in=projects_administered_by(user=user))


def conversational_by_default() -> bool:
    """Whether a preference or KTO export holds messages (conversational rows) unless told:
    yes when the served base model has a chat template; for a text-style base model plain
    prompts, since it has no chat template to train on messages with."""
    try:
        return base_model_prompt_style() == CHAT
    except ValueError:  # an unreadable tokenizer config: the exports' old default
        return True
