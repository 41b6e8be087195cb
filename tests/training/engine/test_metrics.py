"""The pure figures of held-out evaluation, on tiny CPU tensors with hand-computed values."""

import math

import pytest
import torch

from training.engine.evaluation.metrics import (
    bleu,
    common_prefix,
    implicit_rewards,
    label_accuracy,
    label_margin,
    mean_margin,
    preference_accuracy,
    rouge_l,
    sequence_logps,
    win_rate,
)


def test_sequence_logps_sums_masked_next_token_logprobs():
    # vocab 2; position 0 predicts token 1 with p = e^1/(e^0+e^1), position 1 is uniform
    logits = torch.tensor([[[0.0, 1.0], [0.0, 0.0], [5.0, 5.0]]])
    input_ids = torch.tensor([[0, 1, 0]])
    p1 = math.log(math.e / (1 + math.e))
    all_tokens = sequence_logps(logits, input_ids, torch.tensor([[1, 1, 1]]))
    assert all_tokens.item() == pytest.approx(p1 + math.log(0.5))
    last_only = sequence_logps(logits, input_ids, torch.tensor([[0, 0, 1]]))
    assert last_only.item() == pytest.approx(math.log(0.5))


def test_implicit_rewards_and_margin():
    policy = torch.tensor([-10.0, -12.0])
    ref = torch.tensor([-11.0, -11.0])
    rewards = implicit_rewards(policy, ref, beta=0.1)
    assert rewards.tolist() == pytest.approx([0.1, -0.1])
    assert mean_margin(torch.tensor([1.0, 0.5]), torch.tensor([0.0, 1.5])) == pytest.approx(0.0)


def test_preference_accuracy_counts_strict_wins():
    chosen = torch.tensor([1.0, 2.0, 0.0, 3.0])
    rejected = torch.tensor([0.0, 2.0, 1.0, -1.0])
    assert preference_accuracy(chosen, rejected) == pytest.approx(0.5)  # the tie loses
    assert math.isnan(preference_accuracy(torch.zeros(0), torch.zeros(0)))


def test_win_rate_counts_ties_as_half():
    assert win_rate(torch.tensor([2.0, 1.0, 0.0, 5.0]), torch.tensor([1.0, 1.0, 1.0, 4.0])) == 0.625


def test_label_accuracy_checks_the_reward_sign():
    rewards = torch.tensor([0.3, -0.2, 0.1, -0.4])
    labels = torch.tensor([True, False, False, True])
    assert label_accuracy(rewards, labels) == 0.5


def test_rouge_l_and_bleu_reward_overlap():
    refs = ["the cat sat on the mat", "owls hunt at night"]
    assert rouge_l(refs, refs) == pytest.approx(1.0)
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert rouge_l(["dogs bark"], ["the cat sat"]) == 0.0
    partial = rouge_l(["the cat sat"], ["the cat sat on the mat"])
    assert partial == pytest.approx(2 * 1.0 * 0.5 / 1.5)  # P = 1, R = 1/2


def test_mean_margin_is_nan_without_pairs():
    assert mean_margin(torch.tensor([2.0, 1.0]), torch.tensor([1.0, 2.0])) == pytest.approx(0.0)
    assert math.isnan(mean_margin(torch.zeros(0), torch.zeros(0)))


def test_win_rate_and_label_accuracy_are_nan_without_rows():
    assert math.isnan(win_rate(torch.zeros(0), torch.zeros(0)))
    assert math.isnan(label_accuracy(torch.zeros(0), torch.zeros(0)))


def test_label_margin_needs_both_labels():
    rewards = torch.tensor([0.5, 0.1, -0.3])
    labels = torch.tensor([True, True, False])
    assert label_margin(rewards, labels) == pytest.approx(0.3 - -0.3)
    assert label_margin(rewards, torch.tensor([True, True, True])) is None


def test_rouge_l_and_bleu_are_nan_without_predictions():
    assert math.isnan(rouge_l([], []))
    assert math.isnan(bleu([], []))


def test_common_prefix_counts_the_shared_leading_ids():
    assert common_prefix([1, 2, 3, 4], [1, 2, 9]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
