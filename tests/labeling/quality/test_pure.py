"""Agreement, gold scoring and the leaderboard as pure functions, against hand-computed values."""

import math
import random

import pytest

from labeling.quality.agreement import (
    JudgementRow,
    Value,
    krippendorff_alpha,
    likert_values,
    pairwise_tau,
    rank_positions,
    ranking_values,
)
from labeling.quality.gold import gold_correct, verdict_errors
from labeling.quality.leaderboard import VersionVote, leaderboard, parent_win_rates


def _rank(annotator, prompt, *groups):
    return JudgementRow(annotator, prompt, "rank", ranking=[list(g) for g in groups])


def test_tied_completions_share_the_mean_rank():
    assert rank_positions([[5], [7, 8], [6]]) == {5: 1.0, 7: 2.5, 8: 2.5, 6: 4.0}


def test_identical_rankings_agree_perfectly():
    rows = [_rank(a, p, [1 + 10 * p], [2 + 10 * p], [3 + 10 * p]) for a in (1, 2) for p in (1, 2)]
    alpha = krippendorff_alpha(ranking_values(rows))
    assert alpha.alpha == pytest.approx(1.0)
    assert (alpha.units, alpha.values, alpha.annotators) == (6, 12, 2)


def test_reversed_rankings_disagree_below_chance():
    # Units (c1: 1 vs 2) and (c2: 2 vs 1): Do = 1, De = 2/3, alpha = 1 - 3/2 = -0.5.
    rows = [_rank(1, 1, [1], [2]), _rank(2, 1, [2], [1])]
    assert krippendorff_alpha(ranking_values(rows)).alpha == pytest.approx(-0.5)


def test_likert_alpha_matches_the_hand_computation():
    # Units (1,1), (2,2), (1,2): Do = 2/6, De = 2*3*3/(6*5) = 0.6, alpha = 1 - (1/3)/0.6 = 4/9.
    scores = {10: (1, 1), 11: (2, 2), 12: (1, 2)}
    rows = [
        JudgementRow(a, 1, "rate", ratings={str(c): {"helpful": s[i]} for c, s in scores.items()})
        for i, a in enumerate((1, 2))
    ]
    alpha = krippendorff_alpha(likert_values(rows))
    assert alpha.alpha == pytest.approx(4 / 9)
    assert alpha.units == 3


def test_alpha_is_undefined_without_two_annotators_on_a_unit():
    assert krippendorff_alpha([Value(1, ("u",), 1.0)]).alpha is None


def test_kendall_tau_on_a_hand_example():
    # One swapped pair out of six: (5 concordant - 1 discordant) / 6.
    rows = [_rank(1, 1, [1], [2], [3], [4]), _rank(2, 1, [1], [3], [2], [4])]
    taus = pairwise_tau(rows)
    assert taus[(1, 2)].tau == pytest.approx(4 / 6)
    assert taus[(1, 2)].items == 1


def test_gold_verdicts_score_rankings_and_comparisons():
    best = {"kind": "rank", "best_completion": 7}
    assert gold_correct(best, _rank(1, 1, [7, 8], [9])) is True
    assert gold_correct(best, _rank(1, 1, [8], [7])) is False
    lower_wins = {"kind": "compare", "choice": "a"}
    assert gold_correct(lower_wins, JudgementRow(1, 1, "compare", choice="b", left=9, right=4))
    assert not gold_correct(lower_wins, JudgementRow(1, 1, "compare", choice="a", left=9, right=4))
    assert verdict_errors({"kind": "compare", "choice": "x"})
    assert verdict_errors(best) == []


def _simulated_votes(truth: dict[int, float], comparisons: int, seed: int) -> list[VersionVote]:
    rng = random.Random(seed)
    versions = sorted(truth)
    votes = []
    for judgement_id in range(comparisons):
        i, j = rng.sample(versions, 2)
        p_i = 1 / (1 + math.exp(truth[j] - truth[i]))
        winner, loser = (i, j) if rng.random() < p_i else (j, i)
        votes.append(VersionVote(winner, loser, judgement_id))
    return votes


def test_bradley_terry_recovers_the_order_and_its_intervals_hold_the_truth():
    truth = {1: -0.75, 2: -0.25, 3: 0.25, 4: 0.75}  # centred log-strengths
    board = leaderboard(_simulated_votes(truth, 1500, seed=7), rounds=200, seed=1)
    assert [row.version_id for row in board] == [4, 3, 2, 1]
    for row in board:
        assert row.low <= truth[row.version_id] <= row.high
        assert row.low < row.score < row.high
        assert row.judgements > 0


def test_win_rate_against_the_parent_counts_only_their_meetings():
    votes = [VersionVote(2, 1, 1), VersionVote(2, 1, 2), VersionVote(1, 2, 3), VersionVote(3, 1, 4)]
    (rate,) = [r for r in parent_win_rates(votes, {1: None, 2: 1}) if r.version_id == 2]
    assert rate.win_rate == pytest.approx(2 / 3)
    assert (rate.votes, rate.judgements) == (3, 3)
