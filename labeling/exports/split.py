"""Deterministic train/validation/test split by prompt: no prompt lands in two splits.

A prompt's split is a hash of (seed, prompt id) placed on the cumulative ratios, so the same
seed splits the same prompts the same way however they are read. One exception keeps a first
small export usable: when no exported prompt hashes into train, the held-out prompt nearest to
train (the lowest hash position) is moved there, so train is never empty while anything is
exported. An export whose train split is not empty by the hash is split exactly as by the hash
alone, file for file (tests/labeling/exports/test_small_exports.py compares the two).
"""

import hashlib
from collections import Counter
from collections.abc import Callable

SPLITS = ("train", "validation", "test")
NO_HELD_OUT = (1.0, 0.0, 0.0)
# Held-out rows kept in memory while waiting for a first train prompt. Only a train ratio so
# small that this many held-out rows come before any train prompt reaches it; then the nearest
# prompt is moved to train at once rather than at the end.
HOLD_MAX_ROWS = 10_000


def parse_split_ratios(text: str) -> tuple[float, float, float]:
    """'0.9,0.05,0.05' -> (0.9, 0.05, 0.05); the parts must be >= 0 and add up to 1."""
    try:
        parts = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"split {text!r}: use three numbers such as 0.9,0.05,0.05") from None
    if len(parts) != 3 or any(part < 0 for part in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise ValueError(f"split {text!r}: three non-negative fractions that add up to 1")
    return parts  # type: ignore[return-value]


def split_position(prompt_id: int, *, seed: int) -> float:
    """Where a prompt falls in [0, 1): a hash of (seed, prompt id)."""
    digest = hashlib.blake2b(f"{seed}:{prompt_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_of(prompt_id: int, *, seed: int, ratios: tuple[float, float, float]) -> str:
    """The split of a prompt by the hash alone: its position placed on the cumulative ratios."""
    return _split_at(split_position(prompt_id, seed=seed), ratios)


def _split_at(position: float, ratios: tuple[float, float, float]) -> str:
    cumulative = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        cumulative += ratio
        if position < cumulative:
            return name
    # Rounding left `position` just past the total: it belongs to the last non-empty split.
    return next(name for name, ratio in reversed(list(zip(SPLITS, ratios, strict=True))) if ratio)


class PromptSplitter:
    """Sends each exported prompt's rows to its split's writer, so that train is never empty.

    Until a prompt hashes into train, held-out prompts are held back (in prompt order); the
    first train prompt releases them unchanged. If none comes (or HOLD_MAX_ROWS is passed), the
    held prompt with the lowest hash position goes to train and the rest are released. So the
    files are those of the hash alone whenever the hash gives train a prompt.
    """

    def __init__(
        self,
        *,
        seed: int,
        ratios: tuple[float, float, float],
        write: Callable[[str, dict], None],
        hold_max_rows: int = HOLD_MAX_ROWS,
    ):
        self.seed = seed
        self.ratios = ratios
        self.moved_to_train: list[int] = []  # prompt ids, at most one
        self._write = write
        self._hold_max_rows = hold_max_rows
        self._by_split: Counter = Counter()
        self._held: list[tuple[float, int, str, list[dict]]] = []
        self._held_rows = 0
        self._train_seen = False

    @property
    def prompts_by_split(self) -> Counter:
        return +self._by_split  # without splits left at zero by a move

    def add(self, prompt_id: int, rows: list[dict]) -> None:
        """One prompt's rows (at least one), prompts in export order."""
        position = split_position(prompt_id, seed=self.seed)
        split = _split_at(position, self.ratios)
        self._by_split[split] += 1
        if self._train_seen or split == "train":
            self._train_seen = True
            self._write_rows(split, rows)
            self._release()
            return
        self._held.append((position, prompt_id, split, rows))
        self._held_rows += len(rows)
        if self._held_rows > self._hold_max_rows:
            self._fill_train()

    def finish(self) -> None:
        """Call once every prompt is added: fills train if the hash left it empty."""
        if self._held:
            self._fill_train()

    def _fill_train(self) -> None:
        nearest = min(self._held, key=lambda held: (held[0], held[1]))
        self._held.remove(nearest)
        _, prompt_id, split, rows = nearest
        self._by_split[split] -= 1
        self._by_split["train"] += 1
        self.moved_to_train.append(prompt_id)
        self._train_seen = True
        self._write_rows("train", rows)
        self._release()

    def _release(self) -> None:
        for _, _, split, rows in self._held:
            self._write_rows(split, rows)
        self._held.clear()
        self._held_rows = 0

    def _write_rows(self, split: str, rows: list[dict]) -> None:
        for row in rows:
            self._write(split, row)
