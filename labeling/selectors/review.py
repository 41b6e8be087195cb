from django.db.models import QuerySet

from labeling.models import Demonstration, Project


def demonstrations_pending_review(*, project: Project, reviewer) -> QuerySet[Demonstration]:
    """Pending demonstrations of the project that `reviewer` did not write, oldest first."""
    return (
        Demonstration.objects.filter(
            prompt__project=project, review_status=Demonstration.ReviewStatus.PENDING
        )
        .exclude(author=reviewer)
        .select_related("prompt", "source_completion")
        .order_by("created_at", "pk")
    )
