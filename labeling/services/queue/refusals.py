"""Why the queue refuses a submission or a skip: one message for the annotator and one code
for code (core.refusals) per reason."""

from django.utils.translation import gettext_lazy

from core.refusals import Refusal, RefusalCode

# Lazy: each is translated into the language of the request that shows it (page or API).
MSG_UNKNOWN = gettext_lazy("This task is not known (it may have been removed). Take the next task.")
MSG_NOT_YOURS = gettext_lazy("This task was given to another annotator.")
MSG_SKIPPED = gettext_lazy(
    "You skipped this task, so it cannot be submitted any more. Take the next task."
)
MSG_SUBMITTED = gettext_lazy("This task was already submitted.")
MSG_SLOT_TAKEN = gettext_lazy(
    "Your time on this task ran out and another annotator has taken it, so your answer "
    "was not saved. Take the next task."
)
MSG_CHANGED = gettext_lazy(
    "The model's completions for this prompt changed after the task was shown, so your "
    "answer was not saved. Take the next task."
)
MSG_TAKES_JUDGEMENT = gettext_lazy(
    "This task asks for a judgement of the completions, not a written answer."
)
MSG_TAKES_DEMONSTRATION = gettext_lazy("This task asks for a written answer, not a judgement.")
MSG_EXPIRED = gettext_lazy(
    "Your time on this task ran out and it went back to the queue, so it cannot be held for "
    "you any more. Submit it now (it is saved if nobody else has taken it) or take the next task."
)


class SubmissionRefused(Refusal):
    """A submission that no longer matches its task; `message` is for the annotator."""

    def __init__(self, message: str, *, code: RefusalCode):
        """`message` is shown to the annotator as it is; a lazy translation (the MSG_
        constants) is rendered in the language of the request that shows it."""
        super().__init__(message, code=code)


def refused_unknown() -> SubmissionRefused:
    return SubmissionRefused(MSG_UNKNOWN, code=RefusalCode.UNKNOWN_TASK)


def refused_not_yours() -> SubmissionRefused:
    return SubmissionRefused(MSG_NOT_YOURS, code=RefusalCode.NOT_YOURS)


def refused_skipped() -> SubmissionRefused:
    return SubmissionRefused(MSG_SKIPPED, code=RefusalCode.TASK_SKIPPED)


def refused_submitted() -> SubmissionRefused:
    return SubmissionRefused(MSG_SUBMITTED, code=RefusalCode.ALREADY_SUBMITTED)


def refused_slot_taken() -> SubmissionRefused:
    return SubmissionRefused(MSG_SLOT_TAKEN, code=RefusalCode.SLOT_TAKEN)


def refused_changed() -> SubmissionRefused:
    return SubmissionRefused(MSG_CHANGED, code=RefusalCode.TASK_CHANGED)


def refused_wrong_submission(*, takes_judgement: bool) -> SubmissionRefused:
    """A judgement sent for a writing task, or a written answer for a judging one."""
    message = MSG_TAKES_JUDGEMENT if takes_judgement else MSG_TAKES_DEMONSTRATION
    return SubmissionRefused(message, code=RefusalCode.WRONG_SUBMISSION)


def refused_expired() -> SubmissionRefused:
    return SubmissionRefused(MSG_EXPIRED, code=RefusalCode.TASK_EXPIRED)
