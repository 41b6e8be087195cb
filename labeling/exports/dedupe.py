"""Exact and near-duplicate detection for export rows.

Exact duplicates compare the normalized text (a 16-byte digest per row keeps memory flat);
near-duplicates use MinHash LSH (datasketch) over character 5-grams, which works for
languages written without spaces between every word as well as for English.
"""

import hashlib
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from labeling.normalize import prompt_normalize

SHINGLE = 5


@dataclass
class DuplicateCounts:
    exact: int = 0
    near: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"exact": self.exact, "near": self.near}


class Deduplicator:
    """Remembers what it has seen; `seen(text)` says whether `text` repeats an earlier one."""

    def __init__(self, *, near: bool = True, threshold: float = 0.85, num_perm: int = 64):
        self.counts = DuplicateCounts()
        self._digests: set[bytes] = set()
        self._num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm) if near else None

    def seen(self, text: str) -> bool:
        normalized = prompt_normalize(text)
        digest = hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).digest()
        if digest in self._digests:
            self.counts.exact += 1
            return True
        self._digests.add(digest)
        if self._lsh is None or len(normalized) < SHINGLE * 2:
            return False
        signature = self._signature(normalized)
        if self._lsh.query(signature):
            self.counts.near += 1
            return True
        self._lsh.insert(digest, signature, check_duplication=False)
        return False

    def _signature(self, normalized: str) -> MinHash:
        shingles = {normalized[i : i + SHINGLE] for i in range(len(normalized) - SHINGLE + 1)}
        signature = MinHash(num_perm=self._num_perm)
        signature.update_batch([shingle.encode("utf-8") for shingle in shingles])
        return signature
