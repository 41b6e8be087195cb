"""Sentences the engine writes for people, kept translatable although the engine is Django-free.

The engine writes English. A sentence a person reads in the web app (the publish gate's
reason, why a run cannot train on an export, what is wrong with a conversation) is a `Text`: a
`str.format` template and its values; a value may be a Text itself (a method's label), shown
in the same language. The template is marked with `gettext_noop`, a no-op named as Django's,
so that `manage.py makemessages` collects it into the catalogue like any marked string; the
web app shows it with `gettext(template).format(**params)` (core.texts.text_shown), in the
reader's language. Values are plain JSON (numbers, strings), so a Text can be stored (as
`to_dict()`) and shown later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def gettext_noop(message: str) -> str:
    """Marks `message` for the catalogue (makemessages looks for this name); returns it."""
    return message


@dataclass(frozen=True)
class Text:
    template: str  # English, a str.format template: also the catalogue's msgid
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.params)

    def to_dict(self) -> dict[str, Any]:
        """As stored (JSON): a value that is itself a Text is stored as its dict."""
        params = {k: v.to_dict() if isinstance(v, Text) else v for k, v in self.params.items()}
        return {"template": self.template, "params": params}
