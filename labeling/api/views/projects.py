"""Projects: members list and read theirs; a project's admins change its settings and see
its annotators' statistics."""

from datetime import datetime, time

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import project_of
from labeling.api.serializers.projects import AnnotatorStatsOut, ProjectOut, ProjectUpdateIn
from labeling.models import Assignment, Project
from labeling.selectors.projects import projects_for


class ProjectListApi(ListAPIView):
    queryset = Project.objects.none()  # for the schema; get_queryset scopes it
    serializer_class = ProjectOut

    def get_queryset(self):
        return projects_for(user=self.request.user)


class ProjectDetailApi(APIView):
    @extend_schema(responses=ProjectOut)
    def get(self, request, slug: str):
        project = project_of(user=request.user, slug=slug)
        return Response(ProjectOut(project).data)

    @extend_schema(request=ProjectUpdateIn, responses=ProjectOut)
    def patch(self, request, slug: str):
        project = project_of(user=request.user, slug=slug, admin=True)
        data = ProjectUpdateIn(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(ProjectOut(data.save()).data)


def annotator_stats(*, project: Project):
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


class AnnotatorStatsApi(ListAPIView):
    serializer_class = AnnotatorStatsOut
    filter_backends = []

    def get_queryset(self):
        project = project_of(user=self.request.user, slug=self.kwargs["slug"], admin=True)
        return annotator_stats(project=project)
