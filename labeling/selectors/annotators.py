from datetime import datetime, time

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.models import Assignment, Project


def annotator_stats_for(project: Project) -> QuerySet:
    """Per annotator of the project: judgements (all, today), tasks done and time spent."""
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    judged = Q(judgement__isnull=False)
    return (
        Assignment.objects.filter(project=project, status=Assignment.Status.SUBMITTED)
        .values("annotator_id", username=F("annotator__username"))
        .annotate(
            judgements_total=Count("pk", filter=judged),
            judgements_today=Count("pk", filter=judged & Q(submitted_at__gte=today)),
            tasks_total=Count("pk"),
            time_spent_ms=Coalesce(Sum("time_spent_ms"), 0),
        )
        .order_by("username", "annotator_id")
    )
