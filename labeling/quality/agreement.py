"""Inter-annotator agreement over judgements of the same prompts.

Krippendorff's alpha (ordinal) treats every annotator as a coder and every judged thing as a
unit: a (prompt, completion) for rankings (its rank position, ties sharing the mean rank), a
(prompt, completion, dimension) for Likert ratings (1-5), and a (prompt, pair of completions)
for comparisons (-1, 0, +1). Only units two or more annotators valued count. Kendall's tau
(tau-b, ties allowed) compares two annotators' rankings of the prompts both ranked.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import NamedTuple

import krippendorff
import numpy as np

from labeling.kinds import Figure, agreement_kinds
from labeling.models.judgement import LIKERT_FIELDS as LIKERT_DIMENSIONS


class JudgementRow(NamedTuple):
    """The fields of one judgement that agreement needs."""

    annotator_id: int
    prompt_id: int
    kind: str  # a judgement kind (labeling.kinds: which figure it counts towards)
    ranking: list[list[int]] | None = None
    choice: str = ""
    left: int | None = None
    right: int | None = None
    ratings: dict | None = None
    created_at: datetime | None = None


class Value(NamedTuple):
    """One annotator's value for one unit."""

    annotator_id: int
    unit: tuple
    value: float


@dataclass(frozen=True)
class Alpha:
    alpha: float | None  # None: undefined (no pairable unit, or a single value overall)
    units: int  # units valued by two or more annotators
    values: int  # values in those units
    annotators: int


@dataclass(frozen=True)
class Tau:
    tau: float | None  # mean over co-ranked prompts; None when none gave a defined tau
    items: int  # co-ranked prompts with a defined tau


def rank_positions(ranking: list[list[int]]) -> dict[int, float]:
    """Rank of each completion (1 = best); a tie group shares the mean of its ranks."""
    positions, start = {}, 1
    for group in ranking:
        mean = start + (len(group) - 1) / 2
        for completion_id in group:
            positions[completion_id] = mean
        start += len(group)
    return positions


def ranking_values(rows: Iterable[JudgementRow]) -> list[Value]:
    return [
        Value(row.annotator_id, (row.prompt_id, completion_id), position)
        for row in rows
        if row.kind in agreement_kinds(Figure.RANKING) and row.ranking
        for completion_id, position in rank_positions(row.ranking).items()
    ]


def likert_values(rows: Iterable[JudgementRow]) -> list[Value]:
    values = []
    for row in rows:
        if row.kind not in agreement_kinds(Figure.LIKERT) or not row.ratings:
            continue
        for key, rating in row.ratings.items():
            for dimension in LIKERT_DIMENSIONS:
                score = (rating or {}).get(dimension)
                if isinstance(score, int | float):
                    unit = (row.prompt_id, int(key), dimension)
                    values.append(Value(row.annotator_id, unit, float(score)))
    return values


def compare_values(rows: Iterable[JudgementRow]) -> list[Value]:
    """+1: the lower completion id won, -1: the higher, 0: tie (both_bad gives no value)."""
    values = []
    for row in rows:
        if row.kind not in agreement_kinds(Figure.COMPARE) or row.left is None or row.right is None:
            continue
        if row.choice == "tie":
            score = 0.0
        elif row.choice in ("a", "b"):
            winner = row.left if row.choice == "a" else row.right
            score = 1.0 if winner == min(row.left, row.right) else -1.0
        else:
            continue
        unit = (row.prompt_id, min(row.left, row.right), max(row.left, row.right))
        values.append(Value(row.annotator_id, unit, score))
    return values


def krippendorff_alpha(values: Iterable[Value], *, level: str = "ordinal") -> Alpha:
    """Alpha over the units two or more annotators valued (an annotator's repeat: last wins)."""
    by_unit: dict[tuple, dict[int, float]] = defaultdict(dict)
    for value in values:
        by_unit[value.unit][value.annotator_id] = value.value
    units = [unit for unit, coded in by_unit.items() if len(coded) >= 2]
    annotators = sorted({a for unit in units for a in by_unit[unit]})
    count = sum(len(by_unit[unit]) for unit in units)
    distinct = {v for unit in units for v in by_unit[unit].values()}
    if not units or len(distinct) < 2:
        return Alpha(None, len(units), count, len(annotators))
    row_of = {annotator: position for position, annotator in enumerate(annotators)}
    matrix = np.full((len(annotators), len(units)), np.nan)
    for column, unit in enumerate(units):
        for annotator, value in by_unit[unit].items():
            matrix[row_of[annotator], column] = value
    alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    return Alpha(float(alpha), len(units), count, len(annotators))


