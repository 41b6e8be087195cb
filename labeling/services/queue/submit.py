"""Taking submissions and skips back: check, then do (as Zulip's check_add_reaction and
do_add_reaction).

A check reads the task's assignment row-locked, refuses what no longer matches the task
(SubmissionRefused) or what the annotator must fix (ValidationError, keyed by field), and
returns a typed open submission; the do step only writes it. Both run in one transaction
(the submit functions below hold it), so the row lock of the check covers the write, and a
slot the check retook after an unnoticed expiry goes back if anything after it fails.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.db import sqlite_lock_retried
from labeling.kinds import DemonstrationKind, JudgementKind, kind_of
from labeling.models import Assignment, Completion, Demonstration, Judgement, QueueItem
from labeling.provenance import completion_provenance
from labeling.services.judgement_payloads import time_spent_clean
from labeling.services.queue.checks import (
    assignment_check_open,
    assignment_finish,
    assignment_for_submission,
    written_prompt_check,
    written_prompt_create,
)
from labeling.services.queue.refusals import refused_submitted, refused_wrong_submission


@dataclass(frozen=True)
class OpenJudgement:
    """A judgement checked against its task, ready to be recorded."""

    assignment: Assignment  # row-locked, the annotator's, open
    annotator: AbstractBaseUser
    fields: dict  # the Judgement's verdict fields, as the kind's payload check cleaned them
    time_spent_ms: int
    now: datetime


@dataclass(frozen=True)
class OpenDemonstration:
    """A demonstration checked against its task, ready to be recorded."""

    assignment: Assignment
    annotator: AbstractBaseUser
    kind: DemonstrationKind
    output: str
    written_prompt: dict | None  # write: instruction, input, category of the new prompt
    source_completion: Completion | None  # edit: the completion the output fixes
    time_spent_ms: int
    now: datetime


# --- judgements ------------------------------------------------------------------------


@sqlite_lock_retried
@transaction.atomic
def judgement_submit(
    *,
    token: str | uuid.UUID,
    annotator: AbstractBaseUser,
    ranking: list | None = None,
    outcome: str | None = None,
    choice: str | None = None,
    ratings: dict | None = None,
    reason: str = "",
    time_spent_ms: int,
) -> Judgement:
    """Record the judgement of a rank, compare or rate task.

    rank: `ranking` as tie groups of completion ids best first ([[5], [7, 8], [6]]), or
    outcome "none_acceptable" / "cannot_judge" with a `reason`. compare: `choice` a (left),
    b (right), tie or both_bad. rate: `ratings` {completion id: {"thumb": "up"|"down",
    "helpful"/"honest"/"harmless": 1-5 (optional), "flags": [Judgement.Flag values]}}.
    A repeated submission of the same token returns the judgement already recorded.
    Raises ValidationError (keyed by field) for a payload to fix, SubmissionRefused when the
    submission no longer matches its task.
    """
    checked = judgement_submit_check(
        token=token,
        annotator=annotator,
        ranking=ranking,
        outcome=outcome,
        choice=choice,
        ratings=ratings,
        reason=reason,
        time_spent_ms=time_spent_ms,
    )
    if isinstance(checked, Judgement):
        return checked  # a repeat of a recorded submission
    return judgement_submit_do(submission=checked)


def judgement_submit_check(
    *,
    token: str | uuid.UUID,
    annotator: AbstractBaseUser,
    ranking: list | None,
    outcome: str | None,
    choice: str | None,
    ratings: dict | None,
    reason: str,
    time_spent_ms: int,
) -> OpenJudgement | Judgement:
    """The judgement to record, or the one already recorded for this token (a repeat)."""
    assignment = assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SUBMITTED:
        existing = Judgement.objects.filter(assignment=assignment).first()
        if existing is None:
            raise refused_submitted()
        return existing
    kind = kind_of(assignment.kind)
    if not isinstance(kind, JudgementKind):
        raise refused_wrong_submission(takes_judgement=False)
    now = timezone.now()
    assignment_check_open(assignment=assignment)
    fields = kind.payload_clean(
        shown=assignment.completion_ids,
        outcome=outcome,
        ranking=ranking,
        choice=choice,
        ratings=ratings,
        reason=reason,
    )
    return OpenJudgement(
        assignment=assignment,
        annotator=annotator,
        fields=fields,
        time_spent_ms=time_spent_clean(time_spent_ms),
        now=now,
    )


def judgement_submit_do(*, submission: OpenJudgement) -> Judgement:
    """Write the checked judgement and mark its task submitted (inside the check's
    transaction)."""
    assignment = submission.assignment
    try:
        with transaction.atomic():
            judgement = Judgement.objects.create(
                assignment=assignment,
                prompt_id=assignment.prompt_id,
                annotator=submission.annotator,
                kind=assignment.kind,
                left_completion_id=assignment.left_completion_id,
                right_completion_id=assignment.right_completion_id,
                time_spent_ms=submission.time_spent_ms,
                **submission.fields,
            )
    except IntegrityError:  # the same token, submitted twice at once
        existing = Judgement.objects.filter(assignment=assignment).first()
        if existing is None:
            raise
        return existing
    assignment_finish(
        assignment=assignment, now=submission.now, time_spent_ms=submission.time_spent_ms
    )
    return judgement


# --- demonstrations --------------------------------------------------------------------


@sqlite_lock_retried
@transaction.atomic
def demonstration_submit(
    *,
    token: str | uuid.UUID,
    annotator: AbstractBaseUser,
    output: str,
    instruction: str | None = None,
    input: str = "",
    category: str = "",
    time_spent_ms: int,
) -> Demonstration:
    """Record the demonstration of a write, answer or edit task.

    write: `instruction` (with optional `input`, `category`) becomes a new prompt of source
    "written". answer: the output for the task's prompt. edit: the fixed text of the shown
    completion, kept as its source_completion (the preference edited > original is derived
    from that, not stored). A repeated submission returns the demonstration already made.
    Raises ValidationError or SubmissionRefused as judgement_submit does.
    """
    checked = demonstration_submit_check(
        token=token,
        annotator=annotator,
        output=output,
        instruction=instruction,
        input=input,
        category=category,
        time_spent_ms=time_spent_ms,
    )
    if isinstance(checked, Demonstration):
        return checked  # a repeat of a recorded submission
    return demonstration_submit_do(submission=checked)


def demonstration_submit_check(
    *,
    token: str | uuid.UUID,
    annotator: AbstractBaseUser,
    output: str,
    instruction: str | None,
    input: str,
    category: str,
    time_spent_ms: int,
) -> OpenDemonstration | Demonstration:
    """The demonstration to record, or the one already made for this token (a repeat).
    instruction, input and category are read only by a kind that writes its prompt."""
    assignment = assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SUBMITTED:
        if assignment.demonstration_id is None:
            raise refused_submitted()
        return assignment.demonstration
    kind = kind_of(assignment.kind)
    if not isinstance(kind, DemonstrationKind):
        raise refused_wrong_submission(takes_judgement=True)
    now = timezone.now()
    assignment_check_open(assignment=assignment)
    if not (output or "").strip():
        raise ValidationError({"output": gettext_lazy("Write the output.")})
    time_spent_ms = time_spent_clean(time_spent_ms)
    written_prompt = (
        written_prompt_check(
            project=assignment.project, instruction=instruction, input=input, category=category
        )
        if kind.writes_prompt
        else None
    )
    source = _source_completion_check(assignment=assignment, output=output, kind=kind)
    return OpenDemonstration(
        assignment=assignment,
        annotator=annotator,
        kind=kind,
        output=output,
        written_prompt=written_prompt,
        source_completion=source,
        time_spent_ms=time_spent_ms,
        now=now,
    )


def _source_completion_check(
    *, assignment: Assignment, output: str, kind: DemonstrationKind
) -> Completion | None:
    """The completion an edit fixes; an unchanged text is refused."""
    if not kind.revises_completion:
        return None
    source = Completion.objects.get(pk=assignment.completion_ids[0])
    if output.strip() == source.text.strip():
        raise ValidationError(
            {"output": gettext_lazy("The text is unchanged. Fix the completion, or skip the task.")}
        )
    return source


def demonstration_submit_do(*, submission: OpenDemonstration) -> Demonstration:
    """Write the checked demonstration (and a write task's new prompt) and mark its task
    submitted (inside the check's transaction)."""
    assignment = submission.assignment
    prompt = (
        written_prompt_create(project=assignment.project, **submission.written_prompt)
        if submission.written_prompt is not None
        else assignment.prompt
    )
    demonstration = Demonstration(
        prompt=prompt,
        output=submission.output,
        origin=submission.kind.origin,
        author=submission.annotator,
        source_completion=submission.source_completion,
        **completion_provenance(completion=submission.source_completion, output=submission.output),
    )
    # The related objects are the ones just read; checking that they exist costs queries.
    demonstration.full_clean(exclude=["prompt", "author", "source_completion"])
    demonstration.save()
    assignment.prompt = prompt
    assignment.demonstration = demonstration
    assignment_finish(
        assignment=assignment,
        now=submission.now,
        time_spent_ms=submission.time_spent_ms,
        fields=["prompt", "demonstration"],
    )
    return demonstration


# --- skips -----------------------------------------------------------------------------


@sqlite_lock_retried
@transaction.atomic
def task_skip(*, token: str | uuid.UUID, annotator: AbstractBaseUser, reason: str) -> None:
    """Give the task back with a reason; its slot goes to someone else, never to this
    annotator again. Skipping twice is harmless; skipping a submitted task is refused."""
    assignment = assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SKIPPED:
        return
    if assignment.status == Assignment.Status.SUBMITTED:
        raise refused_submitted()
    held = assignment.status in (Assignment.Status.ACTIVE, Assignment.Status.PRELOADED)
    if held and assignment.item_id is not None:
        QueueItem.objects.filter(pk=assignment.item_id, taken__gt=0).update(taken=F("taken") - 1)
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = (reason or "").strip()
    assignment.save(update_fields=["status", "skip_reason"])
