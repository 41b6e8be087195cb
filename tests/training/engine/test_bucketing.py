"""Length bucketing: each row once per epoch, batches of similar length, a new order each epoch."""

from types import SimpleNamespace

import torch
from trl import DPOTrainer

from training.engine.bucketing import LengthBucketSampler, bucketed, bucketed_order, pair_lengths


def batches(order, size):
    return [order[i : i + size] for i in range(0, len(order), size)]


def test_each_row_once_and_batches_hold_similar_lengths():
    lengths = [(i * 37) % 101 for i in range(64)]  # 64 distinct lengths in scrambled order
    order = bucketed_order(lengths, 4, torch.Generator().manual_seed(0))
    assert sorted(order) == list(range(64))
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches(order, 4)]
    # One pool of 64 rows sorted by length: each batch spans 4 neighbouring lengths.
    assert max(spreads) <= 8
    padded = sum(4 * max(lengths[i] for i in b) for b in batches(order, 4))
    shuffled = torch.randperm(64, generator=torch.Generator().manual_seed(0)).tolist()
    padded_random = sum(4 * max(lengths[i] for i in b) for b in batches(shuffled, 4))
    assert padded < 0.8 * padded_random


def test_batch_order_is_random_not_longest_first():
    lengths = list(range(64))
    firsts = {
        bucketed_order(lengths, 4, torch.Generator().manual_seed(seed))[0] // 4
        for seed in range(10)
    }
    assert len(firsts) > 3  # the first batch is not always the same bucket


def test_short_last_batch_comes_last():
    lengths = list(range(10))
    order = bucketed_order(lengths, 4, torch.Generator().manual_seed(1))
    assert sorted(order) == list(range(10)) and len(order) == 10
    # One pool sorted by length: batches [0-3], [4-7] in random order, then the remainder.
    assert set(order[-2:]) == {8, 9}


def test_sampler_reshuffles_each_epoch_and_is_reproducible():
    lengths = [i % 7 for i in range(48)]
    sampler = LengthBucketSampler(lengths, 4, seed=3)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(48)) and first != second
    assert list(LengthBucketSampler(lengths, 4, seed=3)) == first


def test_pair_length_is_prompt_plus_longer_answer():
    rows = {
        "prompt_ids": [[1, 2], [1]],
        "chosen_ids": [[3], [4, 5, 6]],
        "rejected_ids": [[7, 8], [9]],
    }
    assert pair_lengths(rows) == [4, 4]


def test_bucketed_trainer_samples_micro_batches_by_pair_length():
    cls = bucketed(DPOTrainer)
    assert issubclass(cls, DPOTrainer) and cls.__name__ == "BucketedDPOTrainer"
    rows = {
        "prompt_ids": [[1]] * 8,
        "chosen_ids": [[2] * n for n in (1, 30, 2, 31, 3, 32, 4, 33)],
        "rejected_ids": [[3]] * 8,
    }
    trainer = SimpleNamespace(train_dataset=rows, args=SimpleNamespace(train_batch_size=2, seed=0))
    sampler = cls._get_train_sampler(trainer)
    assert isinstance(sampler, LengthBucketSampler)
    for pair in batches(list(sampler), 2):  # short answers pair up, long ones too
        assert len({len(rows["chosen_ids"][i]) > 10 for i in pair}) == 1
