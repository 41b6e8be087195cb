"""Sentences written by the Django-free engine, shown in the reader's language.

The engine writes a sentence as a template and its values (training.engine.texts.Text); the
English template is the catalogue's msgid. This module only reads that shape (an object with
`template` and `params`, or the dict it is stored as), so core stays free of the engine.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext


def text_shown(text: Any) -> str:
    """`text` in the active language: a Text, a stored one ({"template", "params"}), or plain
    text (stored before sentences had templates), which is shown as it is. A value that is a
    text itself is shown in the same language."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, dict):
        template, params = str(text.get("template", "")), dict(text.get("params") or {})
    else:
        template, params = text.template, dict(text.params)
    params = {k: text_shown(v) if _is_text(v) else v for k, v in params.items()}
    try:
        return gettext(template).format(**params)
    except (KeyError, IndexError, ValueError):  # a translation that lost or broke a placeholder
        return template.format(**params)


def _is_text(value: Any) -> bool:
    return (isinstance(value, dict) and "template" in value) or hasattr(value, "template")
