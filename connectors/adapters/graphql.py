"""GraphQL over HTTP: `graphql.query` posts `{query, variables, operationName}` to the
credential's `url` (queries and mutations alike). An answer with an `errors` array fails the
node with INTEGRATION_ERROR, the errors (and any partial `data`) in `details`."""

from __future__ import annotations

import json
from typing import Any

import requests

from workflows.engine import outbound
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.httpcall import parse_body, status_error

from .base import Adapter, ConnectionSettings, Limits, Operation, OperationResult, categorize_common
from .registry import register_adapter
from .web import endpoint_without_userinfo, guarded_session

OPERATION = Operation(
    name="query",
    node_type="graphql.query",
    label="GraphQL query",
    description="Run a GraphQL query or mutation with variables; outputs {data}.",
    config_schema={
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "minLength": 1, "title": "Query or mutation"},
            "variables": {"type": "object", "title": "Variables", "default": {}},
            "operation_name": {"type": "string", "title": "Operation name"},
        },
    },
    output_schema={"type": "object", "properties": {"data": {"type": "object"}}},
    payload_key="variables",
    icon="graphql",
)


class _GraphqlConnection:
    def __init__(self, session: requests.Session, url: str):
        self.session = session
        self.url = url

    def close(self) -> None:
        self.session.close()


@register_adapter
class GraphqlAdapter(Adapter):
    id = "graphql"
    name = "GraphQL"
    description = "GraphQL APIs over HTTP(S)"
    family = "graphql"
    protocols = ("http", "https")
    operations = (OPERATION,)

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        return settings.host, settings.port or (443 if settings.scheme == "https" else 80)

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _GraphqlConnection:
        return _GraphqlConnection(guarded_session(settings, limits), endpoint_without_userinfo(settings.url))

    def execute(
        self, connection: _GraphqlConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        variables = params.get("variables") or {}
        if not isinstance(variables, dict):
            raise NodeError(ErrorCategory.VALIDATION_ERROR, "variables must be an object")
        payload: dict[str, Any] = {"query": params.get("query"), "variables": variables}
        if params.get("operation_name"):
            payload["operationName"] = params["operation_name"]
        body = json.dumps(payload, separators=(",", ":")).encode()
        fetched = outbound.fetch(
            connection.session,
            "POST",
            connection.url,
            timeout_s=limits.timeout_s,
            max_bytes=limits.max_bytes,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            data=body,
        )
        if fetched.status in (401, 403, 429, 503):  # the transport's verdict says more than its errors
            raise status_error(fetched)
        answer = parse_body(fetched) if fetched.content else None
        if isinstance(answer, dict) and answer.get("errors"):
            raise NodeError(
                ErrorCategory.INTEGRATION_ERROR,
                f"GraphQL errors: {'; '.join(str(e.get('message', e)) for e in answer['errors'][:3])}",
                {"errors": answer["errors"], "data": answer.get("data"), "status": fetched.status},
                retryable=False,
            )
        if not 200 <= fetched.status < 300:
            raise status_error(fetched)
        if not isinstance(answer, dict) or "data" not in answer:
            raise NodeError(
                ErrorCategory.PARSE_ERROR,
                "the answer is not a GraphQL response (no data)",
                {"status": fetched.status},
            )
        return OperationResult({"data": answer["data"]}, bytes=len(fetched.content))

    def categorize(self, exc: BaseException) -> NodeError:
        return categorize_common(exc)
