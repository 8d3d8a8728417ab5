"""OpenAPI helpers: the shared error shape on every operation, paginated envelopes, id params.

`add_error_responses` is a drf-spectacular post-processing hook (SPECTACULAR_SETTINGS): every
operation documents the JSON error answers any of them can give (400 malformed body or query,
401, 403, 404 unknown id or page; bodies: 413, 415), each `{"error": {"code", "message",
"details"}}`. Views document their own extra codes (408, 409, 410, 429) with `ERROR`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from .api_params import UUID_PATTERN

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "VALIDATION_ERROR"},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
COMMON = {
    "400": "Malformed body or query parameter; `details` names the field.",
    "401": "Not authenticated.",
    "403": "Not allowed (a viewer writing, for example).",
    "404": "No such object in your workspaces, or no such page.",
}
WITH_BODY = {
    "413": "The body is too large.",
    "415": "Unsupported content type.",
}


class ErrorSerializer(serializers.Serializer):
    """Placeholder the views name in `responses`; the hook points it at the Error component."""

    error = serializers.DictField()


def ERROR(description: str) -> OpenApiResponse:  # noqa: N802 - reads like a constant in responses
    return OpenApiResponse(response=ErrorSerializer, description=description)


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    result["components"]["schemas"].pop("ErrorSerializer", None)
    result["components"]["schemas"].pop("Error_", None)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            wanted = dict(COMMON, **(WITH_BODY if method in ("post", "put", "patch") else {}))
            for code, description in wanted.items():
                responses.setdefault(code, {"description": description})
            for response in responses.values():
                content = response.get("content", {}).get("application/json")
                if content and content.get("schema", {}).get("$ref", "").endswith("/ErrorSerializer"):
                    content["schema"] = ERROR_REF
            for code, response in responses.items():
                if code >= "400" and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return result


def paginated(name: str, item) -> serializers.Serializer:
    """`{count, next, previous, results: [item]}` (DRF's PageNumberPagination)."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.CharField(allow_null=True),
            "previous": serializers.CharField(allow_null=True),
            "results": item(many=True),
        },
    )


ID_PARAM = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, pattern=f"^{UUID_PATTERN}$", description="A UUID."
)
PAGE_PARAM = OpenApiParameter(
    "page", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Page number (50 a page)."
)


def uuid_query(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.UUID, OpenApiParameter.QUERY, description=description)
