"""Reviewers accept, reject (with a reason) or correct demonstrations.

A correction edits the demonstration in place and accepts it, keeping the author's text in
`original_output`: one row per demonstration, so the author sees what became of their own work
and exports (which may require acceptance) pick the corrected text without a second row.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from labeling.access import REVIEWER_ROLES, role_in
from labeling.models import Demonstration


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    CORRECT = "correct"


@transaction.atomic
def demonstration_review(
    *,
    demonstration: Demonstration,
    reviewer,
    decision: str,
    reason: str = "",
    corrected_output: str | None = None,
) -> Demonstration:
    """Record a review; a rejection needs a reason, a correction a changed output."""
    if role_in(user=reviewer, project=demonstration.prompt.project) not in REVIEWER_ROLES:
        raise PermissionDenied("Only the project's reviewers and admins review demonstrations.")
    if reviewer.pk is not None and reviewer.pk == demonstration.author_id:
        raise PermissionDenied("Nobody reviews their own demonstrations.")
    decision = _decision_clean(decision, reason, corrected_output, demonstration)
    fields = ["review_status", "review_reason", "reviewed_by", "reviewed_at"]
    if decision == Decision.CORRECT:
        if not demonstration.original_output:  # a second correction keeps the author's text
            demonstration.original_output = demonstration.output
        demonstration.output = corrected_output.strip()
        fields += ["output", "original_output"]
    demonstration.review_status = (
        Demonstration.ReviewStatus.REJECTED
        if decision == Decision.REJECT
        else Demonstration.ReviewStatus.ACCEPTED
    )
    demonstration.review_reason = reason.strip()
    demonstration.reviewed_by = reviewer
    demonstration.reviewed_at = timezone.now()
    demonstration.full_clean()
    demonstration.save(update_fields=fields)
    return demonstration


def _decision_clean(decision, reason, corrected_output, demonstration) -> Decision:
    try:
        decision = Decision(decision)
    except ValueError:
        raise ValidationError({"decision": _("Accept, reject or correct.")}) from None
    if decision == Decision.REJECT and not reason.strip():
        raise ValidationError({"reason": _("Say why it is rejected: the author sees it.")})
    if decision == Decision.CORRECT:
        if not (corrected_output or "").strip():
            raise ValidationError({"corrected_output": _("A correction needs the corrected text.")})
        if corrected_output.strip() == demonstration.output.strip():
            raise ValidationError({"corrected_output": _("The correction changes nothing.")})
    return decision
