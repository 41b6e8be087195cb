"""Who made a text: written by people, drafted by a model and accepted as is, or drafted and
then changed by a person. One home for the idea, read by reviews, submissions and exports."""

import difflib
from enum import StrEnum


class Provenance(StrEnum):
    HUMAN = "human"  # written (or imported) by people
    DRAFTED = "drafted"  # a model's draft, accepted as it was
    EDITED = "edited"  # a model's draft a person changed


def edit_distance(before: str, after: str) -> int:
    """Characters inserted, deleted or replaced to turn `before` into `after`, from difflib's
    opcodes: Levenshtein's figure on small edits, without its quadratic cost on long texts."""
    if before == after:
        return 0
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


def provenance_of(*, drafted_by: str, edit_distance: int | None) -> Provenance:
    if not drafted_by:
        return Provenance.HUMAN
    return Provenance.EDITED if edit_distance else Provenance.DRAFTED


def completion_provenance(*, completion, output: str) -> dict:
    """Demonstration fields (drafted_by, edit_distance) for an output an annotator made from
    `completion` (None: written from scratch)."""
    if completion is None:
        return {}
    drafted_by = completion.drafted_by or completion.model_version.served_name
    return {"drafted_by": drafted_by, "edit_distance": edit_distance(completion.text, output)}
