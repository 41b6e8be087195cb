"""Text normalization for duplicate detection (no Django: exports and imports share it)."""

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def prompt_normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: what two texts must share to be duplicates."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def prompt_dedupe_key(*, instruction: str, input: str = "", history: list | tuple = ()) -> str:
    """One key per distinct turn: the same words after two different conversations are two
    prompts. A prompt without a history keeps the key it always had."""
    normalized = prompt_normalize(instruction) + "\x1f" + prompt_normalize(input)
    for turn in history:
        normalized += "\x1e" + turn["role"] + "\x1f" + prompt_normalize(turn["content"])
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()
