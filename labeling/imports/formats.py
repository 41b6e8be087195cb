"""Readers for prompt files: each yields `(Location, dict)` per record, or a `RowError`.

Readers only parse; `validation.py` decides what a record means. They stream, so memory stays
flat whatever the file size: JSON Lines and CSV line by line, a JSON array element by element,
Parquet in record batches. Text is decoded as UTF-8 with `surrogateescape`, so a bad byte does
not stop the file: validation reports it against the field that holds it.

Messages are translated (gettext) when made, so in the language of the request, or of the
import job (given its requester's); field names and the JSON decoder's words stay the file's.
"""

from __future__ import annotations

import codecs
import csv
import decimal
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_LINE_BYTES = 4 * 1024 * 1024  # far above the field limits; stops a runaway line early
MAX_RECORD_CHARS = MAX_LINE_BYTES  # the same bound for one element of a JSON array
_CHUNK_BYTES = 1024 * 1024
_HEAD_BYTES = 64 * 1024
_NON_SPACE = re.compile(r"\S")
_PANDAS_INDEX_PREFIX = "__index_level_"  # pandas' own index column, not data
KNOWN_COLUMNS = frozenset(
    {"instruction", "input", "context", "output", "response", "category", "language", "source"}
)


class Format(models.TextChoices):
    ALPACA = "alpaca", gettext_lazy("Alpaca (instruction, input, output; JSON array or JSON Lines)")
    DOLLY = "dolly", gettext_lazy("Dolly (instruction, context, response, category; JSON Lines)")
    MESSAGES = "messages", gettext_lazy("Conversational messages, every turn kept (JSON Lines)")
    SHAREGPT = (
        "sharegpt",
        gettext_lazy("ShareGPT conversations (from/value turns; JSON Lines or array)"),
    )
    HH_RLHF = "hh_rlhf", gettext_lazy("HH-RLHF chosen/rejected transcripts (JSON Lines)")
    CSV = "csv", gettext_lazy("CSV with a header row")
    PARQUET = "parquet", "Parquet"


class ImportFileError(Exception):
    """The file as a whole cannot be read (empty, unknown format, not Parquet...)."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a record sits, in the terms a person would look it up by in that file; shown in
    the language active when it is shown."""

    line: int | None = None  # 1-based physical line (JSON Lines, CSV, JSON array)
    element: int | None = None  # 0-based index in a JSON array, as in jq's `.[3]`
    row: int | None = None  # 1-based row of a Parquet file

    def __str__(self) -> str:
        if self.row is not None:
            return _("row %(row)s") % {"row": self.row}
        if self.element is not None:
            return _("element [%(element)s] at line %(line)s") % {
                "element": self.element,
                "line": self.line,
            }
        return _("line %(line)s") % {"line": self.line}


@dataclass(frozen=True, slots=True)
class RowError:
    location: Location
    field: str  # as named in the file ("context", "messages[2].content"); "" for the record
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: {self.field}" if self.field else str(self.location)
        return f"{where}: {self.message}"


Record = tuple[Location, dict[str, Any]]


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _NotJson(_("%(constant)s is not valid JSON") % {"constant": name})


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def format_detect(path: Path) -> Format:
    """The format, from the content rather than the extension, which is often wrong or absent."""
    with open(path, "rb") as file:
        head = file.read(_HEAD_BYTES)
    if head.startswith(b"PAR1"):
        return Format.PARQUET
    text = head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape").lstrip()
    if not text:
        message = _("%(file)s is empty: there are no prompts to import.")
        raise ImportFileError(message % {"file": path.name})
    if text[0] in "[{":
        return _json_format(text)
    if path.suffix.lower() == ".csv" or "instruction" in _csv_header_names(text):
        return Format.CSV
    message = _(
        "Cannot tell the format of %(file)s: it is not JSON, JSON Lines, Parquet, or CSV "
        "with an 'instruction' column. Name the format (%(formats)s)."
    )
    raise ImportFileError(message % {"file": path.name, "formats": ", ".join(Format.values)})


