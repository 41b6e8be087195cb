"""Dataset exports of a project: request one (queued for the worker), follow it, download it,
start a failed one again.

Listing or following exports first fails those whose worker died, so a client polling an
export sees it fail rather than run for ever.
"""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import object_of_admin, project_of
from labeling.api.serializers.exports import DatasetExportIn, DatasetExportOut
from labeling.api.serializers.refusals import REFUSED
from labeling.models import DatasetExport
from labeling.services.exports import (
    dataset_export_again,
    dataset_export_create,
    dataset_export_enqueue,
    dataset_exports_fail_stale,
)


class DatasetExportListApi(ListAPIView):
    queryset = DatasetExport.objects.none()  # for the schema; get_queryset scopes it
    serializer_class = DatasetExportOut
    filterset_fields = ["status", "format"]

    def get_queryset(self):
        project = project_of(user=self.request.user, slug=self.kwargs["slug"], admin=True)
        return DatasetExport.objects.filter(project=project).select_related("project")

    def get(self, request, *args, **kwargs):
        dataset_exports_fail_stale()
        return super().get(request, *args, **kwargs)

    @extend_schema(request=DatasetExportIn, responses={201: DatasetExportOut})
    def post(self, request, slug: str):
        """Queue an export (held_out false: no held-out rows); once done, it carries the
        manifest's warnings about empty or tiny splits."""
        project = project_of(user=request.user, slug=slug, admin=True)
        data = DatasetExportIn(data=request.data)
        data.is_valid(raise_exception=True)
        export = dataset_export_create(
            project=project, created_by=request.user, **data.validated_data
        )
        dataset_export_enqueue(export=export)
        return Response(DatasetExportOut(export).data, status=status.HTTP_201_CREATED)


class DatasetExportDetailApi(APIView):
    @extend_schema(responses=DatasetExportOut)
    def get(self, request, pk: int):
        dataset_exports_fail_stale()
        export = object_of_admin(user=request.user, queryset=DatasetExport.objects, pk=pk)
        return Response(DatasetExportOut(export).data)


class DatasetExportAgainApi(APIView):
    @extend_schema(request=None, responses={201: DatasetExportOut, **REFUSED})
    def post(self, request, pk: int):
        """A new export with a failed export's settings, queued for the worker (409 unless
        the export failed)."""
        export = object_of_admin(user=request.user, queryset=DatasetExport.objects, pk=pk)
        again = dataset_export_again(export=export, created_by=request.user)
        return Response(DatasetExportOut(again).data, status=status.HTTP_201_CREATED)


class DatasetExportFileApi(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk: int, name: str):
        """One file of a finished snapshot: only names its manifest lists are served."""
        export = object_of_admin(user=request.user, queryset=DatasetExport.objects, pk=pk)
        if name not in DatasetExportOut().get_files(export):
            raise NotFound("No such file in this export.")
        path = export.directory / name
        if not path.is_file():
            raise NotFound("The file is missing from the snapshot directory.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=name)
