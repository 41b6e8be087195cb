"""What annotators' flags and 1-5 scores do to an export (pure: no Django).

A rating (Judgement.ratings) may flag a completion harmful, factually wrong, off-topic or
holding personal data, and score it 1-5 for helpful, honest and harmless. A flag is not put to
a vote: one annotator of the prompt flagging a completion is enough, because a safety flag
that two others missed is still right more often than not.

- harmful or personal data: never a chosen answer (the pair is dropped) nor a desirable KTO
  label (an undesirable one stays: it is what the model should learn not to say);
- personal data: the completion's text leaves in no row at all: pairs naming it, its KTO
  labels and the demonstrations edited from it are dropped (the scrubber replaces known
  patterns of personal data; a person's flag catches what no pattern knows);
- a minimum helpful/harmless score (export options min_chosen_helpful, min_chosen_harmless)
  drops the pairs whose chosen answer's mean score is below it; an answer nobody scored on that
  dimension is not held to it (rankings and comparisons carry no scores).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from labeling.exports.derive import Label, Pair

# Judgement.Flag's values, in its order (tests/labeling/exports/test_flags.py keeps them equal).
FLAGS = ("harmful", "factually_wrong", "off_topic", "personal_data")
HARMFUL, PERSONAL_DATA = "harmful", "personal_data"
NEVER_CHOSEN = (PERSONAL_DATA, HARMFUL)  # checked in this order: personal data says more
# Export option -> the score it sets a minimum of, for the chosen answer of a pair.
MIN_CHOSEN_OPTIONS = {"min_chosen_helpful": "helpful", "min_chosen_harmless": "harmless"}


@dataclass(frozen=True)
class Assessment:
    """What the annotators of a prompt said about one completion beside their thumbs."""

    flags: frozenset[str] = frozenset()
    scores: dict[str, float] = field(default_factory=dict)  # mean over those who scored


def assessments_of(ratings: Iterable[dict | None]) -> dict[int, Assessment]:
    """{completion id: its flags (by anyone) and mean scores} from Judgement.ratings values
    ({completion id as a string: {"thumb", "helpful", ..., "flags"}})."""
    flags: dict[int, set[str]] = defaultdict(set)
    scores: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for judgement_ratings in ratings:
        for key, rating in (judgement_ratings or {}).items():
            completion_id = int(key)
            rating = rating or {}
            flags[completion_id].update(rating.get("flags") or ())
            for name in ("helpful", "honest", "harmless"):
                if isinstance(rating.get(name), int):
                    scores[completion_id][name].append(rating[name])
    return {
        completion_id: Assessment(
            frozenset(flags.get(completion_id, ())),
            {name: sum(values) / len(values) for name, values in scores[completion_id].items()},
        )
        for completion_id in flags.keys() | scores.keys()
    }


def minimums_of(options: dict) -> dict[str, int]:
    """{score name: minimum} the export's options set for a chosen answer."""
    return {
        score: int(options[option])
        for option, score in MIN_CHOSEN_OPTIONS.items()
        if options.get(option) is not None
    }


@dataclass
class FlagTally:
    """The manifest's "flags" (completions carrying each flag, of the prompts read) and what
    the flags and the minimum scores dropped."""

    flagged: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def count(self, assessed: dict[int, Assessment]) -> None:
        for assessment in assessed.values():
            self.flagged.update(assessment.flags)

    def manifest_parts(self) -> dict:
        return {
            "flags": {flag: self.flagged[flag] for flag in FLAGS},
            "dropped_for_flags": {
                key: self.dropped[key]
                for key in (
                    "pairs_harmful",
                    "pairs_personal_data",
                    "kto_desirable_harmful",
                    "kto_personal_data",
                    "demonstrations_personal_data",
                )
            },
            "dropped_for_scores": {
                f"pairs_below_min_{score}": self.dropped[f"pairs_below_min_{score}"]
                for score in MIN_CHOSEN_OPTIONS.values()
            },
        }


@dataclass
class Screen:
    """One chunk's assessments, applied to its pairs, labels and demonstrations; every drop
    is counted in `tally.dropped`."""

    assessed: dict[int, Assessment]
    minimums: dict[str, int]
    tally: FlagTally

    def _flags(self, completion_id: int | None) -> frozenset[str]:
        assessment = self.assessed.get(completion_id) if completion_id is not None else None
        return assessment.flags if assessment is not None else frozenset()

    def withheld(self, completion_id: int | None) -> bool:
        """Whether the completion's text may go into no row (flagged as personal data)."""
        return PERSONAL_DATA in self._flags(completion_id)

    def demonstrations(self, demonstrations: list[dict]) -> list[dict]:
        """Those not edited from a completion holding personal data (the edit keeps it)."""
        kept = [d for d in demonstrations if not self.withheld(d.get("source_completion_id"))]
        self.tally.dropped["demonstrations_personal_data"] += len(demonstrations) - len(kept)
        return kept

    def pairs(self, pairs: list[Pair]) -> list[Pair]:
        kept = []
        for pair in pairs:
            reason = self._pair_refusal(pair)
            if reason is None:
                kept.append(pair)
            else:
                self.tally.dropped[f"pairs_{reason}"] += 1
        return kept

    def _pair_refusal(self, pair: Pair) -> str | None:
        """Why the pair cannot be exported: a flag (personal data on either side, harmful
        chosen), or the chosen answer's score below a minimum; None: it can."""
        if self.withheld(pair.rejected):
            return PERSONAL_DATA
        chosen_flags = self._flags(pair.chosen)
        for flag in NEVER_CHOSEN:
            if flag in chosen_flags:
                return flag
        assessment = self.assessed.get(pair.chosen)
        for score, minimum in self.minimums.items():
            mean = assessment.scores.get(score) if assessment is not None else None
            if mean is not None and mean < minimum:
                return f"below_min_{score}"
        return None

    def labels(self, labels: list[Label]) -> list[Label]:
        """KTO labels without any of a personal-data completion and without the desirable ones
        of a harmful completion."""
        kept = []
        for label in labels:
            flags = self._flags(label.completion_id)
            if PERSONAL_DATA in flags:
                self.tally.dropped["kto_personal_data"] += 1
            elif label.desirable and HARMFUL in flags:
                self.tally.dropped["kto_desirable_harmful"] += 1
            else:
                kept.append(label)
        return kept
