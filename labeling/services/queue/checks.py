"""The checks a submission or skip shares: whose task it is, whether it is still open, and
what a write task's new prompt must be."""

import uuid
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils.translation import gettext_lazy

from labeling.models import Assignment, Completion, Project, Prompt, QueueItem
from labeling.selectors.queue import gold_items
from labeling.services.prompts import prompt_create, prompt_dedupe_key
from labeling.services.queue.refusals import (
    refused_changed,
    refused_not_yours,
    refused_skipped,
    refused_slot_taken,
    refused_unknown,
)


def assignment_for_submission(*, token: str | uuid.UUID, annotator: AbstractBaseUser) -> Assignment:
    """The token's assignment, row-locked so a second submission of it waits for the first."""
    try:
        token = token if isinstance(token, uuid.UUID) else uuid.UUID(str(token))
    except ValueError:
        raise refused_unknown() from None
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(token=token)
        .first()
    )
    if assignment is None:
        raise refused_unknown()
    if assignment.annotator_id != annotator.pk:
        raise refused_not_yours()
    return assignment


def assignment_check_open(*, assignment: Assignment) -> None:
    """Refuse a submission whose task is gone; take the slot back after an unnoticed expiry.

    An assignment still active keeps its slot even past its lock (nobody has released it);
    a released one may submit only if a slot of its item is still free (retaking it is the
    check: a conditional UPDATE, undone with the transaction if the submission fails later).
    """
    if assignment.status == Assignment.Status.SKIPPED:
        raise refused_skipped()
    _completions_check(assignment=assignment)
    released = assignment.status == Assignment.Status.EXPIRED and assignment.item_id is not None
    if released and not _slot_retake(assignment=assignment):
        raise refused_slot_taken()


def _slot_retake(*, assignment: Assignment) -> bool:
    """Take a slot of the released assignment's item again: one below the overlap, or any
    slot of a gold item (every annotator gets those once, past the overlap)."""
    project = assignment.project
    slot = QueueItem.objects.filter(pk=assignment.item_id)
    if slot.filter(taken__lt=project.overlap).update(taken=F("taken") + 1):
        return True
    version_id = slot.values_list("model_version_id", flat=True).first()
    gold = gold_items(project=project, kind=assignment.kind, version=version_id)
    return bool(gold.filter(pk=assignment.item_id).update(taken=F("taken") + 1))


def _completions_check(*, assignment: Assignment) -> None:
    """Refuse when a completion shown in the task no longer exists as it was."""
    shown = assignment.completion_ids
    if not shown:
        return
    present = Completion.objects.filter(pk__in=shown, prompt_id=assignment.prompt_id).count()
    if present != len(set(shown)):
        raise refused_changed()


def assignment_finish(
    *,
    assignment: Assignment,
    now: datetime,
    time_spent_ms: int,
    fields: list[str] | None = None,
) -> None:
    """Mark the assignment submitted (it keeps its slot: submitted work counts as taken)."""
    assignment.status = Assignment.Status.SUBMITTED
    assignment.submitted_at = now
    assignment.time_spent_ms = time_spent_ms
    assignment.save(update_fields=["status", "submitted_at", "time_spent_ms", *(fields or [])])


def written_prompt_check(
    *, project: Project, instruction: str | None, input: str, category: str
) -> dict:
    """The fields of a write task's new prompt; a duplicate of one already in the project
    is refused."""
    instruction = (instruction or "").strip()
    if not instruction:
        raise ValidationError({"instruction": gettext_lazy("Write the instruction.")})
    key = prompt_dedupe_key(instruction=instruction, input=input)
    if Prompt.objects.filter(project=project, dedupe_key=key).exists():
        raise ValidationError(
            {
                "instruction": gettext_lazy(
                    "This instruction (with this input) is already in the project."
                )
            }
        )
    return {"instruction": instruction, "input": input, "category": category.strip()}


def written_prompt_create(
    *, project: Project, instruction: str, input: str, category: str
) -> Prompt:
    """The checked prompt of a write task, of source "written"."""
    return prompt_create(
        project=project, instruction=instruction, input=input, category=category, source="written"
    )
