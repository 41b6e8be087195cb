"""Sequence-length bucketing: batches of rows with similar token counts, in random order.

A padded batch costs as much as its longest row times its size, so mixing a two-line answer
with a twenty-line one wastes most of the short row's compute on padding. Rows are shuffled,
cut into pools of `pool_batches` batches, sorted by length inside each pool and cut into
batches; the batches are then shuffled, so the model still sees a random order of batches
and a different one every epoch (the Megatron/fairseq recipe, without the longest-first
ordering of transformers' LengthGroupedSampler, which repeats on a small dataset).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

POOL_BATCHES = 16


def bucketed_order(
    lengths: Sequence[int],
    batch_size: int,
    generator: torch.Generator,
    pool_batches: int = POOL_BATCHES,
) -> list[int]:
    """Row indices, every consecutive `batch_size` of them a batch of similar lengths."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    shuffled = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * pool_batches
    batches: list[list[int]] = []
    for start in range(0, len(shuffled), pool):
        ranked = sorted(shuffled[start : start + pool], key=lambda i: lengths[i])
        batches.extend(ranked[i : i + batch_size] for i in range(0, len(ranked), batch_size))
    # A short last batch stays last: it is the epoch's remainder, not a bucket.
    full = [b for b in batches if len(b) == batch_size]
    rest = [b for b in batches if len(b) != batch_size]
    order = torch.randperm(len(full), generator=generator).tolist()
    return [i for k in order for i in full[k]] + [i for b in rest for i in b]


class LengthBucketSampler(Sampler[int]):
    """A new bucketed order on every pass (each epoch), reproducible from `seed`."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        return iter(bucketed_order(self.lengths, self.batch_size, generator))


def pair_lengths(dataset: Any) -> list[int]:
    """Padded length of each tokenized preference pair: the prompt plus its longer answer."""
    return [
        len(p) + max(len(c), len(r))
        for p, c, r in zip(
            dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True
        )
    ]


def bucketed(trainer_class: type) -> type:
    """`trainer_class` with a LengthBucketSampler over its tokenized preference pairs."""

    class Bucketed(trainer_class):  # type: ignore[misc, valid-type]
        def _get_train_sampler(self, train_dataset: Any = None) -> Sampler[int]:
            dataset = self.train_dataset if train_dataset is None else train_dataset
            # Padding happens per forward pass, so buckets are micro-batches.
            batch = self.args.train_batch_size
            return LengthBucketSampler(pair_lengths(dataset), batch, self.args.seed)

    Bucketed.__name__ = f"Bucketed{trainer_class.__name__}"
    Bucketed.__qualname__ = Bucketed.__name__
    return Bucketed
