"""Training data derived from judgements: preference pairs, KTO labels, agreement (no Django).

The inputs are plain values read from the database, one prompt at a time:

- a ranking (tie groups of completion ids, best first) yields a vote for every ordered pair
  of completions in different groups: K completions without ties give K choose 2 votes, as
  in InstructGPT; completions in one tie group give none;
- a comparison yields one vote (a: left over right, b: right over left; tie and both_bad none);
- a rating yields one KTO label per completion (thumb up: desirable, down: undesirable), and
  "none acceptable" an undesirable label for every completion shown.

With several annotators per prompt, `Rule` decides how votes become pairs: every vote (`all`),
a majority vote per unordered pair of completions (`majority`; a tied vote gives no pair), or
the order of a Bradley-Terry fit over all the prompt's votes (`bradley_terry`; every pair of
completions the fitted order separates). KTO labels know `all` and `majority` (per completion);
`bradley_terry` takes the majority there, as a single label has no order to fit.

Agreement (used by the minimum-agreement filter and reported in the manifest) is a simple
per-prompt figure: over the prompt's pairs (KTO: completions) that got two or more votes, the
share of votes that side with the pair's majority (1.0: everyone agreed; 0.5: an even split).
A prompt without such a pair has no agreement figure. A later issue adds Krippendorff's alpha.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import NamedTuple


class Rule(StrEnum):
    ALL = "all"
    MAJORITY = "majority"
    BRADLEY_TERRY = "bradley_terry"


class Label(NamedTuple):
    """One judgement's verdict on one completion, for KTO."""

    completion_id: int
    desirable: bool
    judgement_id: int
    annotator_id: int


class Pair(NamedTuple):  # a tuple: a large export makes millions of them
    """A preference: completion `chosen` over `rejected`, and the judgements behind it. A vote
    is the pair one judgement gives (one judgement id, one annotator id)."""

    chosen: int
    rejected: int
    judgement_ids: tuple[int, ...]
    annotator_ids: tuple[int, ...]


Vote = Pair


class LabelRow(NamedTuple):
    """A KTO label of one completion, and the judgements behind it."""

    completion_id: int
    desirable: bool
    judgement_ids: tuple[int, ...]
    annotator_ids: tuple[int, ...]


@dataclass
class PromptPreferences:
    pairs: list[Pair] = field(default_factory=list)
    conflicts: int = 0  # unordered pairs of completions that annotators ordered both ways
    ties: int = 0  # pairs dropped because the vote (or the fitted strengths) came out even
    agreement: float | None = None


@dataclass
class PromptLabels:
    rows: list[LabelRow] = field(default_factory=list)
    conflicts: int = 0  # completions labelled desirable by some and undesirable by others
    ties: int = 0
    agreement: float | None = None


# --- votes and labels from one judgement ----------------------------------------------------


def ranking_votes(
    ranking: list[list[int]],
    *,
    judgement_id: int,
    annotator_id: int,
    allowed: Container[int] | None = None,
) -> list[Vote]:
    """Every ordered pair of completions in different tie groups, better first. Completions
    outside `allowed` (e.g. of a model version filtered out) are left out of the ranking."""
    groups = [[c for c in group if allowed is None or c in allowed] for group in ranking]
    groups = [group for group in groups if group]
    judgement_ids, annotator_ids = (judgement_id,), (annotator_id,)  # shared by its votes
    return [
        Vote(winner, loser, judgement_ids, annotator_ids)
        for position, better in enumerate(groups)
        for worse in groups[position + 1 :]
        for winner in better
        for loser in worse
    ]


def choice_votes(
    choice: str,
    *,
    left: int | None,
    right: int | None,
    judgement_id: int,
    annotator_id: int,
    allowed: Container[int] | None = None,
) -> list[Vote]:
    """a: left over right; b: right over left; tie and both_bad: no preference."""
    if left is None or right is None or choice not in ("a", "b"):
        return []
    if allowed is not None and not (left in allowed and right in allowed):
        return []
    winner, loser = (left, right) if choice == "a" else (right, left)
    return [Vote(winner, loser, (judgement_id,), (annotator_id,))]


def rating_labels(
    ratings: dict,
    *,
    judgement_id: int,
    annotator_id: int,
    allowed: Container[int] | None = None,
) -> list[Label]:
    """One label per rated completion with a thumb (keys are completion ids as strings)."""
    labels = []
    for key, rating in ratings.items():
        completion_id = int(key)
        thumb = (rating or {}).get("thumb")
        if thumb not in ("up", "down") or (allowed is not None and completion_id not in allowed):
            continue
        labels.append(Label(completion_id, thumb == "up", judgement_id, annotator_id))
    return labels


