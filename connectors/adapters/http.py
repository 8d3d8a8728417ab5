"""HTTP(S) as an adapter: one request out, its answer judged (SPEC §5 `http.request` rules).

The `http.request` node stays in `workflows/nodes/http.py` (the engine's core type); the
connector step executor sends each step through this adapter (`send` + `judge`), and
`execute` serves any host that wants the plain operation. Requests go through the
thread's guarded session: the outbound address rule holds on every connection and
redirect, statuses map onto SPEC categories, bodies are read with a size cap.
"""

from __future__ import annotations

from typing import Any

import requests

from workflows.engine import outbound
from workflows.engine.httpcall import RequestSpec, build_request, parse_body, status_error

from .base import Adapter, ConnectionSettings, Limits, OperationResult
from .registry import register_adapter


@register_adapter
class HttpAdapter(Adapter):
    id = "http"
    name = "HTTP"
    description = "HTTP(S) requests through the engine's guarded session"
    family = "http"
    protocols = ("http", "https")
    pooled = False  # the guarded session pools its own connections per thread
    operations = ()  # the http.request node type is the engine's own

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        return None  # the guarded session checks each address it connects to, redirects included

    def connect(self, settings: ConnectionSettings | None, limits: Limits) -> requests.Session:
        return outbound.session_for(allow_private=limits.allow_private)

    def close(self, connection: requests.Session) -> None:
        pass  # shared by the thread

    def send(self, session: requests.Session, spec: RequestSpec, *, timeout_s: float, max_bytes: int):
        """Send one request; the fully read response (NodeError for transport failures)."""
        return outbound.fetch(
            session,
            spec.method,
            spec.url,
            timeout_s=timeout_s,
            max_bytes=max_bytes,
            params=spec.params,
            headers=dict(spec.headers),
            data=spec.data,
        )

    def judge(self, fetched: outbound.Fetched) -> Any:
        """The parsed body of a 2xx answer; otherwise the status's NodeError."""
        if not 200 <= fetched.status < 300:
            raise status_error(fetched)
        return parse_body(fetched)

    def execute(
        self, connection: requests.Session, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        spec = build_request(params)
        fetched = self.send(connection, spec, timeout_s=limits.timeout_s, max_bytes=limits.max_bytes)
        body = self.judge(fetched)
        return OperationResult(
            {"status": fetched.status, "headers": fetched.headers, "body": body}, bytes=len(fetched.content)
        )
