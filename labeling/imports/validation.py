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

from django.utils.translation import gettext as _

from core.texts import text_shown
from labeling.imports.formats import Format, Location, RowError, value_kind
from labeling.models.prompt import (
    MAX_INPUT_CHARS,
    MAX_INSTRUCTION_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_SHORT_CHARS,
    Prompt,
)
from training.engine.prompts import ASSISTANT, ROLES, SYSTEM, USER, conversation_problems

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
    history: list[dict[str, str]] = field(default_factory=list)  # the turns before this one
    rejected_output: str = ""  # an imported preference's rejected answer (HH-RLHF)


def row_validate(
    location: Location, record: dict[str, Any], *, format: Format, default_source: str
) -> ImportRow | list[RowError]:
    check = _RowCheck(location, record)
    history: list = []
    input = rejected_output = ""
    shape = _record_shape(format, record)
    if shape == Format.HH_RLHF:
        instruction, history, output, rejected_output = _hh_fields(check)
    elif shape in (Format.MESSAGES, Format.SHAREGPT):
        shape = _MESSAGES if shape == Format.MESSAGES else _SHAREGPT
        instruction, history, output = _conversation_fields(check, shape)
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
        history=history,
        rejected_output=rejected_output if output.strip() else "",
    )


def _record_shape(format: Format, record: dict[str, Any]) -> Format:
    """The shape of a record: the format's own, or for Parquet (whose columns say what a
    file holds) the conversational shape its columns name."""
    if format != Format.PARQUET:
        return format
    if "messages" in record:
        return Format.MESSAGES
    if "conversations" in record:
        return Format.SHAREGPT
    if "chosen" in record and "rejected" in record and "instruction" not in record:
        return Format.HH_RLHF
    return format


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
            message = _("given together with '%(other)s'; use one of them")
            self.fail(given[1], message % {"other": given[0]})
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
        return _("missing") if required else None
    if not isinstance(value, str):
        return _not_text(value)
    if required and not value.strip():
        return _("empty")
    if len(value) > limit:
        message = _("%(count)s characters; the limit is %(limit)s")
        return message % {"count": f"{len(value):,}", "limit": f"{limit:,}"}
    return _character_problem(value)


def _not_text(value: Any) -> str:
    return _("expected text, got %(kind)s") % {"kind": value_kind(value)}


def _character_problem(text: str) -> str | None:
    match = _BAD_CHARACTER.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return _("contains a NUL character")
    return _("is not valid UTF-8 (an undecodable byte or a lone surrogate)")


def _metadata_key(key: Any) -> str:
    key = str(key)
    if problem := _character_problem(key):
        raise ValueError(_("field name %(problem)s") % {"problem": problem})
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
    raise ValueError(_("%(kind)s cannot be stored") % {"kind": value_kind(value)})


@dataclass(frozen=True)
class _Shape:
    """How a file spells a conversation: the list's field, each turn's role and text fields,
    and the role names it uses for system, user and assistant."""

    field: str
    role: str
    content: str
    roles: dict[str, str]


_MESSAGES = _Shape("messages", "role", "content", {r: r for r in ROLES})
_SHAREGPT = _Shape(
    "conversations",
    "from",
    "value",
    {
        "system": SYSTEM,
        "human": USER,
        "user": USER,
        "gpt": ASSISTANT,
        "assistant": ASSISTANT,
        "chatgpt": ASSISTANT,
        "bard": ASSISTANT,
        "bing": ASSISTANT,
        "model": ASSISTANT,
    },
)
_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
_HH_ROLES = {"Human": USER, "Assistant": ASSISTANT}
_HH_MARKS = {"human": "'\\n\\nHuman: '", "assistant": "'\\n\\nAssistant: '"}  # as written


def _conversation_fields(check: _RowCheck, shape: _Shape) -> tuple[str, list, str]:
    """(the last user turn, the history before it, the reference answer) of a conversation.

    Every turn is kept: a final assistant turn is the reference answer (a demonstration),
    the turns before the last user turn are the prompt's history. A conversation that is not
    one (an unknown role, two user turns in a row, an empty turn) is refused turn by turn.
    """
    check.used.add(shape.field)
    turns = _turns(check, shape)
    if turns is None:
        return "", [], ""
    output = ""
    if turns[-1][0] == ASSISTANT and len(turns) > 1:
        output = check.checked_text(
            f"{shape.field}[{len(turns) - 1}].{shape.content}", turns[-1][1], MAX_OUTPUT_CHARS
        )
        turns = turns[:-1]
    if turns[-1][0] != USER:
        check.fail(shape.field, _("has no user turn to answer"))
        return "", [], ""
    instruction = check.checked_text(
        f"{shape.field}[{len(turns) - 1}].{shape.content}",
        turns[-1][1],
        MAX_INSTRUCTION_CHARS,
        required=True,
    )
    return instruction, [{"role": r, "content": c} for r, c in turns[:-1]], output


