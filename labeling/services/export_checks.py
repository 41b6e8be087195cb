"""The checks of an export request (split, filters, options): each returns the cleaned value
to store, or raises ValidationError keyed by the field, at the click."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from labeling.exports.flags import MIN_CHOSEN_OPTIONS
from labeling.exports.formats import PREFERENCE_FORMATS
from labeling.exports.split import NO_HELD_OUT
from labeling.models import Demonstration, Project

FILTER_KEYS = {"date_from", "date_to", "annotators", "model_versions", "review_status"}
FILTER_KEYS |= {"min_agreement"}
BOOLEAN_OPTION_KEYS = {
    "require_accepted",
    "kto_from_rankings",
    "conversational",
    "near_duplicates",
    "human_only",
}
SCORE_OPTION_KEYS = set(MIN_CHOSEN_OPTIONS)  # a 1-5 minimum score of a chosen answer
OPTION_KEYS = BOOLEAN_OPTION_KEYS | SCORE_OPTION_KEYS
DEFAULT_SPLIT = (0.9, 0.05, 0.05)


def split_clean(split, *, held_out: bool) -> tuple[float, float, float]:
    if split is None:
        return DEFAULT_SPLIT if held_out else NO_HELD_OUT
    try:
        parts = tuple(float(part) for part in split)
    except (TypeError, ValueError):
        raise ValidationError({"split": _("Give three fractions, e.g. 0.9, 0.05, 0.05.")}) from None
    if len(parts) != 3 or any(part < 0 for part in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise ValidationError({"split": _("Three non-negative fractions that add up to 1.")})
    if parts[0] == 0:
        raise ValidationError({"split": _("The train split cannot be empty.")})
    if not held_out and any(parts[1:]):
        raise ValidationError(
            {"split": _("No held-out rows was chosen, but this split holds rows out: use 1,0,0.")}
        )
    return parts  # type: ignore[return-value]


def filters_clean(filters: dict, *, project: Project) -> dict:
    unknown = set(filters) - FILTER_KEYS
    if unknown:
        raise ValidationError(
            {"filters": _("Unknown filters: %(names)s.") % {"names": ", ".join(sorted(unknown))}}
        )
    cleaned = {key: value for key, value in filters.items() if value not in (None, "", [])}
    for key in ("date_from", "date_to"):
        if key in cleaned:
            try:
                cleaned[key] = date.fromisoformat(str(cleaned[key])).isoformat()
            except ValueError:
                raise ValidationError(
                    {"filters": _("%(key)s: use a date like 2025-01-31.") % {"key": key}}
                ) from None
    if cleaned.get("date_from", "") > cleaned.get("date_to", "9999-12-31"):
        raise ValidationError({"filters": _("date_from is after date_to.")})
    for key in ("annotators", "model_versions"):
        if key in cleaned:
            cleaned[key] = _int_list(cleaned[key], key)
    if "model_versions" in cleaned:
        known = set(project.model_versions.values_list("number", flat=True))
        missing = sorted(set(cleaned["model_versions"]) - known)
        if missing:
            raise ValidationError(
                {
                    "filters": _("model_versions: no version %(missing)s here.")
                    % {"missing": missing}
                }
            )
    if "review_status" in cleaned:
        statuses = cleaned["review_status"]
        statuses = [statuses] if isinstance(statuses, str) else list(statuses)
        if set(statuses) - set(Demonstration.ReviewStatus.values):
            known = ", ".join(Demonstration.ReviewStatus.values)
            raise ValidationError(
                {"filters": _("review_status: one or more of %(known)s.") % {"known": known}}
            )
        cleaned["review_status"] = statuses
    if "min_agreement" in cleaned:
        try:
            cleaned["min_agreement"] = float(cleaned["min_agreement"])
        except (TypeError, ValueError):
            cleaned["min_agreement"] = -1.0
        if not 0.0 <= cleaned["min_agreement"] <= 1.0:
            raise ValidationError({"filters": _("min_agreement: a share from 0 to 1.")})
    return cleaned


def _int_list(value, key: str) -> list[int]:
    values = value if isinstance(value, list | tuple) else [value]
    try:
        return sorted({int(item) for item in values})
    except (TypeError, ValueError):
        raise ValidationError(
            {"filters": _("%(key)s: a list of whole numbers.") % {"key": key}}
        ) from None


def options_clean(options: dict, *, format: str | None = None) -> dict:
    """Switches as booleans; minimum scores as whole numbers 1-5 (unset ones left out), only
    for a preference export (`format`; None: not checked), where a pair has a chosen answer."""
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise ValidationError(
            {"options": _("Unknown options: %(names)s.") % {"names": ", ".join(sorted(unknown))}}
        )
    cleaned = {key: bool(value) for key, value in options.items() if key in BOOLEAN_OPTION_KEYS}
    for key in sorted(SCORE_OPTION_KEYS & set(options)):
        if options[key] in (None, ""):
            continue
        cleaned[key] = _score_clean(options[key], key)
        if format is not None and format not in PREFERENCE_FORMATS:
            raise ValidationError(
                {
                    "options": _(
                        "%(key)s: only a preference export has chosen answers to hold to it."
                    )
                    % {"key": key}
                }
            )
    return cleaned


def _score_clean(value, key: str) -> int:
    """A whole score from 1 to 5: "4" and 4.0 are 4; True, 3.5 and 6 are refused."""
    if isinstance(value, bool):
        score = None
    else:
        try:
            score = float(value)
        except (TypeError, ValueError):
            score = None
    if score is None or not score.is_integer() or not 1 <= score <= 5:
        raise ValidationError({"options": _("%(key)s: a whole score from 1 to 5.") % {"key": key}})
    return int(score)
