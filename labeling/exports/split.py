"""Deterministic train/validation/test split by prompt: no prompt lands in two splits."""

import hashlib

SPLITS = ("train", "validation", "test")


def parse_split_ratios(text: str) -> tuple[float, float, float]:
    """'0.9,0.05,0.05' -> (0.9, 0.05, 0.05); the parts must be >= 0 and add up to 1."""
    try:
        parts = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"split {text!r}: use three numbers such as 0.9,0.05,0.05") from None
    if len(parts) != 3 or any(part < 0 for part in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise ValueError(f"split {text!r}: three non-negative fractions that add up to 1")
    return parts  # type: ignore[return-value]


def split_of(prompt_id: int, *, seed: int, ratios: tuple[float, float, float]) -> str:
    """The split of a prompt: a hash of (seed, prompt id) placed on the cumulative ratios."""
    digest = hashlib.blake2b(f"{seed}:{prompt_id}".encode(), digest_size=8).digest()
    position = int.from_bytes(digest, "big") / 2**64
    cumulative = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        cumulative += ratio
        if position < cumulative:
            return name
    # Rounding left `position` just past the total: it belongs to the last non-empty split.
    return next(name for name, ratio in reversed(list(zip(SPLITS, ratios, strict=True))) if ratio)
