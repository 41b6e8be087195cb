"""Prompt import from an uploaded file (the same service as the import_prompts command)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.refusals import RefusalCode
from labeling.api.permissions import project_of
from labeling.api.serializers.imports import PromptImportIn, PromptImportOut
from labeling.services.prompt_import import prompts_import_upload

# A 400 is either the file's rows rejected, or the request's own fields invalid (the file
# missing or too large, an unknown format): messages keyed by field name.
FIELD_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": {}}}
ROWS_REJECTED = {
    "type": "object",
    "required": ["detail", "code", "invalid_rows", "errors"],
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": [RefusalCode.IMPORT_INVALID_ROWS.value]},
        "invalid_rows": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
}
REJECTED = {"anyOf": [ROWS_REJECTED, FIELD_ERRORS]}


class PromptImportApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": PromptImportIn},
        responses={201: PromptImportOut, 400: REJECTED},
    )
    def post(self, request, slug: str):
        """All or nothing unless skip_invalid: a file with invalid rows imports nothing and
        the answer lists the rows' errors."""
        project = project_of(user=request.user, slug=slug, admin=True)
        data = PromptImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        report = prompts_import_upload(
            project=project,
            upload=data.validated_data["file"],
            format=data.validated_data.get("format"),
            skip_invalid=data.validated_data["skip_invalid"],
        )
        return Response(PromptImportOut(report).data, status=status.HTTP_201_CREATED)
