"""How a domain document is cleaned: the one rule, for what the app stores on upload
(labeling.imports.documents) and what continued pre-training reads (training.engine.data).
No Django, no heavy imports."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_LINE_BREAKS = re.compile(r"\r\n?|[\u0085\u2028\u2029]")
# Control characters (Unicode's Cc: C0, DEL, C1) but tabs and newlines, lone surrogates (a JSON
# "\\ud800" escape; no database stores one) and byte-order marks.
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")
_SPACING_CONTROLS = str.maketrans("\f\v", "  ")  # spaces, not glue between two words


def clean_document(text: str) -> str:
    """NFC; newlines as \\n; no control characters but tabs and newlines (form and line feeds
    become spaces), no lone surrogates; runs of spaces as one; no spaces at line ends; at most
    one blank line; no blank edges."""
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", text))
    text = _DROPPED.sub("", text.translate(_SPACING_CONTROLS))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def clean_documents(texts: list[str | None]) -> tuple[list[str], int, int]:
    """(cleaned unique documents in order, empties dropped, exact duplicates dropped)."""
    seen: set[str] = set()
    kept: list[str] = []
    empty = duplicates = 0
    for text in texts:
        cleaned = clean_document(text or "")
        if not cleaned:
            empty += 1
        elif cleaned in seen:
            duplicates += 1
        else:
            seen.add(cleaned)
            kept.append(cleaned)
    return kept, empty, duplicates
