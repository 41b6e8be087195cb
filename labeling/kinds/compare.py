"""Compare: two completions side by side (A left, B right): which is better, a tie, or both bad.

Its choices give preference pairs and votes between model versions, the compare agreement,
and the head to head: a share of its tasks puts the live version beside the one it replaced.
A gold verdict naming the best completion, or a choice by completion id, scores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import CompareForm
from labeling.kinds.base import TEMPLATES, Figure, JudgementKind, Shows
from labeling.models import Judgement, TaskKind

if TYPE_CHECKING:
    from labeling.quality.agreement import JudgementRow

# Choices that name no winner.
NO_WINNER = (Judgement.Choice.TIE, Judgement.Choice.BOTH_BAD)


def choice_clean(choice: str | None) -> str:
    """One of Judgement.Choice: a (left), b (right), tie, both_bad."""
    if choice not in Judgement.Choice.values:
        raise ValidationError({"choice": _("Choose A, B, tie or both bad.")})
    return choice


@dataclass(frozen=True, kw_only=True)
class Compare(JudgementKind):
    def verdict_clean(self, *, outcome, shown, ranking, choice, ratings) -> dict:
        if outcome == Judgement.Outcome.CHOICE:
            return {"choice": choice_clean(choice)}
        return {}

    def gold_correct(self, verdict: dict, row: JudgementRow) -> bool | None:
        """A best completion must be the one chosen (None when it was not shown); a choice
        verdict's a and b name the completions in id order (a: the lower id), as the sides
        shown are shuffled per task."""
        if row.left is None or row.right is None or not row.choice:
            return None
        best = verdict.get("best_completion")
        if best is not None:
            if best not in (row.left, row.right):
                return None
            if row.choice not in ("a", "b"):
                return False
            return (row.left if row.choice == "a" else row.right) == best
        expected = verdict.get("choice")
        if expected in NO_WINNER or row.choice in NO_WINNER:
            return row.choice == expected
        winner = row.left if row.choice == "a" else row.right
        lower = min(row.left, row.right)
        return (winner == lower) == (expected == "a")


KIND = Compare(
    value=TaskKind.COMPARE,
    badge=_("Compare"),
    shows=Shows.PAIR,
    form=CompareForm,
    template=TEMPLATES + "compare.html",
    hints_template=TEMPLATES + "compare_hints.html",
    outcomes=(Judgement.Outcome.CHOICE, Judgement.Outcome.CANNOT_JUDGE),
    gold_verdicts=("best_completion", "choice"),
    head_to_head=True,
    gives_preferences=True,
    agreement=Figure.COMPARE,
)