def _json_format(text: str) -> Format:
    """Alpaca, Dolly, messages, ShareGPT or HH-RLHF, from the fields of the first record."""
    try:
        if text[0] == "[":
            first, _ = _JSON.raw_decode(text, _NON_SPACE.search(text, 1).start())
        else:
            first = _JSON.decode(text.split("\n", 1)[0])
    except (ValueError, AttributeError):
        return Format.ALPACA  # the reader will point at the broken record
    fields = first.keys() if isinstance(first, dict) else ()
    if "messages" in fields:
        return Format.MESSAGES
    if "conversations" in fields:
        return Format.SHAREGPT
    if "chosen" in fields and "rejected" in fields and "instruction" not in fields:
        return Format.HH_RLHF
    if "context" in fields or "response" in fields:
        return Format.DOLLY
    return Format.ALPACA


def _csv_header_names(text: str) -> set[str]:
    first_line = text.split("\n", 1)[0]
    try:
        return {name.strip().lower() for name in next(csv.reader([first_line]), [])}
    except csv.Error:
        return set()


def records_read(path: Path, format: Format) -> Iterator[Record | RowError]:
    """Every record of the file in order, or the error that stops one record being read."""
    if format == Format.PARQUET:
        return _parquet_records(path)
    if format == Format.CSV:
        return _csv_records(path)
    return _json_records(path)


def _json_records(path: Path) -> Iterator[Record | RowError]:
    with open(path, "rb") as file:
        head = file.read(_HEAD_BYTES).removeprefix(codecs.BOM_UTF8).lstrip()
    if head.startswith(b"["):
        return _json_array_records(path)
    return _json_lines_records(path)


def _lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """Physical lines with their 1-based numbers; None for a line over MAX_LINE_BYTES."""
    with open(path, "rb") as file:
        number = 0
        while raw := file.readline(MAX_LINE_BYTES):
            number += 1
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
                continue
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            yield number, raw.decode("utf-8", "surrogateescape")


