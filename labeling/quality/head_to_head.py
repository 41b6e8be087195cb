"""Two model versions head to head from pairwise choices: the counts, the win rate, its interval.

A tie and a "both bad" are draws: each counts half a win to either side, so 0.5 means the
annotators see no difference. The interval is Wilson's score interval, which stays inside
[0, 1] and keeps its coverage at the small n of a fresh version, where the normal
approximation does not (with half-wins the successes are fractional; the formula holds).
"""

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


@dataclass(frozen=True)
class HeadToHeadCounts:
    """Choices between one completion of each version, seen from the first version."""

    wins: int = 0
    losses: int = 0
    ties: int = 0
    both_bad: int = 0

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties + self.both_bad

    @property
    def score(self) -> float:
        """Wins, with every draw counted half."""
        return self.wins + (self.ties + self.both_bad) / 2

    @property
    def win_rate(self) -> float | None:
        return self.score / self.n if self.n else None


def wilson_interval(successes: float, n: int, *, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval of a proportion; None without observations."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
