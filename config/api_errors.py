"""One JSON error shape for the whole API (SPEC §6): {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from workflows.engine.errors import WorkflowInvalid

from .errors import ApplicationError

logger = logging.getLogger("switchyard.api")


class ApiError(exceptions.APIException):
    """A domain error with an explicit code, raised by services and views."""

    def __init__(self, code: str, message: str, *, status_code: int = 400, details=None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}


CODES = {
    exceptions.ValidationError: "VALIDATION_ERROR",
    exceptions.ParseError: "PARSE_ERROR",
    exceptions.NotAuthenticated: "NOT_AUTHENTICATED",
    exceptions.AuthenticationFailed: "AUTHENTICATION_FAILED",
    exceptions.PermissionDenied: "PERMISSION_DENIED",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "RATE_LIMITED",
}


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return f"{key}: {inner}" if key != "non_field_errors" else inner
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, WorkflowInvalid):
        issues = [issue.as_dict() for issue in exc.issues]
        first = issues[0] if issues else {}
        where = first.get("node") or (
            f"edge {first['edge']}" if first.get("edge") is not None else "document"
        )
        message = f"The workflow is invalid: {where}: {first.get('field') or ''}: {first.get('message', '')}"
        return Response(error_body("VALIDATION_ERROR", message, {"errors": issues}), status=400)
    if isinstance(exc, ApiError | ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            error_body("INTERNAL_ERROR", "Something went wrong on our side; the error was logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "ERROR")
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        details = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = error_body(code, _first_message(detail), details)
    else:
        message = detail.get("detail", str(exc)) if isinstance(detail, dict) else str(detail)
        response.data = error_body(code, str(message))
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("NOT_FOUND", f"No such resource: {request.path}"), status=404)


def json_server_error(request):
    return JsonResponse(
        error_body("INTERNAL_ERROR", "Something went wrong on our side; the error was logged."), status=500
    )


def json_forbidden(request, message: str = "You are not allowed to do this."):
    return JsonResponse(error_body("PERMISSION_DENIED", message), status=403)


def json_bad_request(request):
    return JsonResponse(error_body("BAD_REQUEST", "The request could not be understood."), status=400)