def _turns(check: _RowCheck, shape: _Shape) -> list[tuple[str, str]] | None:
    """(role, text) for each turn, or None (with the errors recorded) when the list is not a
    conversation."""
    turns_value = check.record.get(shape.field)
    if turns_value is None:
        check.fail(shape.field, _("missing"))
        return None
    if not isinstance(turns_value, list) or not turns_value:
        got = _("an empty list") if turns_value == [] else value_kind(turns_value)
        expected = f"{{{shape.role}, {shape.content}}}"
        message = _("expected a list of %(turns)s, got %(kind)s")
        check.fail(shape.field, message % {"turns": expected, "kind": got})
        return None
    errors_before = len(check.errors)
    turns = []
    for index, turn in enumerate(turns_value):
        where = f"{shape.field}[{index}]"
        if not isinstance(turn, dict):
            check.fail(where, _("expected an object, got %(kind)s") % {"kind": value_kind(turn)})
            continue
        role, content = turn.get(shape.role), turn.get(shape.content)
        if not isinstance(role, str):
            check.fail(f"{where}.{shape.role}", _("missing") if role is None else _not_text(role))
        elif role.strip().lower() not in shape.roles:
            known = ", ".join(sorted(set(shape.roles)))
            message = _("%(role)s is not a role (%(roles)s)")
            check.fail(f"{where}.{shape.role}", message % {"role": repr(role), "roles": known})
        if problem := _text_problem(content, MAX_INPUT_CHARS, required=True):
            check.fail(f"{where}.{shape.content}", problem)
        turns.append((shape.roles.get(str(role).strip().lower(), ""), content))
    if len(check.errors) > errors_before:
        return None
    for index, problem in conversation_problems([role for role, _text in turns], complete=True):
        check.fail(f"{shape.field}[{index}]", text_shown(problem))
    return None if len(check.errors) > errors_before else turns


def _hh_fields(check: _RowCheck) -> tuple[str, list, str, str]:
    """HH-RLHF's `chosen` and `rejected` transcripts ("\n\nHuman: ... \n\nAssistant: ..."):
    the history they share, the last human turn, and the two last assistant turns, which
    become a preference (chosen over rejected)."""
    parsed = {}
    for name in ("chosen", "rejected"):
        check.used.add(name)
        text = check.record.get(name)
        if problem := _text_problem(text, MAX_INPUT_CHARS * 4, required=True):
            check.fail(name, problem)
            continue
        turns = _hh_turns(text)
        roles = [role for role, _text in turns]
        problems = conversation_problems(roles, complete=True) if turns else []
        if not turns or problems or turns[-1][0] != ASSISTANT or len(turns) < 2:
            message = _(
                "expected alternating %(human)s and %(assistant)s turns ending with an "
                "Assistant turn"
            )
            check.fail(name, message % _HH_MARKS)
            continue
        if any(not content.strip() for _role, content in turns):
            check.fail(name, _("has an empty turn"))
            continue
        parsed[name] = turns
    if len(parsed) < 2:
        return "", [], "", ""
    chosen, rejected = parsed["chosen"], parsed["rejected"]
    if chosen[:-1] != rejected[:-1]:
        check.fail("rejected", _("its conversation before the last answer differs from chosen's"))
        return "", [], "", ""
    instruction = check.checked_text("chosen", chosen[-2][1].strip(), MAX_INSTRUCTION_CHARS)
    history = [{"role": r, "content": c.strip()} for r, c in chosen[:-2]]
    output = check.checked_text("chosen", chosen[-1][1].strip(), MAX_OUTPUT_CHARS)
    rejected_output = check.checked_text("rejected", rejected[-1][1].strip(), MAX_OUTPUT_CHARS)
    return instruction, history, output, rejected_output


def _hh_turns(text: str) -> list[tuple[str, str]]:
    """(role, text) of each turn of an HH-RLHF transcript; empty when it has no turn marker
    at its start."""
    parts = _HH_TURN.split(text if text.startswith("\n\n") else "\n\n" + text)
    if parts[0].strip():
        return []
    return [(_HH_ROLES[parts[i]], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
