"""The task kinds, one module each over labeling.kinds.base, and the sets derived from them.

Code that treats kinds differently asks the kind (`kind_of(value).shows_completions`, or one
of the tuples below) rather than naming kinds. Adding a kind: see docs/where-to-change-what.md.
"""

from functools import cache

from labeling.kinds import answer, compare, continuation, edit, rank, rate, write
from labeling.kinds.base import (
    DemonstrationKind,
    Figure,
    JudgementKind,
    Kind,
    PromptKind,
    Records,
    Shows,
)

# In TaskKind's order, which is the order the round-robin of the queue follows.
KINDS: dict[str, Kind] = {
    module.KIND.value: module.KIND
    for module in (write, answer, rank, compare, rate, edit, continuation)
}

__all__ = [
    "KINDS",
    "DemonstrationKind",
    "Figure",
    "JudgementKind",
    "Kind",
    "PromptKind",
    "Records",
    "Shows",
    "agreement_kinds",
    "completion_kinds",
    "demonstration_kinds",
    "gold_kinds",
    "head_to_head_kinds",
    "judgement_kinds",
    "kind_of",
    "kto_kinds",
    "preference_kinds",
]


def kind_of(value: str) -> Kind:
    """The kind of a TaskKind value; LookupError for a value no kind module describes."""
    try:
        return KINDS[value]
    except KeyError:
        raise LookupError(f"No task kind {value!r}") from None


def _values(wanted) -> tuple[str, ...]:
    return tuple(kind.value for kind in KINDS.values() if wanted(kind))


@cache
def completion_kinds() -> tuple[str, ...]:
    """Kinds whose tasks show the live version's completions."""
    return _values(lambda kind: kind.shows_completions)


@cache
def judgement_kinds() -> tuple[str, ...]:
    """Kinds whose submissions are Judgements."""
    return _values(lambda kind: kind.records is Records.JUDGEMENT)


@cache
def demonstration_kinds() -> tuple[str, ...]:
    """Kinds whose submissions are Demonstrations."""
    return _values(lambda kind: kind.records is Records.DEMONSTRATION)


@cache
def gold_kinds() -> tuple[str, ...]:
    """Kinds whose judgements a gold verdict can score (labeling.quality.gold)."""
    return _values(lambda kind: kind.takes_gold)


@cache
def head_to_head_kinds() -> tuple[str, ...]:
    """Kinds whose tasks may put the live version beside the one it replaced."""
    return _values(lambda kind: kind.head_to_head)


@cache
def preference_kinds() -> tuple[str, ...]:
    """Kinds whose judgements give preference pairs and votes between model versions."""
    return _values(lambda kind: kind.gives_preferences)


@cache
def kto_kinds() -> tuple[str, ...]:
    """Kinds whose judgements give KTO rows."""
    return _values(lambda kind: kind.gives_kto)


@cache
def agreement_kinds(figure: Figure) -> tuple[str, ...]:
    """Kinds whose judgements count towards one agreement figure."""
    return _values(lambda kind: kind.agreement == figure)
