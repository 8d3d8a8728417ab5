"""The HTTP client adapters use: one guarded session, JSON in and out, statuses mapped onto
SPEC error categories, every secret masked out of what an error or a log line carries."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from workflows.engine import masking, outbound
from workflows.engine.errors import ErrorCategory, NodeError

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
ERROR_BODY_CHARS = 500


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON when the answer is JSON, else text
    elapsed_s: float


@dataclass
class ProviderClient:
    """Calls `base_url` + path with fixed headers (the provider's auth)."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    allow_private: bool = False
    timeout_s: float = 30.0
    secrets: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)  # what was sent, masked (for logs)

    def __post_init__(self):
        self.secrets = [*self.secrets, *masking.url_secrets(self.base_url)]  # https://user:pw@host

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> Response:
        """Send; a non-2xx status (other than `ok_statuses`) raises NodeError by category."""
        url = self.url(path)
        sent = {**self.headers, **(headers or {})}
        data = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        sent.setdefault("Accept", "application/json")
        try:
            fetched = outbound.fetch(
                outbound.session_for(allow_private=self.allow_private),
                method,
                url,
                timeout_s=timeout_s or self.timeout_s,
                max_bytes=MAX_RESPONSE_BYTES,
                params=params,
                headers=sent,
                data=data,
            )
        except NodeError as exc:
            self._record(method, url, None, 0.0, exc.message)
            raise self.masked(exc) from None
        self._record(method, url, fetched.status, fetched.elapsed_s)
        body = _parse(fetched)
        response = Response(fetched.status, fetched.headers, body, fetched.elapsed_s)
        if not 200 <= fetched.status < 300 and fetched.status not in ok_statuses:
            raise self.masked(status_error(response, method, urllib.parse.urlsplit(url).path))
        return response

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def masked(self, exc: NodeError) -> NodeError:
        if self.secrets:
            exc.message = outbound.mask_secrets(exc.message, self.secrets)
            exc.args = (exc.message,)
            exc.details = outbound.mask_secrets(exc.details, self.secrets)
        return exc

    def _record(self, method: str, url: str, status: int | None, elapsed_s: float, error: str = "") -> None:
        entry = {
            "method": method,
            "url": masking.mask_url(url),
            "status": status,
            "ms": round(elapsed_s * 1000),
        }
        if error:
            entry["error"] = error
        self.calls.append(outbound.mask_secrets(entry, self.secrets) if self.secrets else entry)


def _parse(fetched: outbound.Fetched) -> Any:
    text = fetched.content.decode("utf-8", "replace")
    mime = fetched.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime == "application/json" or mime.endswith("+json") or text[:1] in ("{", "["):
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def status_error(response: Response, method: str, path: str) -> NodeError:
    """A non-2xx answer as a NodeError (SPEC §5 http.request mapping)."""
    status = response.status
    body = response.body
    if isinstance(body, str):
        body = body[:ERROR_BODY_CHARS]
    elif len(json.dumps(body, default=str)) > 4 * ERROR_BODY_CHARS:
        body = json.dumps(body, default=str)[: 4 * ERROR_BODY_CHARS]
    details: dict[str, Any] = {"status": status, "body": body, "request": f"{method} {path}"}
    retry_after = None
    if status in (401, 403):
        category, what = ErrorCategory.AUTHENTICATION_ERROR, "the provider refused the credentials"
    elif status == 429:
        category, what = ErrorCategory.RATE_LIMIT_ERROR, "rate limited by the provider"
        retry_after = _retry_after(response.headers.get("retry-after"))
    elif status == 503:
        category, what = ErrorCategory.SERVICE_UNAVAILABLE, "the provider is unavailable"
        retry_after = _retry_after(response.headers.get("retry-after"))
    else:
        category, what = ErrorCategory.HTTP_ERROR, "the provider answered with an error"
    return NodeError(
        category, f"HTTP {status} from {method} {path}: {what}", details, retry_after_s=retry_after
    )


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None