def alpha_without(values: list[Value], annotator_id: int, *, level: str = "ordinal") -> Alpha:
    """Alpha with one annotator's values left out: the overall alpha minus it is their
    contribution (negative: agreement rises without them)."""
    return krippendorff_alpha([v for v in values if v.annotator_id != annotator_id], level=level)


def pairwise_tau(rows: Iterable[JudgementRow]) -> dict[tuple[int, int], Tau]:
    """Kendall's tau-b between every two annotators who ranked the same prompts: per prompt
    over the completions both ranked, then the mean over prompts."""
    rankings: dict[int, dict[int, dict[int, float]]] = defaultdict(dict)  # prompt -> annotator
    for row in rows:
        if row.kind in agreement_kinds(Figure.RANKING) and row.ranking:
            rankings[row.prompt_id][row.annotator_id] = rank_positions(row.ranking)
    taus: dict[tuple[int, int], list[float]] = defaultdict(list)
    for by_annotator in rankings.values():
        for first, second in combinations(sorted(by_annotator), 2):
            tau = ranking_tau(by_annotator[first], by_annotator[second])
            taus.setdefault((first, second), [])
            if tau is not None:
                taus[first, second].append(tau)
    return {
        pair: Tau(sum(values) / len(values) if values else None, len(values))
        for pair, values in taus.items()
    }


def ranking_tau(first: dict[int, float], second: dict[int, float]) -> float | None:
    """Tau-b of two rank-position maps over their common completions; None when undefined."""
    common = sorted(set(first) & set(second))
    if len(common) < 2:
        return None
    from scipy.stats import kendalltau  # scipy.stats costs ~70 MB: only where tau is asked for

    tau = kendalltau([first[c] for c in common], [second[c] for c in common]).statistic
    return None if np.isnan(tau) else float(tau)


def mean_tau_of(taus: dict[tuple[int, int], Tau], annotator_id: int) -> Tau:
    """An annotator's mean tau against the others, weighted by co-ranked prompts."""
    total = items = 0
    for pair, figure in taus.items():
        if annotator_id in pair and figure.tau is not None:
            total += figure.tau * figure.items
            items += figure.items
    return Tau(total / items if items else None, items)


@dataclass(frozen=True)
class Share:
    """How often an annotator's order of two completions matched another annotator's."""

    agreed: int
    compared: int  # (pair, other annotator) couples where both gave an order

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def pair_orders(rows: Iterable[JudgementRow]) -> list[Value]:
    """Each judgement's order of two completions of a prompt, unit (prompt, lower id, higher
    id): +1 the lower id was preferred, -1 the higher, 0 tie. A ranking gives every pair it
    ranks, a comparison its pair (both_bad gives none)."""
    rows = list(rows)
    values = compare_values(rows)
    for row in rows:
        if row.kind not in agreement_kinds(Figure.RANKING) or not row.ranking:
            continue
        positions = rank_positions(row.ranking)
        for low, high in combinations(sorted(positions), 2):
            order = float(np.sign(positions[high] - positions[low]))
            values.append(Value(row.annotator_id, (row.prompt_id, low, high), order))
    return values


def agreement_with_others(values: Iterable[Value]) -> dict[int, Share]:
    """Per annotator: of the pairs another annotator ordered too, how often they ordered them
    alike (each other annotator counts once per pair; an annotator's repeat: last wins)."""
    by_unit: dict[tuple, dict[int, float]] = defaultdict(dict)
    for value in values:
        by_unit[value.unit][value.annotator_id] = value.value
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for coded in by_unit.values():
        for annotator, order in coded.items():
            for other, other_order in coded.items():
                if other != annotator:
                    tally[annotator][0] += int(order == other_order)
                    tally[annotator][1] += 1
    return {annotator: Share(agreed, compared) for annotator, (agreed, compared) in tally.items()}
