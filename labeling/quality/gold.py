"""Gold items: prompts with an expected verdict, and whether a judgement matches it.

A verdict is {"kind": "rank", "best_completion": id}: right when that completion is in the
annotator's top tie group (ranking) or wins the comparison; or {"kind": "compare", "choice":
"a" | "b" | "tie" | "both_bad"}: a and b name the completions in id order (a: the lower id), as
the sides shown are shuffled per task. Which kinds take verdicts, which verdict keys score
them and how, the kinds say (Kind.gold_verdicts, Kind.gold_correct in labeling.kinds).
"""

from django.utils.translation import gettext as _

from labeling.kinds import KINDS, gold_kinds
from labeling.quality.agreement import JudgementRow

CHOICES = ("a", "b", "tie", "both_bad")


def verdict_errors(verdict) -> list[str]:
    """What is wrong with a gold verdict (an empty list: it is valid)."""
    kinds = gold_kinds()
    if not isinstance(verdict, dict) or verdict.get("kind") not in kinds:
        named = " or ".join(f'"{kind}"' for kind in kinds)
        return [_('A verdict is an object with "kind": %(kinds)s.') % {"kinds": named}]
    if "best_completion" in verdict:
        if not isinstance(verdict["best_completion"], int):
            return [_('"best_completion" must be a completion id.')]
        return []
    by_choice = "choice" in KINDS[verdict["kind"]].gold_verdicts
    if by_choice and verdict.get("choice") in CHOICES:
        return []
    return [_('Give "best_completion" (an id), or for compare "choice": a, b, tie or both_bad.')]


def gold_correct(verdict: dict, row: JudgementRow) -> bool | None:
    """Whether the judgement agrees with the verdict; None when it cannot say (a kind
    without gold, or the verdict's completion was not shown)."""
    kind = KINDS.get(row.kind)
    return kind.gold_correct(verdict, row) if kind is not None else None
