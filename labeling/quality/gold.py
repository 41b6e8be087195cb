"""Gold items: prompts with an expected verdict, and whether a judgement matches it.

A verdict is {"kind": "rank", "best_completion": id}: right when that completion is in the
annotator's top tie group (ranking) or wins the comparison; or {"kind": "compare", "choice":
"a" | "b" | "tie" | "both_bad"}: a and b name the completions in id order (a: the lower id), as
the sides shown are shuffled per task.
"""

from labeling.quality.agreement import JudgementRow

VERDICT_KINDS = ("rank", "compare")
CHOICES = ("a", "b", "tie", "both_bad")


def verdict_errors(verdict) -> list[str]:
    """What is wrong with a gold verdict (an empty list: it is valid)."""
    if not isinstance(verdict, dict) or verdict.get("kind") not in VERDICT_KINDS:
        return ['A verdict is an object with "kind": "rank" or "compare".']
    if "best_completion" in verdict:
        if not isinstance(verdict["best_completion"], int):
            return ['"best_completion" must be a completion id.']
        return []
    if verdict["kind"] == "compare" and verdict.get("choice") in CHOICES:
        return []
    return ['Give "best_completion" (an id), or for compare "choice": a, b, tie or both_bad.']


def gold_correct(verdict: dict, row: JudgementRow) -> bool | None:
    """Whether the judgement agrees with the verdict; None when it cannot say (other kind,
    or the verdict's completion was not shown)."""
    best = verdict.get("best_completion")
    if row.kind == "rank" and row.ranking and best is not None:
        shown = {c for group in row.ranking for c in group}
        return best in row.ranking[0] if best in shown else None
    if row.kind != "compare" or row.left is None or row.right is None or not row.choice:
        return None
    if best is not None:
        if best not in (row.left, row.right) or row.choice not in ("a", "b"):
            return None if best not in (row.left, row.right) else False
        return (row.left if row.choice == "a" else row.right) == best
    expected = verdict.get("choice")
    if expected in ("tie", "both_bad") or row.choice in ("tie", "both_bad"):
        return row.choice == expected
    winner = row.left if row.choice == "a" else row.right
    lower = min(row.left, row.right)
    return (winner == lower) == (expected == "a")
