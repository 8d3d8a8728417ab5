"""What every HTTP intake shares: JSON answers, the method and body-size checks, and how
a body becomes data by its content type."""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.conf import settings
from django.http import JsonResponse

from config import json_input
from config.api_errors import error_body


def json_error(status: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def ignored(reason: str) -> JsonResponse:
    """A delivery the trigger's filters leave out: 200 so the sender does not retry it."""
    return JsonResponse({"ignored": reason}, status=200)


def read_body(request, *, methods: tuple[str, ...] | None = ("POST",)) -> bytes | JsonResponse:
    """The raw body, or the error answer for a wrong method (None: any method) or an
    oversized body."""
    if methods is not None and request.method not in methods:
        response = json_error(
            405, "METHOD_NOT_ALLOWED", f"This trigger accepts {', '.join(methods)} requests."
        )
        response["Allow"] = ", ".join(methods)
        return response
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        return json_error(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit} bytes.")
    raw = request.body
    if len(raw) > limit:
        return json_error(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit} bytes.")
    return raw


def parse_body(request, raw: bytes):
    """JSON (None when blank; raises ValueError when invalid or holding NUL), a form as a
    dict, else text."""
    ctype = (request.content_type or "").lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        if not raw.strip():
            return None
        return json_input.loads(raw)
    if ctype == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return json_input.refuse_nul(form)  # PostgreSQL stores no NUL: refused on every database
    return json_input.refuse_nul(raw.decode("utf-8", "replace")) if raw else None
