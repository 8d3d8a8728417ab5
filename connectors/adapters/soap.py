"""SOAP from a WSDL through zeep: `soap.call` invokes one operation with keyword arguments
and returns the result as JSON. The WSDL (`wsdl`, or `url`) is read once per pooled
connection, over the same guarded session the calls use; a SOAP fault fails the node with
INTEGRATION_ERROR and the fault's code and message in `details`."""

from __future__ import annotations

from typing import Any

import requests
import zeep
import zeep.exceptions
import zeep.helpers
import zeep.transports

from workflows.engine.errors import ErrorCategory, NodeError

from .base import Adapter, ConnectionSettings, Limits, Operation, OperationResult, categorize_common
from .registry import register_adapter
from .sql import jsonable
from .web import endpoint_without_userinfo, guarded_session

OPERATION = Operation(
    name="call",
    node_type="soap.call",
    label="SOAP call",
    description="Call an operation of a SOAP service described by a WSDL; outputs {result}.",
    config_schema={
        "required": ["operation"],
        "properties": {
            "operation": {"type": "string", "minLength": 1, "title": "Operation"},
            "arguments": {"type": "object", "title": "Arguments", "default": {}},
            "service": {"type": "string", "title": "Service (when the WSDL has several)"},
            "port": {"type": "string", "title": "Port (when the service has several)"},
        },
    },
    output_schema={"type": "object", "properties": {"result": {}}},
    payload_key="arguments",
    icon="soap",
)


@register_adapter
class SoapAdapter(Adapter):
    id = "soap"
    name = "SOAP"
    description = "SOAP 1.1/1.2 services from a WSDL, through zeep"
    family = "soap"
    protocols = ("http", "https")
    operations = (OPERATION,)

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        return settings.host, settings.port or (443 if settings.scheme == "https" else 80)

    def connect(self, settings: ConnectionSettings, limits: Limits) -> zeep.Client:
        session = guarded_session(settings, limits)
        transport = zeep.transports.Transport(
            session=session, timeout=max(1, limits.timeout_s), operation_timeout=max(1, limits.timeout_s)
        )
        return zeep.Client(endpoint_without_userinfo(settings.url), transport=transport)

    def close(self, connection: zeep.Client) -> None:
        connection.transport.session.close()

    def execute(self, connection: zeep.Client, operation: str, params: dict[str, Any], limits: Limits) -> Any:
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise NodeError(ErrorCategory.VALIDATION_ERROR, "arguments must be an object")
        name = params.get("operation")
        if params.get("service"):
            service = connection.bind(params["service"], params.get("port") or None)
        else:
            service = connection.service
        try:
            method = service[name]
        except (AttributeError, KeyError, ValueError):
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"the WSDL has no operation {name!r}",
                {"operation": name},
                retryable=False,
            ) from None
        connection.transport.operation_timeout = max(1, limits.timeout_s)
        result = method(**arguments)
        return OperationResult({"result": jsonable(zeep.helpers.serialize_object(result, dict))})

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, zeep.exceptions.Fault):
            return NodeError(
                ErrorCategory.INTEGRATION_ERROR,
                f"SOAP fault: {exc.message}",
                {
                    "code": exc.code,
                    "message": exc.message,
                    "detail": None if exc.detail is None else str(exc.detail),
                },
                retryable=False,
            )
        if isinstance(exc, zeep.exceptions.TransportError):
            status = exc.status_code
            if status in (401, 403):
                return NodeError(
                    ErrorCategory.AUTHENTICATION_ERROR,
                    f"HTTP {status}: authentication failed",
                    {"status": status},
                )
            if status == 503:
                return NodeError(
                    ErrorCategory.SERVICE_UNAVAILABLE, "HTTP 503: service unavailable", {"status": status}
                )
            if status == 429:
                return NodeError(ErrorCategory.RATE_LIMIT_ERROR, "HTTP 429: rate limited", {"status": status})
            return NodeError(ErrorCategory.HTTP_ERROR, f"HTTP {status}: {exc.message}", {"status": status})
        if isinstance(exc, zeep.exceptions.ValidationError | TypeError):
            return NodeError(ErrorCategory.VALIDATION_ERROR, f"invalid arguments: {exc}", retryable=False)
        if isinstance(exc, zeep.exceptions.XMLSyntaxError | zeep.exceptions.XMLParseError):
            return NodeError(
                ErrorCategory.PARSE_ERROR, f"the service answered invalid XML: {exc}", retryable=False
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return NodeError(ErrorCategory.TIMEOUT_ERROR, "the SOAP service did not answer in time")
        if isinstance(exc, requests.exceptions.RequestException):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"could not reach the SOAP service: {exc}")
        if isinstance(exc, zeep.exceptions.Error):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, f"SOAP: {exc}", retryable=False)
        return categorize_common(exc)
