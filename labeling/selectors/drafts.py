"""Reads of drafted instructions."""

from django.db.models import QuerySet

from labeling.models import DraftPrompt, Project


def drafts_pending(*, project: Project) -> QuerySet[DraftPrompt]:
    """The project's drafts nobody has decided yet, oldest first."""
    return DraftPrompt.objects.filter(project=project, status=DraftPrompt.Status.PENDING).order_by(
        "pk"
    )
