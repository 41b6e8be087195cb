"""Rank: every completion of a prompt, put in order best first (ties allowed).

Its judgements give preference pairs (every better over every worse), votes between model
versions, KTO rows when asked (top and bottom), the ranking agreement and Kendall's tau, and
a gold verdict naming the best completion scores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import RankForm
from labeling.kinds.base import TEMPLATES, Figure, JudgementKind, Shows, as_id, positions_label
from labeling.models import Judgement, TaskKind

if TYPE_CHECKING:
    from labeling.quality.agreement import JudgementRow


def ranking_clean(ranking, *, shown: list[int]) -> list[list[int]]:
    """Tie groups of completion ids, best first; every shown completion exactly once.

    A bare id stands for a group of one: [5, [7, 8], 6] is [[5], [7, 8], [6]].
    """
    if not isinstance(ranking, list | tuple) or not ranking:
        raise ValidationError({"ranking": _("Rank the completions from best to worst.")})
    groups: list[list[int]] = []
    try:
        for group in ranking:
            members = group if isinstance(group, list | tuple) else [group]
            if members:
                groups.append([as_id(pk) for pk in members])
    except (TypeError, ValueError):
        message = _("The ranking is malformed; reload the task.")
        raise ValidationError({"ranking": message}) from None
    ranked = [pk for group in groups for pk in group]
    unknown = set(ranked) - set(shown)
    if unknown:
        raise ValidationError(
            {"ranking": _("The ranking names completions this task does not show; reload it.")}
        )
    twice = {pk for pk in ranked if ranked.count(pk) > 1}
    if twice:
        labels = positions_label(twice, shown)
        message = _("Each completion goes in one place only; ranked twice: %(labels)s.")
        raise ValidationError({"ranking": message % {"labels": labels}})
    missing = set(shown) - set(ranked)
    if missing:
        labels = positions_label(missing, shown)
        message = _("Rank every completion; not ranked yet: %(labels)s.")
        raise ValidationError({"ranking": message % {"labels": labels}})
    return groups


@dataclass(frozen=True, kw_only=True)
class Rank(JudgementKind):
    def verdict_clean(self, *, outcome, shown, ranking, choice, ratings) -> dict:
        if outcome == Judgement.Outcome.RANKED:
            return {"ranking": ranking_clean(ranking, shown=shown)}
        return {}

    def gold_correct(self, verdict: dict, row: JudgementRow) -> bool | None:
        """Right when the verdict's best completion is in the top tie group."""
        best = verdict.get("best_completion")
        if not row.ranking or best is None:
            return None
        shown = {c for group in row.ranking for c in group}
        return best in row.ranking[0] if best in shown else None


KIND = Rank(
    value=TaskKind.RANK,
    badge=_("Rank"),
    shows=Shows.ALL,
    form=RankForm,
    template=TEMPLATES + "rank.html",
    hints_template=TEMPLATES + "rank_hints.html",
    outcomes=(
        Judgement.Outcome.RANKED,
        Judgement.Outcome.NONE_ACCEPTABLE,
        Judgement.Outcome.CANNOT_JUDGE,
    ),
    gold_verdicts=("best_completion",),
    gives_preferences=True,
    gives_kto=True,
    agreement=Figure.RANKING,
)
