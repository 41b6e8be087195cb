"""Taking back a continue task: the user's next message after the shown assistant turn
becomes a new prompt, the conversation one exchange longer (check, then do, as submit.py).

The new prompt records where it came from in its metadata (`continued_from`: the prompt,
`completion`: the assistant turn it follows, `assignment`: the task), so a repeated
submission of the same task finds it instead of making a second one.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.db import sqlite_lock_retried
from labeling.kinds import PromptKind, kind_of
from labeling.models import Assignment, Completion, Prompt
from labeling.services.judgement_payloads import time_spent_clean
from labeling.services.prompts import prompt_create
from labeling.services.queue.checks import (
    assignment_check_open,
    assignment_finish,
    assignment_for_submission,
)
from labeling.services.queue.refusals import refused_submitted, refused_wrong_submission
from training.engine.prompts import ASSISTANT, USER, user_content

SOURCE = "continued"


@dataclass(frozen=True)
class OpenContinuation:
    """A continuation checked against its task, ready to be recorded."""

    assignment: Assignment
    annotator: AbstractBaseUser
    turn: str
    history: list[dict[str, str]]
    completion: Completion
    time_spent_ms: int
    now: datetime


@sqlite_lock_retried
@transaction.atomic
def continuation_submit(
    *, token: str | uuid.UUID, annotator: AbstractBaseUser, turn: str, time_spent_ms: int
) -> Prompt:
    """Record the user's next message of a continue task as a new prompt; a repeated
    submission returns the prompt already made. Raises ValidationError (on `turn`) or
    SubmissionRefused as the other submissions do."""
    checked = continuation_submit_check(
        token=token, annotator=annotator, turn=turn, time_spent_ms=time_spent_ms
    )
    if isinstance(checked, Prompt):
        return checked
    return continuation_submit_do(submission=checked)


def continuation_submit_check(
    *, token: str | uuid.UUID, annotator: AbstractBaseUser, turn: str, time_spent_ms: int
) -> OpenContinuation | Prompt:
    assignment = assignment_for_submission(token=token, annotator=annotator)
    if assignment.status == Assignment.Status.SUBMITTED:
        made = Prompt.objects.filter(
            project_id=assignment.project_id, metadata__assignment=assignment.pk
        ).first()
        if made is None:
            raise refused_submitted()
        return made
    if not isinstance(kind_of(assignment.kind), PromptKind):
        raise refused_wrong_submission(takes_judgement=bool(assignment.completion_ids))
    now = timezone.now()
    assignment_check_open(assignment=assignment)
    turn = (turn or "").strip()
    if not turn:
        raise ValidationError({"turn": gettext_lazy("Write the user's next message.")})
    prompt = assignment.prompt
    completion = Completion.objects.get(pk=assignment.completion_ids[0])
    history = [
        *prompt.history,
        {"role": USER, "content": user_content(prompt.instruction, prompt.input)},
        {"role": ASSISTANT, "content": completion.text},
    ]
    return OpenContinuation(
        assignment=assignment,
        annotator=annotator,
        turn=turn,
        history=history,
        completion=completion,
        time_spent_ms=time_spent_clean(time_spent_ms),
        now=now,
    )


def continuation_submit_do(*, submission: OpenContinuation) -> Prompt:
    assignment = submission.assignment
    try:
        prompt = prompt_create(
            project=assignment.project,
            instruction=submission.turn,
            history=submission.history,
            category=assignment.prompt.category,
            language=assignment.prompt.language,
            source=SOURCE,
            metadata={
                "continued_from": assignment.prompt_id,
                "completion": submission.completion.pk,
                "assignment": assignment.pk,
                "author": submission.annotator.pk,
            },
        )
    except ValidationError as error:  # the same message after the same turns is a duplicate
        if "instruction" in error.message_dict:
            raise ValidationError(
                {"turn": gettext_lazy("Someone already continued this conversation this way.")}
            ) from None
        raise
    assignment_finish(
        assignment=assignment, now=submission.now, time_spent_ms=submission.time_spent_ms
    )
    return prompt