def none_acceptable_labels(
    shown: list[int],
    *,
    judgement_id: int,
    annotator_id: int,
    allowed: Container[int] | None = None,
) -> list[Label]:
    """ "None acceptable": every completion shown is an example of what not to say."""
    return [
        Label(completion_id, False, judgement_id, annotator_id)
        for completion_id in shown
        if allowed is None or completion_id in allowed
    ]


def ranking_extreme_labels(
    ranking: list[list[int]],
    *,
    judgement_id: int,
    annotator_id: int,
    allowed: Container[int] | None = None,
) -> list[Label]:
    """The top tie group desirable, the bottom one undesirable (a ranking of one group: none)."""
    groups = [[c for c in group if allowed is None or c in allowed] for group in ranking]
    groups = [group for group in groups if group]
    if len(groups) < 2:
        return []
    return [Label(c, True, judgement_id, annotator_id) for c in groups[0]] + [
        Label(c, False, judgement_id, annotator_id) for c in groups[-1]
    ]


# --- one prompt's votes become pairs ---------------------------------------------------------


def prompt_preferences(votes: list[Vote], rule: str) -> PromptPreferences:
    """The prompt's pairs by `rule`, with its conflicts, ties and agreement."""
    result = PromptPreferences()
    first = votes[0].judgement_ids if votes else None
    if any(vote.judgement_ids != first for vote in votes):  # one judgement cannot disagree
        tallies: dict[tuple[int, int], list[int]] = {}  # (low, high id) -> [low wins, high wins]
        for vote in votes:
            low, high = sorted(vote[:2])
            tally = tallies.get((low, high))
            if tally is None:
                tally = tallies[low, high] = [0, 0]
            tally[vote.chosen != low] += 1
        result.conflicts = sum(
            1 for low_wins, high_wins in tallies.values() if low_wins and high_wins
        )
        result.agreement = _agreement(tallies.values())
    if rule == Rule.ALL:
        result.pairs = list(votes)  # a vote is already a pair
    elif rule == Rule.MAJORITY:
        result.pairs, result.ties = _majority_pairs(_votes_by_pair(votes))
    elif rule == Rule.BRADLEY_TERRY:
        result.pairs, result.ties = _bradley_terry_pairs(votes)
    else:
        raise ValueError(f"unknown rule {rule!r}")
    return result


def _votes_by_pair(votes: Iterable[Vote]) -> dict[tuple[int, int], list[Vote]]:
    by_pair: dict[tuple[int, int], list[Vote]] = defaultdict(list)
    for vote in votes:
        by_pair[min(vote.chosen, vote.rejected), max(vote.chosen, vote.rejected)].append(vote)
    return by_pair


def _agreement(tallies: Iterable[Iterable[int]]) -> float | None:
    """Share of votes siding with the majority, over the items with two votes or more (a
    tally holds the number of votes for each side)."""
    agreeing = total = 0
    for tally in tallies:
        counts = list(tally)
        votes = sum(counts)
        if votes >= 2:
            agreeing += max(counts)
            total += votes
    return agreeing / total if total else None


def _majority_pairs(by_pair: dict[tuple[int, int], list[Vote]]) -> tuple[list[Pair], int]:
    pairs, ties = [], 0
    for (first, second), pair_votes in by_pair.items():
        first_wins = sum(1 for vote in pair_votes if vote.chosen == first)
        second_wins = len(pair_votes) - first_wins
        if first_wins == second_wins:
            ties += 1
            continue
        chosen, rejected = (first, second) if first_wins > second_wins else (second, first)
        pairs.append(Pair(chosen, rejected, *_provenance(pair_votes)))
    return pairs, ties


def _bradley_terry_pairs(votes: list[Vote]) -> tuple[list[Pair], int]:
    strengths = bradley_terry([(vote.chosen, vote.rejected) for vote in votes])
    order = sorted(strengths, key=lambda item: (-strengths[item], item))
    judgement_ids, annotator_ids = _provenance(votes)
    pairs, ties = [], 0
    for position, better in enumerate(order):
        for worse in order[position + 1 :]:
            if strengths[better] > strengths[worse] * (1 + TIE_TOLERANCE):
                pairs.append(Pair(better, worse, judgement_ids, annotator_ids))
            else:
                ties += 1
    return pairs, ties


