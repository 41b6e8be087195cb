"""Source rows for the export tests: judgements and demonstrations as annotators leave them.

A judgement needs its (submitted) assignment; the payload goes through the same checks as a
real submission (judgement_payload_clean), so the stored shape is the real one.
"""

import json
from pathlib import Path

from django.utils import timezone

from labeling.models import Assignment, Completion, DatasetExport, Demonstration, Judgement
from labeling.services.exports import dataset_export_create, dataset_export_run
from labeling.services.judgement_payloads import judgement_payload_clean
from tests.factories import CompletionFactory


def completions(prompt, *texts: str) -> list[Completion]:
    return [CompletionFactory(prompt=prompt, text=text) for text in texts]


def judgement(prompt, annotator, *, kind: str, shown: list[Completion], **payload) -> Judgement:
    ids = [completion.pk for completion in shown]
    compare = kind == "compare"
    assignment = Assignment.objects.create(
        project=prompt.project,
        prompt=prompt,
        annotator=annotator,
        kind=kind,
        status=Assignment.Status.SUBMITTED,
        completion_ids=ids,
        left_completion_id=ids[0] if compare else None,
        right_completion_id=ids[1] if compare else None,
        expires_at=timezone.now(),
        submitted_at=timezone.now(),
    )
    fields = judgement_payload_clean(
        kind=kind,
        shown=ids,
        outcome=payload.get("outcome"),
        ranking=payload.get("ranking"),
        choice=payload.get("choice"),
        ratings=payload.get("ratings"),
        reason=payload.get("reason", ""),
    )
    return Judgement.objects.create(
        assignment=assignment,
        prompt=prompt,
        annotator=annotator,
        kind=kind,
        left_completion_id=assignment.left_completion_id,
        right_completion_id=assignment.right_completion_id,
        time_spent_ms=1000,
        **fields,
    )


def rank(prompt, annotator, *groups: list[Completion]) -> Judgement:
    """Tie groups of completions, best first."""
    shown = [completion for group in groups for completion in group]
    ranking = [[completion.pk for completion in group] for group in groups]
    return judgement(prompt, annotator, kind="rank", shown=shown, ranking=ranking)


def none_acceptable(prompt, annotator, shown: list[Completion]) -> Judgement:
    return judgement(
        prompt, annotator, kind="rank", shown=shown, outcome="none_acceptable", reason="all off"
    )


def compare(prompt, annotator, left: Completion, right: Completion, choice: str) -> Judgement:
    return judgement(prompt, annotator, kind="compare", shown=[left, right], choice=choice)


def rate(prompt, annotator, thumbs: dict[Completion, str]) -> Judgement:
    ratings = {completion.pk: {"thumb": thumb} for completion, thumb in thumbs.items()}
    return judgement(prompt, annotator, kind="rate", shown=list(thumbs), ratings=ratings)


def demonstration(
    prompt,
    output: str,
    *,
    origin: str = Demonstration.Origin.ANSWERED,
    author=None,
    review_status: str = Demonstration.ReviewStatus.PENDING,
    source_completion: Completion | None = None,
) -> Demonstration:
    return Demonstration.objects.create(
        prompt=prompt,
        output=output,
        origin=origin,
        author=author,
        review_status=review_status,
        source_completion=source_completion,
    )


def exported(project, format: str, **arguments) -> DatasetExport:
    """Create and run an export; it must succeed."""
    export = dataset_export_run(
        export=dataset_export_create(project=project, format=format, **arguments)
    )
    assert export.status == DatasetExport.Status.DONE, export.error
    return export


def rows_of(export: DatasetExport, split: str | None = None) -> list[dict]:
    """The rows of one split, or of all splits in split order."""
    splits = [split] if split else ["train", "validation", "test"]
    rows = []
    for name in splits:
        path = Path(export.path) / f"{name}.jsonl"
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows


def texts_of(row: dict, column: str) -> str:
    """A conversational column's content, or the plain string."""
    value = row[column]
    return value[0]["content"] if isinstance(value, list) else value
