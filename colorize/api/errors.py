"""Error bodies: `{"detail": "..."}` for everything but validation, which is always
`{"<field>": ["message", ...]}` (flat, so clients need one rule to read it)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _messages(detail: Any) -> list[str]:
    # Nested errors (a list field's item, a nested serializer) are flattened under their field.
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _messages(value)]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {field: _messages(messages) for field, messages in detail.items()}
    return response


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field name → messages. Errors that concern no single field are under "
    "`non_field_errors`.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"model": ["Unknown model “sepia”."]},
}


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


ERRORS = {
    400: OpenApiResponse(
        {"$ref": "#/components/schemas/ValidationError"},
        description="The request was refused: field → messages.",
    ),
    401: _error("The token is missing, unknown or revoked (`WWW-Authenticate` says the scheme)."),
    403: _error("A session-authenticated request without its CSRF token (tokens need none)."),
    404: _error("No such job, or not one this caller may see (never 403: no existence leak)."),
    409: _error("The job is not in a state that allows this (the detail says why)."),
    415: _error("The body is not multipart/form-data (images are sent as files)."),
    429: _error("Too many requests in this scope; retry after `Retry-After` seconds."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an endpoint."""
    return {code: ERRORS[code] for code in codes}


def add_error_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the ValidationError component that ERRORS[400]
    refers to (a free-form object, which no serializer describes)."""
    result.setdefault("components", {}).setdefault("schemas", {})["ValidationError"] = (
        VALIDATION_ERROR_SCHEMA
    )
    return result