def _provenance(votes: list[Vote]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The distinct judgements and annotators behind some votes, in first-seen order."""
    judgement_ids = tuple(dict.fromkeys(chain.from_iterable(v.judgement_ids for v in votes)))
    annotator_ids = tuple(dict.fromkeys(chain.from_iterable(v.annotator_ids for v in votes)))
    return judgement_ids, annotator_ids


def _label_provenance(labels: list[Label]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    judgement_ids = tuple(dict.fromkeys(label.judgement_id for label in labels))
    annotator_ids = tuple(dict.fromkeys(label.annotator_id for label in labels))
    return judgement_ids, annotator_ids


# --- Bradley-Terry --------------------------------------------------------------------------

TIE_TOLERANCE = 1e-6  # strengths closer than this (relatively) are a tie: no pair


def bradley_terry(
    outcomes: Iterable[tuple[int, int]],
    *,
    prior: float = 0.5,
    iterations: int = 100,
    tolerance: float = 1e-12,
) -> dict[int, float]:
    """Bradley-Terry strengths from (winner, loser) outcomes: P(i beats j) = p_i / (p_i + p_j).

    Every item also wins and loses `prior` times against a virtual opponent of strength 1,
    which keeps the fit finite for an item that won (or lost) every comparison and fixes the
    scale. The fit maximizes that (concave) log-likelihood over log-strengths by Newton's
    method: a handful of iterations, where the MM iteration takes hundreds.
    """
    meetings: dict[tuple[int, int], list[int]] = {}  # (i, j), i < j -> [i's wins, j's wins]
    for winner, loser in outcomes:
        key = (winner, loser) if winner < loser else (loser, winner)
        meetings.setdefault(key, [0, 0])[0 if winner == key[0] else 1] += 1
    items = sorted({item for pair in meetings for item in pair})
    index = {item: position for position, item in enumerate(items)}
    pairs = [(index[i], index[j], won, lost) for (i, j), (won, lost) in meetings.items()]
    theta = [0.0] * len(items)
    for _ in range(iterations):
        gradient, curvature = _bradley_terry_derivatives(theta, pairs, prior)
        step = _solve_symmetric(curvature, gradient)
        theta = [value + delta for value, delta in zip(theta, step, strict=True)]
        if max((abs(delta) for delta in step), default=0.0) < tolerance:
            break
    return {item: math.exp(theta[index[item]]) for item in items}


def _bradley_terry_derivatives(
    theta: list[float], pairs: list[tuple[int, int, int, int]], prior: float
) -> tuple[list[float], list[list[float]]]:
    """The log-likelihood's gradient and its negated Hessian (positive definite)."""
    size = len(theta)
    gradient = [0.0] * size
    curvature = [[0.0] * size for _ in range(size)]
    for i in range(size):
        against_virtual = _sigmoid(theta[i])
        gradient[i] += prior * (1 - 2 * against_virtual)
        curvature[i][i] += 2 * prior * against_virtual * (1 - against_virtual)
    for i, j, won, lost in pairs:
        p_i = _sigmoid(theta[i] - theta[j])
        gradient[i] += won - (won + lost) * p_i
        gradient[j] -= won - (won + lost) * p_i
        weight = (won + lost) * p_i * (1 - p_i)
        curvature[i][i] += weight
        curvature[j][j] += weight
        curvature[i][j] -= weight
        curvature[j][i] -= weight
    return gradient, curvature


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _solve_symmetric(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination; the matrix is symmetric positive definite, so no pivoting."""
    size = len(vector)
    a = [[*row, value] for row, value in zip(matrix, vector, strict=True)]
    for k in range(size):
        for i in range(k + 1, size):
            factor = a[i][k] / a[k][k]
            for j in range(k, size + 1):
                a[i][j] -= factor * a[k][j]
    solution = [0.0] * size
    for i in reversed(range(size)):
        total = a[i][size] - sum(a[i][j] * solution[j] for j in range(i + 1, size))
        solution[i] = total / a[i][i]
    return solution


# --- one prompt's labels become KTO rows -----------------------------------------------------


def prompt_labels(labels: list[Label], rule: str) -> PromptLabels:
    by_completion: dict[int, list[Label]] = defaultdict(list)
    for label in labels:
        by_completion[label.completion_id].append(label)
    result = PromptLabels(
        conflicts=sum(
            1 for group in by_completion.values() if len({lb.desirable for lb in group}) > 1
        ),
        agreement=_agreement(
            [Counter(lb.desirable for lb in group).values() for group in by_completion.values()]
        ),
    )
    if rule == Rule.ALL:
        result.rows = [
            LabelRow(lb.completion_id, lb.desirable, (lb.judgement_id,), (lb.annotator_id,))
            for lb in labels
        ]
        return result
    for completion_id, group in by_completion.items():
        desirable = sum(1 for label in group if label.desirable)
        undesirable = len(group) - desirable
        if desirable == undesirable:
            result.ties += 1
            continue
        result.rows.append(
            LabelRow(completion_id, desirable > undesirable, *_label_provenance(group))
        )
    return result
