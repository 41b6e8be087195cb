"""Text normalization for duplicate detection (no Django: exports and imports share it)."""

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def prompt_normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: what two texts must share to be duplicates."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def prompt_dedupe_key(*, instruction: str, input: str = "") -> str:
    normalized = prompt_normalize(instruction) + "\x1f" + prompt_normalize(input)
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()
