"""Training runs and model versions of a project, for its admins."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import object_of_admin, project_of
from labeling.api.serializers.refusals import REFUSED
from training.api.serializers import ModelVersionOut, TrainingRunIn, TrainingRunOut
from training.models import ModelVersion, TrainingRun
from training.services.runs import training_run_cancel, training_run_create
from training.services.versions import model_version_publish, model_version_rollback


class TrainingRunListApi(ListAPIView):
    queryset = TrainingRun.objects.none()  # for the schema; get_queryset scopes it
    serializer_class = TrainingRunOut
    filterset_fields = ["status", "method"]

    def get_queryset(self):
        project = project_of(user=self.request.user, slug=self.kwargs["slug"], admin=True)
        return TrainingRun.objects.filter(project=project).select_related(
            "project", "base_version", "result_version"
        )

    @extend_schema(request=TrainingRunIn, responses={201: TrainingRunOut})
    def post(self, request, slug: str):
        project = project_of(user=request.user, slug=slug, admin=True)
        data = TrainingRunIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        export = project.exports.filter(pk=fields["export"]).first()
        if export is None:
            raise ValidationError({"export": ["No such export in this project."]})
        base_version = None
        if "base_version" in fields:
            base_version = project.model_versions.filter(number=fields["base_version"]).first()
            if base_version is None:
                raise ValidationError({"base_version": ["No such version in this project."]})
        reward_version = None
        if "reward_version" in fields:
            reward_version = project.model_versions.filter(number=fields["reward_version"]).first()
            if reward_version is None:
                raise ValidationError({"reward_version": ["No such version in this project."]})
        run = training_run_create(
            project=project,
            method=fields["method"],
            export=export,
            base_version=base_version,
            reward_version=reward_version,
            overrides=fields["overrides"],
            publish=fields["publish"],
            created_by=request.user,
        )
        return Response(TrainingRunOut(run).data, status=status.HTTP_201_CREATED)


class TrainingRunDetailApi(APIView):
    @extend_schema(responses=TrainingRunOut)
    def get(self, request, pk: int):
        run = object_of_admin(user=request.user, queryset=TrainingRun.objects, pk=pk)
        return Response(TrainingRunOut(run).data)


class TrainingRunCancelApi(APIView):
    @extend_schema(request=None, responses=TrainingRunOut)
    def post(self, request, pk: int):
        run = object_of_admin(user=request.user, queryset=TrainingRun.objects, pk=pk)
        return Response(TrainingRunOut(training_run_cancel(run=run)).data)


class ModelVersionListApi(ListAPIView):
    queryset = ModelVersion.objects.none()
    serializer_class = ModelVersionOut
    filterset_fields = ["status"]

    def get_queryset(self):
        project = project_of(user=self.request.user, slug=self.kwargs["slug"], admin=True)
        return ModelVersion.objects.filter(project=project).select_related("project")


class ModelVersionPublishApi(APIView):
    @extend_schema(request=None, responses={200: ModelVersionOut, **REFUSED})
    def post(self, request, pk: int):
        version = object_of_admin(user=request.user, queryset=ModelVersion.objects, pk=pk)
        return Response(ModelVersionOut(model_version_publish(version=version)).data)


class ModelVersionRollbackApi(APIView):
    @extend_schema(request=None, responses={200: ModelVersionOut, **REFUSED})
    def post(self, request, pk: int):
        version = object_of_admin(user=request.user, queryset=ModelVersion.objects, pk=pk)
        return Response(ModelVersionOut(model_version_rollback(version=version)).data)
