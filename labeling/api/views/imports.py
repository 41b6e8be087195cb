"""Prompt import from an uploaded file (the same service as the import_prompts command)."""

import tempfile
from pathlib import Path

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.refusals import RefusalCode
from labeling.api.permissions import project_of
from labeling.api.serializers.imports import PromptImportIn, PromptImportOut
from labeling.services.prompt_import import prompts_import

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
        upload = data.validated_data["file"]
        if upload.size > settings.PROMPT_IMPORT_MAX_BYTES:
            limit = settings.PROMPT_IMPORT_MAX_BYTES // (1024 * 1024)
            raise ValidationError({"file": [f"The file is larger than {limit} MiB."]})
        with tempfile.TemporaryDirectory() as directory:
            # The service names the file in its report; keep the name, drop any path.
            path = Path(directory) / (Path(upload.name).name or "upload")
            with path.open("wb") as file:
                for chunk in upload.chunks():
                    file.write(chunk)
            report = prompts_import(
                project=project,
                path=path,
                format=data.validated_data.get("format"),
                skip_invalid=data.validated_data["skip_invalid"],
            )
        return Response(PromptImportOut(report).data, status=status.HTTP_201_CREATED)
