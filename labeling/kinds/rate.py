"""Rate: each completion on its own, a thumb up or down, optional 1-5 scores and flags.

Its thumbs give KTO rows (desirable or not, per completion) and its scores the Likert
agreement; it gives no preference pairs and takes no gold verdicts.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from labeling.forms.workspace import RateForm
from labeling.kinds.base import TEMPLATES, Figure, JudgementKind, Shows, as_id, positions_label
from labeling.models import Judgement, TaskKind
from labeling.models.judgement import LIKERT_FIELDS

LIKERT_RANGE = range(1, 6)
RATING_FIELDS = {"thumb", "flags", *LIKERT_FIELDS}


def ratings_clean(ratings, *, shown: list[int]) -> dict[str, dict]:
    """{completion id: {"thumb": "up"|"down", "helpful"/"honest"/"harmless": 1-5, "flags": [...]}}.

    Every shown completion needs a thumb; the 1-5 scores and the flags are optional.
    Keys come back as strings (JSON object keys), flags deduplicated in Flag order.
    """
    if not isinstance(ratings, dict) or not ratings:
        raise ValidationError({"ratings": _("Rate each completion with a thumb up or down.")})
    try:
        by_id = {as_id(pk): value for pk, value in ratings.items()}
    except (TypeError, ValueError):
        message = _("The ratings are malformed; reload the task.")
        raise ValidationError({"ratings": message}) from None
    if set(by_id) - set(shown):
        raise ValidationError(
            {"ratings": _("The ratings name completions this task does not show; reload it.")}
        )
    missing = set(shown) - set(by_id)
    if missing:
        message = _("Rate every completion; not rated yet: %(labels)s.")
        raise ValidationError({"ratings": message % {"labels": positions_label(missing, shown)}})
    return {str(pk): rating_clean(by_id[pk], label=positions_label([pk], shown)) for pk in shown}


def rating_clean(rating, *, label: str) -> dict:
    """One completion's rating: a thumb, optional 1-5 scores, known flags."""
    if not isinstance(rating, dict):
        raise ValidationError({"ratings": f"{label}: the rating is malformed; reload the task."})
    unknown = set(rating) - RATING_FIELDS
    if unknown:
        raise ValidationError({"ratings": f"{label}: unknown fields {', '.join(sorted(unknown))}."})
    thumb = rating.get("thumb")
    if thumb not in Judgement.Thumb.values:
        raise ValidationError({"ratings": f"{label}: give a thumb up or down."})
    cleaned: dict = {"thumb": thumb}
    for field in LIKERT_FIELDS:
        score = rating.get(field)
        if score in (None, ""):
            continue
        try:
            score = as_id(score)
        except (TypeError, ValueError):
            score = None
        if score not in LIKERT_RANGE:
            raise ValidationError({"ratings": f"{label}: {field} is a score from 1 to 5."})
        cleaned[field] = score
    cleaned["flags"] = _flags_clean(rating.get("flags") or [], label=label)
    return cleaned


def _flags_clean(flags, *, label: str) -> list[str]:
    """Known flags, deduplicated, in Flag order."""
    if not isinstance(flags, list | tuple):
        raise ValidationError({"ratings": f"{label}: flags are a list."})
    unknown_flags = set(flags) - set(Judgement.Flag.values)
    if unknown_flags:
        known = ", ".join(Judgement.Flag.values)
        raise ValidationError(
            {
                "ratings": f"{label}: unknown flags {', '.join(sorted(map(str, unknown_flags)))} "
                f"(known: {known})."
            }
        )
    return [flag for flag in Judgement.Flag.values if flag in flags]


@dataclass(frozen=True, kw_only=True)
class Rate(JudgementKind):
    def verdict_clean(self, *, outcome, shown, ranking, choice, ratings) -> dict:
        if outcome == Judgement.Outcome.RATED:
            return {"ratings": ratings_clean(ratings, shown=shown)}
        return {}


KIND = Rate(
    value=TaskKind.RATE,
    badge=_("Rate"),
    shows=Shows.ALL,
    form=RateForm,
    template=TEMPLATES + "rate.html",
    hints_template=TEMPLATES + "rate_hints.html",
    outcomes=(Judgement.Outcome.RATED, Judgement.Outcome.CANNOT_JUDGE),
    gives_kto=True,
    agreement=Figure.LIKERT,
)
