"""Domain documents uploaded for continued pre-training (the service of the admin's
"Upload documents…")."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import project_of
from labeling.api.serializers.documents import DocumentUploadIn, DocumentUploadOut
from labeling.services.documents import documents_upload

# A bad file answers 400 on `files`: one message per problem, each naming its file (and line).
FIELD_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": {}}}


class DocumentUploadApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": DocumentUploadIn},
        responses={201: DocumentUploadOut, 400: FIELD_ERRORS},
    )
    def post(self, request, slug: str):
        """All or nothing: if any file is bad, nothing of the upload is stored."""
        project = project_of(user=request.user, slug=slug, admin=True)
        data = DocumentUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        report = documents_upload(
            project=project, files=data.validated_data["files"], uploaded_by=request.user
        )
        return Response(DocumentUploadOut(report).data, status=status.HTTP_201_CREATED)
