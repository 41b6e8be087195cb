"""Checks of what an annotator submits, before anything is written.

The checks of each kind's verdict live with the kind (labeling.kinds); this is the entry the
writers (the queue's submit, the demo's synthetic judgements) call with a kind's name. Pure
functions over plain values: each returns what to store or raises ValidationError keyed by
the form field.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from labeling.kinds import JudgementKind, kind_of
from labeling.kinds.base import as_id


def judgement_payload_clean(
    *,
    kind: str,
    shown: list[int],
    outcome: str | None,
    ranking,
    choice: str | None,
    ratings,
    reason: str,
) -> dict:
    """The Judgement fields (outcome, ranking, choice, ratings, reason) for one submission."""
    spec = kind_of(kind)
    if not isinstance(spec, JudgementKind):
        raise LookupError(f"Task kind {kind!r} records no judgement")
    return spec.payload_clean(
        shown=shown, outcome=outcome, ranking=ranking, choice=choice, ratings=ratings, reason=reason
    )


def time_spent_clean(time_spent_ms) -> int:
    """Milliseconds the annotator spent, as the page measured them; never negative."""
    try:
        value = as_id(time_spent_ms)
    except (TypeError, ValueError):
        raise ValidationError({"time_spent_ms": _("Time spent must be a whole number.")}) from None
    if value < 0:
        raise ValidationError({"time_spent_ms": _("Time spent cannot be negative.")})
    return min(value, 2**31 - 1)
