"""How unsure the model is of a prompt, from what the app already has: pure functions.

For one prompt and one model version (its n completions and the votes on them):

    mean_logprob(c)    = mean over completion c's sampled tokens of their log-probability
    completions_spread = population standard deviation of mean_logprob over the n completions
                         (nats; needs two completions with log-probabilities)
    spread_part        = completions_spread / (completions_spread + SPREAD_HALF)     in [0, 1)
    votes_split        = mean, over the units two or more annotators valued, of their mean
                         pairwise distance divided by the unit's scale                 in [0, 1]
    score              = the mean of spread_part and votes_split, of those known (0 if neither)

Units and scales are agreement's (labeling.quality.agreement): a completion's rank position in
a ranking (scale: completions ranked - 1), a compare choice of a pair (-1, 0, +1: scale 2), a
Likert score of a completion (1-5: scale 4). So votes_split is 0 when the annotators agree and
1 when they sit at opposite ends; 1 - votes_split is their agreement on that prompt.

Completions that disagree in how likely the model found them say the model has no settled
answer; split votes say people do not find the answer plain either. SPREAD_HALF maps the spread
onto [0, 1) so the two parts weigh alike: a spread of SPREAD_HALF nats counts as 0.5. Once
votes come in they temper the spread (annotators who agree lower the score).
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations

from labeling.quality.agreement import (
    JudgementRow,
    Value,
    compare_values,
    likert_values,
    ranking_values,
)

# A completions_spread of this many nats counts as half uncertain.
SPREAD_HALF = 0.25
COMPARE_SCALE = 2.0  # -1 .. +1
LIKERT_SCALE = 4.0  # 1 .. 5


def mean_logprob(token_logprobs: Iterable[dict] | None) -> float | None:
    """The mean of a completion's sampled-token log-probabilities ({"logprob": float} each, as
    serving.vllm.client parses them); None without any."""
    values = [entry["logprob"] for entry in token_logprobs or ()]
    values = [value for value in values if value is not None]
    return sum(values) / len(values) if values else None


def completions_spread(mean_logprobs: Iterable[float | None]) -> float | None:
    """Standard deviation of the completions' mean log-probabilities; None below two."""
    known = [value for value in mean_logprobs if value is not None]
    return statistics.pstdev(known) if len(known) >= 2 else None


def votes_split(rows: Iterable[JudgementRow]) -> float | None:
    """How split one prompt's votes are (0 agree .. 1 opposite ends); None when no unit was
    valued by two annotators."""
    rows = list(rows)
    ranked = [len([pk for group in row.ranking for pk in group]) for row in rows if row.ranking]
    rank_scale = max(ranked, default=0) - 1.0
    distances = []
    for values, scale in (
        (ranking_values(rows), rank_scale),
        (compare_values(rows), COMPARE_SCALE),
        (likert_values(rows), LIKERT_SCALE),
    ):
        if scale > 0:
            distances += _unit_distances(values, scale=scale)
    return sum(distances) / len(distances) if distances else None


def _unit_distances(values: list[Value], *, scale: float) -> list[float]:
    """Per unit valued by two or more annotators (an annotator's repeat: last wins), the mean
    distance between two of their values on `scale`."""
    by_unit: dict[tuple, dict[int, float]] = defaultdict(dict)
    for value in values:
        by_unit[value.unit][value.annotator_id] = value.value
    distances = []
    for coded in by_unit.values():
        pairs = list(combinations(coded.values(), 2))
        if pairs:
            distances.append(min(1.0, sum(abs(a - b) for a, b in pairs) / len(pairs) / scale))
    return distances


def uncertainty_score(*, spread: float | None, split: float | None) -> float:
    """The combined score in [0, 1] (see the module docstring)."""
    parts = [] if spread is None else [spread / (spread + SPREAD_HALF)]
    if split is not None:
        parts.append(split)
    return sum(parts) / len(parts) if parts else 0.0
