"""Domain exceptions as HTTP answers, so views need no try/except of their own."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.refusals import Refusal
from labeling.api.serializers.imports import encodable
from labeling.imports.formats import ImportFileError


def exception_handler(exc, context):
    """ValidationError → 400 keyed by field; an unreadable import file → 400 on `file`; every
    refusal → `{"detail", "code", ...its details}` with its own status (409, or 400 for a
    file whose rows were rejected)."""
    if isinstance(exc, Refusal):
        return refusal_response(exc)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ImportFileError):
        exc = exceptions.ValidationError({"file": [encodable(str(exc))]})
    return drf_exception_handler(exc, context)


def refusal_response(refusal: Refusal) -> Response:
    """The one shape of a refusal (see labeling.api.serializers.refusals): texts rendered in
    the request's language, and made writable as UTF-8 (an import quotes raw bytes)."""
    body = {"detail": str(refusal.message), "code": str(refusal.code), **refusal.details()}
    return Response(_encodable(body), status=refusal.http_status)


def _encodable(value):
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {key: _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value
