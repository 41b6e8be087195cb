"""Readers for domain documents: a .txt or .md file is one document, each line of a .jsonl
file ({"text": ..., "title": optional}) is one. They only parse and clean; storing is
labeling.services.documents'.

Cleaning is the training engine's one rule (training/engine/documents.py `clean_document`, which
CPT applies again when a snapshot loads: a no-op on what is stored), so what is stored is exactly
what CPT trains on.
Markdown stays Markdown: its marks are text a model should learn to write.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePath

from django.utils.translation import gettext as _

from labeling.imports.formats import value_kind
from training.engine.documents import clean_document

SUFFIXES = (".txt", ".md", ".jsonl")
MAX_TITLE_CHARS = 200  # labeling.models.document.MAX_TITLE_CHARS
MAX_SOURCE_CHARS = 255

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class DocumentText:
    """One cleaned document as read from a file, before it is stored."""

    title: str
    text: str
    source_file: str
    source_line: int | None

    @property
    def sha256(self) -> str:
        return document_sha256(self.text)


@dataclass
class FileReading:
    """A file's documents, the errors that stop the upload (each naming the file, and the
    line of a .jsonl file), and the JSON lines dropped as empty after cleaning."""

    documents: list[DocumentText]
    errors: list[str]
    empty: int = 0


def document_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_read(name: str, data: bytes) -> FileReading:
    """The documents of one uploaded file, by its suffix; every problem is named in `errors`."""
    name = " ".join(clean_document(PurePath(name or "").name).split())[:MAX_SOURCE_CHARS]
    name = name or "upload"
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        return FileReading([], [_("%(file)s: not a .txt, .md or .jsonl file.") % {"file": name}])
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return FileReading([], [f"{name}: {_not_utf8(data, exc)}"])
    if suffix == ".jsonl":
        return _jsonl_read(name, content)
    text = clean_document(content)
    if not text:
        message = _("%(file)s: empty after cleaning (no text in it).")
        return FileReading([], [message % {"file": name}])
    title = _markdown_title(text) if suffix == ".md" else None
    return FileReading([DocumentText(title or name, text, name, None)], [])


def _jsonl_read(name: str, content: str) -> FileReading:
    reading = FileReading([], [])
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            message = _("%(file)s line %(line)s: not JSON (%(error)s).")
            reading.errors.append(message % {"file": name, "line": number, "error": exc.args[0]})
            continue
        problem = _record_problem(record)
        if problem:
            where = _("%(file)s line %(line)s") % {"file": name, "line": number}
            reading.errors.append(f"{where}: {problem}")
            continue
        text = record["text"]
        cleaned = clean_document(text)
        if not cleaned:
            reading.empty += 1
            continue
        title = record.get("title")
        title = clean_document(title).split("\n")[0] if isinstance(title, str) else ""
        title = title[:MAX_TITLE_CHARS] or f"{name} line {number}"
        reading.documents.append(DocumentText(title, cleaned, name, number))
    if not reading.errors and not reading.documents:
        message = _("%(file)s: empty after cleaning (no line has any text).")
        reading.errors.append(message % {"file": name})
    return reading


def _markdown_title(text: str) -> str | None:
    """The first heading of a Markdown text, without its marks."""
    heading = _HEADING.search(text)
    return heading.group(1)[:MAX_TITLE_CHARS] if heading else None


def _not_utf8(data: bytes, exc: UnicodeDecodeError) -> str:
    message = _(
        "not UTF-8 text (byte 0x%(byte)s on line %(line)s); save it as UTF-8 and upload it again."
    )
    return message % {"byte": f"{data[exc.start]:02x}", "line": data.count(b"\n", 0, exc.start) + 1}


def _record_problem(record) -> str | None:
    """Why a JSON line is no document, or None."""
    if not isinstance(record, dict):
        return _('%(kind)s, not an object with a string "text".') % {"kind": value_kind(record)}
    if "text" not in record:
        return _('no "text" field.')
    if not isinstance(record["text"], str):
        return _('"text" is %(kind)s, not a string.') % {"kind": value_kind(record["text"])}
    return None
