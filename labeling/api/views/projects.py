"""Projects: members list and read theirs; a project's admins change its settings and see
its annotators' statistics."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import project_of
from labeling.api.serializers.projects import AnnotatorStatsOut, ProjectOut, ProjectUpdateIn
from labeling.models import Project
from labeling.selectors.annotators import annotator_stats_for
from labeling.selectors.projects import projects_for
from labeling.services.projects import project_update


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
        project = project_update(project=project, **data.validated_data)
        return Response(ProjectOut(project).data)


class AnnotatorStatsApi(ListAPIView):
    serializer_class = AnnotatorStatsOut
    filter_backends = []

    def get_queryset(self):
        project = project_of(user=self.request.user, slug=self.kwargs["slug"], admin=True)
        return annotator_stats_for(project)
