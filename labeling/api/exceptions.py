"""Domain exceptions as HTTP answers, so views need no try/except of their own."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.api.serializers.imports import encodable
from labeling.imports.formats import ImportFileError
from labeling.services.exports import DatasetExportRefused
from labeling.services.prompt_import import PromptImportRejected
from labeling.services.queue import SubmissionRefused
from training.services.versions import PublishError


def exception_handler(exc, context):
    """ValidationError → 400 keyed by field; a refused submission, publish or export → 409;
    a rejected import → 400 listing the rows' errors."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, PromptImportRejected):
        report = exc.report
        body = {"detail": encodable(str(exc).splitlines()[0]), "invalid_rows": report.invalid}
        body["errors"] = [encodable(line) for line in report.error_lines()]
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    elif isinstance(exc, ImportFileError):
        exc = exceptions.ValidationError({"file": [encodable(str(exc))]})
    elif isinstance(exc, SubmissionRefused | PublishError | DatasetExportRefused):
        return Response({"detail": str(getattr(exc, "message", exc))}, status=409)
    return drf_exception_handler(exc, context)
