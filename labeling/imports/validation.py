"""Turns a raw record from a reader into a typed `ImportRow`, or the `RowError`s that stop it.

The checks mirror the Prompt and Demonstration fields (sizes, text only, no NUL), so the import
can bulk-insert without `full_clean()` per row and still never store what a form would refuse.
Errors name fields as the file does ("context", "messages[1].content") so they can be found.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from dataclasses import dataclass, field
from typing import Any

from labeling.imports.formats import Format, Location, RowError
from labeling.models.prompt import (
    MAX_INPUT_CHARS,
    MAX_INSTRUCTION_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_SHORT_CHARS,
    Prompt,
)

MAX_LANGUAGE_CHARS = Prompt._meta.get_field("language").max_length
# NUL is refused by PostgreSQL; lone surrogates are bytes that were not UTF-8 (or "\ud800").
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_SHORT_FIELDS = {
    "category": MAX_SHORT_CHARS,
    "language": MAX_LANGUAGE_CHARS,
    "source": MAX_SHORT_CHARS,
}


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One valid prompt from the file; `output`, when given, becomes a reference demonstration."""

    location: Location
    instruction: str
    input: str = ""
    output: str = ""
    category: str = ""
    language: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def row_validate(
    location: Location, record: dict[str, Any], *, format: Format, default_source: str
) -> ImportRow | list[RowError]:
    check = _RowCheck(location, record)
    if format == Format.MESSAGES:
        instruction, input, output = _conversation_fields(check)
    else:
        instruction = check.text("instruction", MAX_INSTRUCTION_CHARS, required=True)
        input = check.text_either(("input", "context"), MAX_INPUT_CHARS)
        output = check.text_either(("output", "response"), MAX_OUTPUT_CHARS)
    short = {name: check.text(name, limit) for name, limit in _SHORT_FIELDS.items()}
    metadata = check.metadata()
    if check.errors:
        return check.errors
    return ImportRow(
        location=location,
        instruction=instruction,
        input=input,
        output=output if output.strip() else "",
        category=short["category"],
        language=short["language"],
        source=short["source"] or default_source,
        metadata=metadata,
    )


class _RowCheck:
    """Reads fields off one record, remembering which were used and what was wrong."""

    def __init__(self, location: Location, record: dict[str, Any]) -> None:
        self.location = location
        self.record = record
        self.used: set[str] = set()
        self.extra: dict[str, Any] = {}  # metadata the format itself produces
        self.errors: list[RowError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(RowError(self.location, field, message))

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        self.used.add(name)
        return self.checked_text(name, self.record.get(name), limit, required=required)

    def checked_text(self, name: str, value: Any, limit: int, *, required: bool = False) -> str:
        problem = _text_problem(value, limit, required=required)
        if problem:
            self.fail(name, problem)
            return ""
        return value or ""

    def text_either(self, names: tuple[str, str], limit: int) -> str:
        """One field that files spell two ways (Alpaca's input is Dolly's context)."""
        given = [name for name in names if self.record.get(name) not in (None, "")]
        if len(given) > 1:
            self.used.update(names)
            self.fail(given[1], f"given together with '{given[0]}'; use one of them")
            return ""
        return self.text(given[0] if given else names[0], limit)

    def metadata(self) -> dict[str, Any]:
        """Every field the prompt has no column for, kept rather than dropped."""
        metadata = {}
        unknown = {k: v for k, v in self.record.items() if k not in self.used}
        for key, value in (self.extra | unknown).items():
            if value in (None, ""):
                continue
            try:
                metadata[_metadata_key(key)] = _metadata_value(value)
            except ValueError as exc:
                self.fail(str(key), str(exc))
        return metadata


def _text_problem(value: Any, limit: int, *, required: bool) -> str | None:
    if value is None:
        return "missing" if required else None
    if not isinstance(value, str):
        return f"expected text, got {_kind(value)}"
    if required and not value.strip():
        return "empty"
    if len(value) > limit:
        return f"{len(value):,} characters; the limit is {limit:,}"
    return _character_problem(value)


def _character_problem(text: str) -> str | None:
    match = _BAD_CHARACTER.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character"
    return "is not valid UTF-8 (an undecodable byte or a lone surrogate)"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | decimal.Decimal):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _metadata_key(key: Any) -> str:
    key = str(key)
    if problem := _character_problem(key):
        raise ValueError(f"field name {problem}")
    return key


def _metadata_value(value: Any) -> Any:
    """A JSON-ready copy: Parquet gives dates and decimals, JSONField wants plain JSON."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        if problem := _character_problem(value):
            raise ValueError(problem)
        return value
    if isinstance(value, dict):
        return {_metadata_key(k): _metadata_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_metadata_value(item) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | datetime.timedelta):
        return str(value)
    raise ValueError(f"{_kind(value)} cannot be stored")


def _conversation_fields(check: _RowCheck) -> tuple[str, str, str]:
    """Instruction, input and reference output of a `messages` conversation.

    The first user turn is the instruction and the first assistant turn after it the reference
    output; a system turn and any further turns are kept in metadata, so nothing is dropped.
    """
    check.used.add("messages")
    turns = _turns(check)
    if turns is None:
        return "", "", ""
    roles = [role for role, _ in turns]
    if "user" not in roles:
        check.fail("messages", "has no user turn")
        return "", "", ""
    user = roles.index("user")
    assistant = next((i for i in range(user + 1, len(turns)) if roles[i] == "assistant"), None)
    system = roles.index("system") if "system" in roles else None
    instruction = check.checked_text(
        f"messages[{user}].content", turns[user][1], MAX_INSTRUCTION_CHARS, required=True
    )
    output = ""
    if assistant is not None:
        field_name = f"messages[{assistant}].content"
        output = check.checked_text(field_name, turns[assistant][1], MAX_OUTPUT_CHARS)
    if system is not None:
        check.extra["system"] = turns[system][1]
    messages = check.record["messages"]
    later = [messages[i] for i in range(len(turns)) if i not in {user, assistant, system}]
    if later:
        check.extra["more_messages"] = later
    return instruction, "", output


def _turns(check: _RowCheck) -> list[tuple[str, str | None]] | None:
    """(role, content) for each message, or None when the list is not a conversation."""
    messages = check.record.get("messages")
    if messages is None:
        check.fail("messages", "missing")
        return None
    if not isinstance(messages, list):
        check.fail("messages", f"expected a list of {{role, content}}, got {_kind(messages)}")
        return None
    errors_before = len(check.errors)
    turns = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            check.fail(f"messages[{index}]", f"expected an object, got {_kind(message)}")
            continue
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str):
            problem = "missing" if role is None else f"expected text, got {_kind(role)}"
            check.fail(f"messages[{index}].role", problem)
        if content is not None and not isinstance(content, str):
            check.fail(f"messages[{index}].content", f"expected text, got {_kind(content)}")
        turns.append((role, content))
    return None if len(check.errors) > errors_before else turns
