"""Personal-data scrubbing for exported text: matches are replaced by typed placeholders.

Order matters: the most specific patterns (Korean resident registration numbers, card
numbers that pass the Luhn check) run before the looser phone pattern could eat them.
"""

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

PLACEHOLDERS = {
    "email": "[EMAIL]",
    "kr_rrn": "[KR_RRN]",
    "card_number": "[CARD_NUMBER]",
    "ip_address": "[IP_ADDRESS]",
    "phone": "[PHONE]",
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# YYMMDD-GNNNNNN, G in 1-4 (citizens) or 5-8 (foreign residents); the date part is checked.
_KR_RRN = re.compile(r"(?<!\d)(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])[- ]?([1-8])\d{6}(?!\d)")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.])")
_HEXTET = r"[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    rf"(?<![\w:])(?:(?:{_HEXTET}:){{7}}{_HEXTET}|(?:{_HEXTET}:){{1,6}}:(?:{_HEXTET}:){{0,5}}{_HEXTET})"
    r"(?![\w:])"
)
# International (+CC ...), Korean (010-1234-5678, 02-123-4567) and North American layouts.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
    r"\d{3,4}[ .-]\d{4}(?![ .-]?\d)"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_ok(match: re.Match) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


_RULES: list[tuple[str, re.Pattern, Callable[[re.Match], bool] | None]] = [
    ("email", _EMAIL, None),
    ("kr_rrn", _KR_RRN, None),
    ("card_number", _CARD, _card_ok),
    ("ip_address", _IPV4, None),
    ("ip_address", _IPV6, None),
    ("phone", _PHONE, None),
]
# Cheap pre-checks: text with no digit and no '@' cannot hold any of the above, and each
# pattern needs at least this many digits (an IPv6 address needs colons instead), so most
# text skips most patterns: an export scrubs millions of texts.
_MAYBE_PERSONAL = re.compile(r"[\d@]")
_DIGIT = re.compile(r"\d")
_MIN_DIGITS = {"email": 0, "kr_rrn": 13, "card_number": 13, "ip_address": 4, "phone": 9}


def _may_match(kind: str, pattern: re.Pattern, text: str, digits: int) -> bool:
    if kind == "email":
        return "@" in text
    if pattern is _IPV6:
        return text.count(":") >= 2
    return digits >= _MIN_DIGITS[kind]


@dataclass
class ScrubCounts:
    """How many of each kind of personal data were replaced (kept in the manifest)."""

    by_kind: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {kind: self.by_kind.get(kind, 0) for kind in PLACEHOLDERS}


def scrub(text: str, counts: ScrubCounts | None = None) -> str:
    """Replace personal data in `text` with placeholders, counting each replacement."""
    if not text or not _MAYBE_PERSONAL.search(text):
        return text
    digits = len(_DIGIT.findall(text))
    for kind, pattern, accept in _RULES:
        if not _may_match(kind, pattern, text, digits):
            continue
        placeholder = PLACEHOLDERS[kind]

        def replace(match: re.Match, kind=kind, accept=accept, placeholder=placeholder) -> str:
            if accept is not None and not accept(match):
                return match.group(0)
            if counts is not None:
                counts.by_kind[kind] += 1
            return placeholder

        text = pattern.sub(replace, text)
    return text
