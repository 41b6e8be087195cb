"""Checks of what an annotator submits for a judgement, before anything is written.

Pure functions over plain values (no ORM): each returns the cleaned value to store or raises
ValidationError keyed by the form field, with a message the workspace can show as it is.
Completions are named by their position as shown ("#2"), which is what the annotator saw.
"""

from django.core.exceptions import ValidationError

from labeling.models import Judgement, TaskKind

LIKERT_FIELDS = ("helpful", "honest", "harmless")
LIKERT_RANGE = range(1, 6)
RATING_FIELDS = {"thumb", "flags", *LIKERT_FIELDS}
# Outcomes each kind accepts; the first is the one assumed when none is given.
KIND_OUTCOMES = {
    TaskKind.RANK: (
        Judgement.Outcome.RANKED,
        Judgement.Outcome.NONE_ACCEPTABLE,
        Judgement.Outcome.CANNOT_JUDGE,
    ),
    TaskKind.COMPARE: (Judgement.Outcome.CHOICE, Judgement.Outcome.CANNOT_JUDGE),
    TaskKind.RATE: (Judgement.Outcome.RATED, Judgement.Outcome.CANNOT_JUDGE),
}
NEEDS_REASON = (Judgement.Outcome.NONE_ACCEPTABLE, Judgement.Outcome.CANNOT_JUDGE)


def _labels(ids, shown: list[int]) -> str:
    """'#1, #3': positions as shown, the way the annotator knows the completions."""
    return ", ".join(f"#{shown.index(pk) + 1}" for pk in sorted(ids, key=shown.index))


def _as_id(value) -> int:
    """An int from an int or a numeric string (form values); True/False are not ids."""
    if isinstance(value, bool):
        raise ValueError(value)
    return int(value)


def outcome_clean(*, kind: str, outcome: str | None, reason: str) -> str:
    """The outcome for this kind (its default when None); some need a reason."""
    allowed = KIND_OUTCOMES[TaskKind(kind)]
    outcome = outcome or allowed[0]
    if outcome not in allowed:
        names = ", ".join(str(Judgement.Outcome(value).label) for value in allowed)
        raise ValidationError({"outcome": f"For this task the outcome is one of: {names}."})
    if outcome in NEEDS_REASON and not reason.strip():
        label = Judgement.Outcome(outcome).label
        raise ValidationError({"reason": f'Say briefly why you chose "{label}".'})
    return outcome


def ranking_clean(ranking, *, shown: list[int]) -> list[list[int]]:
    """Tie groups of completion ids, best first; every shown completion exactly once.

    A bare id stands for a group of one: [5, [7, 8], 6] is [[5], [7, 8], [6]].
    """
    if not isinstance(ranking, list | tuple) or not ranking:
        raise ValidationError({"ranking": "Rank the completions from best to worst."})
    groups: list[list[int]] = []
    try:
        for group in ranking:
            members = group if isinstance(group, list | tuple) else [group]
            if members:
                groups.append([_as_id(pk) for pk in members])
    except (TypeError, ValueError):
        raise ValidationError({"ranking": "The ranking is malformed; reload the task."}) from None
    ranked = [pk for group in groups for pk in group]
    unknown = set(ranked) - set(shown)
    if unknown:
        raise ValidationError(
            {"ranking": "The ranking names completions this task does not show; reload it."}
        )
    twice = {pk for pk in ranked if ranked.count(pk) > 1}
    if twice:
        labels = _labels(twice, shown)
        raise ValidationError(
            {"ranking": f"Each completion goes in one place only; ranked twice: {labels}."}
        )
    missing = set(shown) - set(ranked)
    if missing:
        raise ValidationError(
            {"ranking": f"Rank every completion; not ranked yet: {_labels(missing, shown)}."}
        )
    return groups


def choice_clean(choice: str | None) -> str:
    """One of Judgement.Choice: a (left), b (right), tie, both_bad."""
    if choice not in Judgement.Choice.values:
        raise ValidationError({"choice": "Choose A, B, tie or both bad."})
    return choice


def ratings_clean(ratings, *, shown: list[int]) -> dict[str, dict]:
    """{completion id: {"thumb": "up"|"down", "helpful"/"honest"/"harmless": 1-5, "flags": [...]}}.

    Every shown completion needs a thumb; the 1-5 scores and the flags are optional.
    Keys come back as strings (JSON object keys), flags deduplicated in Flag order.
    """
    if not isinstance(ratings, dict) or not ratings:
        raise ValidationError({"ratings": "Rate each completion with a thumb up or down."})
    try:
        by_id = {_as_id(pk): value for pk, value in ratings.items()}
    except (TypeError, ValueError):
        raise ValidationError({"ratings": "The ratings are malformed; reload the task."}) from None
    if set(by_id) - set(shown):
        raise ValidationError(
            {"ratings": "The ratings name completions this task does not show; reload it."}
        )
    missing = set(shown) - set(by_id)
    if missing:
        raise ValidationError(
            {"ratings": f"Rate every completion; not rated yet: {_labels(missing, shown)}."}
        )
    return {str(pk): _rating_clean(by_id[pk], label=_labels([pk], shown)) for pk in shown}


def _rating_clean(rating, *, label: str) -> dict:
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
            score = _as_id(score)
        except (TypeError, ValueError):
            score = None
        if score not in LIKERT_RANGE:
            raise ValidationError({"ratings": f"{label}: {field} is a score from 1 to 5."})
        cleaned[field] = score
    flags = rating.get("flags") or []
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
    cleaned["flags"] = [flag for flag in Judgement.Flag.values if flag in flags]
    return cleaned


def time_spent_clean(time_spent_ms) -> int:
    """Milliseconds the annotator spent, as the page measured them; never negative."""
    try:
        value = _as_id(time_spent_ms)
    except (TypeError, ValueError):
        raise ValidationError({"time_spent_ms": "Time spent must be a whole number."}) from None
    if value < 0:
        raise ValidationError({"time_spent_ms": "Time spent cannot be negative."})
    return min(value, 2**31 - 1)


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
    reason = (reason or "").strip()
    outcome = outcome_clean(kind=kind, outcome=outcome, reason=reason)
    fields = {"outcome": outcome, "ranking": None, "choice": "", "ratings": None, "reason": reason}
    if outcome == Judgement.Outcome.RANKED:
        fields["ranking"] = ranking_clean(ranking, shown=shown)
    elif outcome == Judgement.Outcome.CHOICE:
        fields["choice"] = choice_clean(choice)
    elif outcome == Judgement.Outcome.RATED:
        fields["ratings"] = ratings_clean(ratings, shown=shown)
    return fields