def _too_long(location: Location) -> RowError:
    return RowError(location, "", _("longer than %(mb)s MB") % {"mb": MAX_LINE_BYTES // 2**20})


def _json_lines_records(path: Path) -> Iterator[Record | RowError]:
    for number, text in _lines(path):
        location = Location(line=number)
        if text is None:
            yield _too_long(location)
        elif text.strip():
            try:
                value = _JSON.decode(text)
            except json.JSONDecodeError as exc:
                message = _("invalid JSON: %(error)s (column %(column)s)")
                yield RowError(location, "", message % {"error": exc.msg, "column": exc.colno})
                continue
            except _NotJson as exc:
                yield RowError(location, "", _invalid_json(exc))
                continue
            yield _object_or_error(location, value)


def _invalid_json(exc: _NotJson) -> str:
    return _("invalid JSON: %(error)s") % {"error": exc}


def value_kind(value: Any) -> str:
    """What a value is, as an error names it ("expected text, got a number")."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _("a string")
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, int | float | decimal.Decimal):
        return _("a number")
    if isinstance(value, list | tuple):
        return _("a list")
    if isinstance(value, dict):
        return _("an object")
    return _("a %(type)s") % {"type": type(value).__name__}


def _object_or_error(location: Location, value: Any) -> Record | RowError:
    if isinstance(value, dict):
        return location, value
    message = _("expected a JSON object {...}, got %(kind)s") % {"kind": value_kind(value)}
    return RowError(location, "", message)


def _json_array_records(path: Path) -> Iterator[Record | RowError]:
    """Elements of a top-level JSON array, decoded one at a time by the C decoder."""
    with open(path, "rb") as file:
        window = _JsonWindow(file)
        window.peek()
        window.pos += 1  # the "[" that _json_records saw
        index = 0
        if window.peek() == "]":
            window.pos += 1
        else:
            while True:
                window.peek()
                location = Location(line=window.line(), element=index)
                try:
                    value = window.decode()
                except ValueError as exc:
                    message = _("%(error)s; the rest of the array cannot be read")
                    yield RowError(location, "", message % {"error": exc})
                    return
                yield _object_or_error(location, value)
                index += 1
                window.compact()
                separator = window.peek()
                window.pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    yield _array_broken(Location(line=window.line(), element=index), separator)
                    return
        if window.peek():
            yield RowError(Location(line=window.line()), "", _("unexpected text after the array"))


def _array_broken(location: Location, found: str) -> RowError:
    if not found:
        return RowError(location, "", _("the array ends without its closing ']'"))
    message = _("expected ',' or ']' after the previous element, got %(found)s")
    return RowError(location, "", message % {"found": repr(found)})


class _JsonWindow:
    """A sliding window over a JSON file: enough text to decode the next value, plus the line."""

    def __init__(self, file) -> None:
        self._file = file
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._first = True
        self._line = 1  # line number at text[_counted]
        self._counted = 0
        self.text = ""
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        chunk = self._file.read(_CHUNK_BYTES)
        if self._first:
            chunk, self._first = chunk.removeprefix(codecs.BOM_UTF8), False
        self.eof = not chunk
        self.text += self._decoder.decode(chunk, final=self.eof)
        return not self.eof

    def line(self, pos: int | None = None) -> int:
        """Line number at `pos` (default: the read position); counts only new text."""
        pos = self.pos if pos is None else pos
        self._line += self.text.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def peek(self) -> str:
        """The next non-space character, or '' at the end of the file; moves past spaces."""
        while True:
            match = _NON_SPACE.search(self.text, self.pos)
            if match:
                self.pos = match.start()
                return self.text[self.pos]
            self.pos = len(self.text)
            if not self.fill():
                return ""

    def compact(self) -> None:
        if self.pos > _CHUNK_BYTES:
            self.line()
            self.text, self.pos, self._counted = self.text[self.pos :], 0, 0

    def decode(self) -> Any:
        """The value at the read position, reading on while it may be cut off by the window."""
        while True:
            try:
                value, end = _JSON.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.text) - self.pos > MAX_RECORD_CHARS:
                    message = _("invalid JSON: %(error)s at line %(line)s")
                    line = self.line_of(exc.pos)
                    raise ValueError(message % {"error": exc.msg, "line": line}) from None
                self.fill()
                continue
            except _NotJson as exc:
                raise ValueError(_invalid_json(exc)) from None
            if end == len(self.text) and self.fill():
                continue  # a number at the window's edge may go on
            self.pos = end
            return value

    def line_of(self, pos: int) -> int:
        return self._line + self.text.count("\n", self._counted, pos)


def _csv_records(path: Path) -> Iterator[Record | RowError]:
    too_long: list[int] = []

    def texts() -> Iterator[str]:
        for number, text in _lines(path):
            if text is None:
                too_long.append(number)
            yield "\n" if text is None else text

    reader = csv.reader(texts())
    header = _csv_header(reader, path)
    while header:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(Location(line=start), "", _("not valid CSV: %(error)s") % {"error": exc})
            continue
        if too_long and too_long[-1] >= start:  # the placeholder fed for it reads as blank
            too_long.clear()
            yield _too_long(Location(line=start))
        elif values:
            yield _csv_record(Location(line=start), header, values)


def _csv_header(reader, path: Path) -> list[str] | None:
    """Column names; the known ones are matched case-insensitively, as spreadsheets vary."""
    try:
        names = next((row for row in reader if row), None)
    except csv.Error as exc:
        message = _("%(file)s: the header row is not valid CSV: %(error)s")
        raise ImportFileError(message % {"file": path.name, "error": exc}) from exc
    if names is None:
        return None
    header = []
    for number, name in enumerate(names, start=1):
        name = name.strip()
        header.append(name.lower() if name.lower() in KNOWN_COLUMNS else name or f"column_{number}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        message = _("%(file)s: the header names %(names)s twice.")
        raise ImportFileError(message % {"file": path.name, "names": ", ".join(repeated)})
    return header


def _csv_record(location: Location, header: list[str], values: list[str]) -> Record | RowError:
    if len(values) > len(header):
        message = _("%(values)s values, but the header names %(columns)s columns")
        return RowError(location, "", message % {"values": len(values), "columns": len(header)})
    return location, dict(zip(header, values, strict=False))


def _parquet_records(path: Path) -> Iterator[Record | RowError]:
    """Rows in record batches, so only one batch is ever held as Python objects."""
    import pyarrow as pa  # imported here: the other formats do not need it
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        number = 0
        for batch in parquet.iter_batches(batch_size=1000):
            for record in batch.to_pylist():
                number += 1
                yield Location(row=number), _without_pandas_index(record)
    except (pa.ArrowException, OSError) as exc:
        message = _("%(file)s is not a readable Parquet file: %(error)s")
        raise ImportFileError(message % {"file": path.name, "error": exc}) from exc


def _without_pandas_index(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if not key.startswith(_PANDAS_INDEX_PREFIX)}
