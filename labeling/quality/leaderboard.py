"""Model versions ranked by human judgements: Bradley-Terry over version-vs-version votes.

A vote is what labeling.exports.derive makes of a judgement (a ranking: every ordered pair of
completions in different tie groups; a comparison a/b: one), kept only when the two
completions come from different model versions. Confidence intervals come from the bootstrap
over judgements (a judgement's votes travel together), refitting each round.
"""

import math
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from labeling.exports.derive import bradley_terry


class VersionVote(NamedTuple):
    winner: int  # model version ids
    loser: int
    judgement_id: int


@dataclass(frozen=True)
class VersionScore:
    version_id: int
    score: float  # log-strength, centred on the mean of the versions compared
    low: float  # bootstrap percentile interval
    high: float
    judgements: int  # judgements with a vote involving this version


@dataclass(frozen=True)
class ParentWinRate:
    version_id: int
    parent_id: int
    win_rate: float | None  # the version's share of the votes between the two
    votes: int
    judgements: int


def version_votes(
    completion_votes: list[tuple[int, int, int]], version_of: Mapping[int, int]
) -> list[VersionVote]:
    """(winner completion, loser completion, judgement id) -> votes between versions."""
    votes = []
    for winner, loser, judgement_id in completion_votes:
        first, second = version_of.get(winner), version_of.get(loser)
        if first is not None and second is not None and first != second:
            votes.append(VersionVote(first, second, judgement_id))
    return votes


def centred_scores(votes: list[VersionVote]) -> dict[int, float]:
    strengths = bradley_terry((vote.winner, vote.loser) for vote in votes)
    logs = {version: math.log(strength) for version, strength in strengths.items()}
    mean = sum(logs.values()) / len(logs) if logs else 0.0
    return {version: value - mean for version, value in logs.items()}


def leaderboard(
    votes: list[VersionVote], *, rounds: int = 200, seed: int = 0, level: float = 0.95
) -> list[VersionScore]:
    """Versions best first, with percentile bootstrap intervals (resampling judgements)."""
    scores = centred_scores(votes)
    by_judgement: dict[int, list[VersionVote]] = defaultdict(list)
    for vote in votes:
        by_judgement[vote.judgement_id].append(vote)
    judgement_ids = sorted(by_judgement)
    samples: dict[int, list[float]] = defaultdict(list)
    rng = random.Random(seed)
    for _ in range(rounds if judgement_ids else 0):
        drawn = rng.choices(judgement_ids, k=len(judgement_ids))
        for version, value in centred_scores(
            [vote for pk in drawn for vote in by_judgement[pk]]
        ).items():
            samples[version].append(value)
    behind: dict[int, set[int]] = defaultdict(set)
    for vote in votes:
        behind[vote.winner].add(vote.judgement_id)
        behind[vote.loser].add(vote.judgement_id)
    tail = (1 - level) / 2
    rows = [
        VersionScore(
            version,
            score,
            _percentile(samples[version], tail, default=score),
            _percentile(samples[version], 1 - tail, default=score),
            len(behind[version]),
        )
        for version, score in scores.items()
    ]
    return sorted(rows, key=lambda row: (-row.score, row.version_id))


def parent_win_rates(
    votes: list[VersionVote], parent_of: Mapping[int, int | None]
) -> list[ParentWinRate]:
    """Each version with a parent: its share of the votes against that parent."""
    rows = []
    for version, parent in sorted(parent_of.items()):
        if parent is None:
            continue
        wins = [v for v in votes if v.winner == version and v.loser == parent]
        losses = [v for v in votes if v.winner == parent and v.loser == version]
        total = len(wins) + len(losses)
        judgements = len({v.judgement_id for v in wins + losses})
        rows.append(
            ParentWinRate(version, parent, len(wins) / total if total else None, total, judgements)
        )
    return rows


def _percentile(values: list[float], q: float, *, default: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 1]."""
    if not values:
        return default
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
