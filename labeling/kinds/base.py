"""What a task kind is: what its tasks show, what they record, how a submission is checked.

One module per kind (write, answer, rank, compare, rate, edit, continue) describes it over
this base, the way Django's session backends sit over sessions/backends/base.py;
labeling.kinds lists them. The queue, payload checks, gold, agreement, exports, the workspace
template, its form and its script read the kind instead of keeping their own sets of kind
names.

Checks here are pure functions over plain values (no ORM): each returns the cleaned value to
store or raises ValidationError keyed by the form field, with a message the workspace shows
as it is. Completions are named by their position as shown ("#2"), as the annotator saw them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from labeling.models import Demonstration, Judgement, TaskKind

if TYPE_CHECKING:
    from labeling.forms.workspace import TaskForm
    from labeling.quality.agreement import JudgementRow

TEMPLATES = "labeling/workspace/kinds/"
TEXT_HINTS = TEMPLATES + "text_hints.html"  # shortcuts of the kinds that are typed
# Outcomes that need a one-line reason from the annotator.
NEEDS_REASON = (Judgement.Outcome.NONE_ACCEPTABLE, Judgement.Outcome.CANNOT_JUDGE)


class Shows(enum.Enum):
    """Which of the live version's completions a task shows."""

    NOTHING = "nothing"  # none: the annotator writes
    ONE = "one"  # one of the prompt's n, drawn at random
    PAIR = "pair"  # two, on random sides (left, right)
    ALL = "all"  # all n, in random order


class Records(enum.Enum):
    """What a submission of the kind stores."""

    JUDGEMENT = "judgement"
    DEMONSTRATION = "demonstration"
    PROMPT = "prompt"  # a new prompt: the conversation continued by the annotator's turn


class Figure(enum.StrEnum):
    """The agreement figure a kind's judgements give (labeling.quality.agreement)."""

    RANKING = "ranking"
    LIKERT = "likert"
    COMPARE = "compare"


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One task kind. Subclasses (JudgementKind, DemonstrationKind) say what it records."""

    records: ClassVar[Records]

    value: TaskKind
    badge: str  # the short name on the task's badge (a lazy translation)
    shows: Shows
    form: type[TaskForm]  # reads the workspace's POST into the submission's arguments
    template: str  # the partial of the workspace's task fragment
    hints_template: str = TEXT_HINTS  # its shortcuts, in the hint bar under the task
    queued: bool = True  # False: every task is a new one (write), no queue item to share
    activity: str = ""  # how the queue's notice names tasks that need no model ("writing")
    # judgements
    outcomes: tuple[str, ...] = ()  # Judgement.Outcome values; the first is the default
    gold_verdicts: tuple[str, ...] = ()  # verdict keys that can score it (empty: no gold)
    head_to_head: bool = False  # a task may put the live version beside the one it replaced
    gives_preferences: bool = False  # its judgements give (chosen, rejected) pairs and votes
    gives_kto: bool = False  # its judgements give KTO rows (labels per completion)
    agreement: Figure | None = None
    # demonstrations
    origin: str = ""  # Demonstration.Origin of what it makes
    writes_prompt: bool = False  # the annotator writes the instruction too
    revises_completion: bool = False  # the output is the shown completion, fixed
    skip_if_demonstrated: bool = False  # not given to whoever demonstrated the prompt already

    def __str__(self) -> str:
        return self.value

    @property
    def shows_completions(self) -> bool:
        return self.shows is not Shows.NOTHING

    @property
    def takes_gold(self) -> bool:
        return bool(self.gold_verdicts)

    @property
    def submit_key(self) -> str:
        """The key that submits: Enter, or Ctrl+Enter where the answer is typed."""
        return "Ctrl+Enter" if self.records is Records.DEMONSTRATION else "Enter"

    def completions_needed(self, *, per_prompt: int) -> int:
        """Completions of the live version a prompt needs before a task of this kind."""
        if self.shows is Shows.PAIR:
            return 2
        return per_prompt if self.shows_completions else 0

    def gold_correct(self, verdict: dict, row: JudgementRow) -> bool | None:
        """Whether a judgement of this kind agrees with a gold verdict; None: cannot say."""
        return None


@dataclass(frozen=True, kw_only=True)
class JudgementKind(Kind):
    """A kind whose tasks record a Judgement of the shown completions."""

    records: ClassVar[Records] = Records.JUDGEMENT

    def payload_clean(
        self,
        *,
        shown: list[int],
        outcome: str | None,
        ranking,
        choice: str | None,
        ratings,
        reason: str,
    ) -> dict:
        """The Judgement fields (outcome, ranking, choice, ratings, reason) to store."""
        reason = (reason or "").strip()
        outcome = self.outcome_clean(outcome=outcome, reason=reason)
        fields = {"outcome": outcome, "ranking": None, "choice": "", "ratings": None}
        fields["reason"] = reason
        fields.update(
            self.verdict_clean(
                outcome=outcome, shown=shown, ranking=ranking, choice=choice, ratings=ratings
            )
        )
        return fields

    def outcome_clean(self, *, outcome: str | None, reason: str) -> str:
        """The outcome for this kind (its default when None); some need a reason."""
        outcome = outcome or self.outcomes[0]
        if outcome not in self.outcomes:
            names = ", ".join(str(Judgement.Outcome(value).label) for value in self.outcomes)
            message = _("For this task the outcome is one of: %(names)s.")
            raise ValidationError({"outcome": message % {"names": names}})
        if outcome in NEEDS_REASON and not reason.strip():
            label = Judgement.Outcome(outcome).label
            message = _("Say briefly why you chose “%(label)s”.")
            raise ValidationError({"reason": message % {"label": label}})
        return outcome

    def verdict_clean(self, *, outcome: str, shown: list[int], ranking, choice, ratings) -> dict:
        """The fields the kind's own verdict fills (ranking, choice or ratings) for `outcome`;
        none for outcomes that carry only a reason."""
        return {}


@dataclass(frozen=True, kw_only=True)
class DemonstrationKind(Kind):
    """A kind whose tasks record a Demonstration (the annotator's ideal answer)."""

    records: ClassVar[Records] = Records.DEMONSTRATION
    origin: str = Demonstration.Origin.ANSWERED


@dataclass(frozen=True, kw_only=True)
class PromptKind(Kind):
    """A kind whose tasks record a new prompt (labeling.kinds.continuation)."""

    records: ClassVar[Records] = Records.PROMPT

    @property
    def submit_key(self) -> str:
        return "Ctrl+Enter"


def positions_label(ids, shown: list[int]) -> str:
    """'#1, #3': positions as shown, the way the annotator knows the completions."""
    return ", ".join(f"#{shown.index(pk) + 1}" for pk in sorted(ids, key=shown.index))


def as_id(value) -> int:
    """An int from an int or a numeric string (form values); True/False are not ids."""
    if isinstance(value, bool):
        raise ValueError(value)
    return int(value)
