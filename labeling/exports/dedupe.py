"""Exact and near-duplicate detection for export rows.

Exact duplicates compare the normalized text (a 16-byte digest per row keeps memory flat);
near-duplicates use MinHash LSH over character 5-grams, which works for languages written
without spaces between every word as well as for English.

The scheme is datasketch's MinHashLSH (the same bands for a threshold; candidates sharing a
band count as near-duplicates), computed with numpy for a batch of texts at once and with each
band kept as one integer in a set: datasketch's per-text MinHash objects and LSH storage cost
about a millisecond and 1.5 kB per prompt, too much for an export of a hundred thousand.
"""

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SHINGLE = 5
_MAX_HASH = np.uint64((1 << 32) - 1)
_SHINGLE_BASE = np.uint64(1_000_003)
_BLOCK = 8192  # 5-grams hashed at a time: a 64k-character input stays small in memory


@dataclass
class DuplicateCounts:
    exact: int = 0
    near: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"exact": self.exact, "near": self.near}


def normalized(text: str) -> str:
    """labeling.normalize.prompt_normalize, about three times faster: str.split() without an
    argument splits on exactly the characters the pattern \\s+ matches."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def text_key(text: str) -> int:
    """A fingerprint of the normalized text, for exact duplicates within one process."""
    return hash(normalized(text))


class Deduplicator:
    """Remembers what it has seen; `seen(text)` says whether `text` repeats an earlier one.

    `seen_many(texts)` answers the same for several texts in order (a later text may repeat
    an earlier one of the same call) with their signatures computed together, which is what
    makes a large export fast: numpy's per-call cost is paid once per batch, not per text.
    """

    def __init__(self, *, near: bool = True, threshold: float = 0.85, num_perm: int = 64):
        self.counts = DuplicateCounts()
        self._digests: set[bytes] = set()
        self._near = near
        if near:
            generator = np.random.RandomState(1)  # fixed: the same text, the same signature
            # Multiply-shift hashing (odd multipliers): a universal family like datasketch's
            # (a*x + b) mod p, without the slow 64-bit modulo.
            self._a = generator.randint(0, 1 << 62, num_perm, dtype=np.uint64) * 2 + 1
            self._b = generator.randint(0, 1 << 62, num_perm, dtype=np.uint64)
            bands, rows = lsh_bands(threshold, num_perm)
            self._band_slices = [slice(band * rows, (band + 1) * rows) for band in range(bands)]
            self._bands: list[set[int]] = [set() for _ in range(bands)]

    def seen(self, text: str) -> bool:
        return self.seen_many([text])[0]

    def seen_many(self, texts: list[str]) -> list[bool]:
        texts = [normalized(text) for text in texts]
        signatures = self._signatures(texts) if self._near else {}
        answers = []
        for index, text in enumerate(texts):
            digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
            if digest in self._digests:
                self.counts.exact += 1
                answers.append(True)
                continue
            self._digests.add(digest)
            signature = signatures.get(index)
            answers.append(signature is not None and self._near_seen(signature))
        return answers

    def _near_seen(self, signature: np.ndarray) -> bool:
        keys = [hash(signature[part].tobytes()) for part in self._band_slices]
        if any(key in band for key, band in zip(keys, self._bands, strict=True)):
            self.counts.near += 1
            return True
        for key, band in zip(keys, self._bands, strict=True):
            band.add(key)
        return False

    def _signatures(self, texts: list[str]) -> dict[int, np.ndarray]:
        """MinHash signatures of the texts long enough to have them, by position."""
        signatures: dict[int, np.ndarray] = {}
        batch: list[tuple[int, np.ndarray]] = []
        shingles_in_batch = 0
        for index, text in enumerate(texts):
            if len(text) < SHINGLE * 2:
                continue
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            if shingles_in_batch + len(codes) > _BLOCK and batch:
                signatures.update(self._signature_batch(batch))
                batch, shingles_in_batch = [], 0
            batch.append((index, codes))
            shingles_in_batch += len(codes)
        if batch:
            signatures.update(self._signature_batch(batch))
        return signatures

    def _signature_batch(self, batch: list[tuple[int, np.ndarray]]) -> dict[int, np.ndarray]:
        """Signatures of several texts with one set of array operations: the 5-grams of all
        texts hashed at once (those that would straddle two texts left out), then the minimum
        of each text's segment."""
        lengths = np.array([len(codes) for _, codes in batch])
        codes = np.concatenate([codes for _, codes in batch]).astype(np.uint64)
        count = len(codes) - SHINGLE + 1
        shingles = codes[:count].copy()
        for offset in range(1, SHINGLE):  # polynomial hash of each 5-gram, wrapping at 2**64
            shingles *= _SHINGLE_BASE
            shingles += codes[offset : offset + count]
        ends = np.cumsum(lengths)
        straddling = (ends[:-1, None] - np.arange(1, SHINGLE)).ravel()
        keep = np.ones(count, dtype=bool)
        keep[straddling] = False
        shingles = shingles[keep]
        shingles ^= shingles >> np.uint64(32)
        # One row per hash function, one column per 5-gram: each text's minimum is a reduceat
        # over contiguous columns.
        signatures = np.full((len(self._a), len(batch)), _MAX_HASH, dtype=np.uint64)
        starts = np.concatenate([[0], np.cumsum(lengths - SHINGLE + 1)[:-1]])
        for start in range(0, len(shingles), _BLOCK):  # one very long text: bounded memory
            block = shingles[start : start + _BLOCK]
            permuted = np.multiply.outer(self._a, block)
            permuted += self._b[:, None]
            permuted >>= np.uint64(32)
            owners = np.searchsorted(starts, np.arange(start, start + len(block)), side="right") - 1
            texts, first = np.unique(owners, return_index=True)
            minima = np.minimum.reduceat(permuted, first, axis=1)
            signatures[:, texts] = np.minimum(signatures[:, texts], minima)
        signatures = signatures.T.astype(np.uint32)
        return {index: signature for (index, _), signature in zip(batch, signatures, strict=True)}


@lru_cache(maxsize=8)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) minimizing false positives plus false negatives around the
    threshold, as datasketch's MinHashLSH chooses them (equal weights)."""
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):

            def missed(s: float, rows: int = rows, bands: int = bands) -> float:
                return (1 - s**rows) ** bands  # chance that no band of the pair collides

            false_positive = _integrate(lambda s: 1 - missed(s), 0.0, threshold)
            false_negative = _integrate(missed, threshold, 1.0)
            error = 0.5 * false_positive + 0.5 * false_negative
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def _integrate(function, low: float, high: float, steps: int = 200) -> float:
    """Simpson's rule: plenty for these smooth curves."""
    width = (high - low) / steps
    total = function(low) + function(high)
    for step in range(1, steps):
        total += function(low + step * width) * (4 if step % 2 else 2)
    return total * width / 3
