"""HTTP requests as the engine sends them: build, judge, parse (SPEC §5 `http.request`).

`build_request` turns a rendered request config (method, url, query, headers, auth, body)
into what goes on the wire; `status_error` maps a failing status onto a SPEC category;
`parse_body` reads a response as JSON or text. `http.request`, `flow.poll`, connectors and
the HTTP-based integration adapters all share these, so auth, body types and the
status → category mapping mean the same everywhere. Sending goes through `outbound`.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from . import outbound
from .errors import ErrorCategory, NodeError
from .masking import is_sensitive_header, url_secrets

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
BODY_TYPES = ("json", "form", "xml", "raw")
AUTH_TYPES = ("none", "bearer", "api_key", "basic")
CONTENT_TYPES = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "xml": "application/xml",
    "raw": "text/plain",
}
DEFAULT_TIMEOUT_MS = 30_000
ERROR_BODY_CHARS = 1000
_AUTH_REQUIRED = {"bearer": ("token",), "api_key": ("name", "value"), "basic": ("username",)}
# Credentials typed straight into headers or the query (not via `auth`) are masked in logs too.
_SENSITIVE_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "api_key",
        "x-auth-token",
        "token",
        "access_token",
        "key",
        "password",
        "secret",
    }
)


def validate_http_config(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """Save-time checks beyond the schema: auth fields per type, URL scheme, form body."""
    auth = config.get("auth") or {"type": "none"}
    for key in _AUTH_REQUIRED.get(auth.get("type"), ()):
        if auth.get(key) in (None, ""):
            yield (f"auth.{key}", f"{key!r} is required for {auth['type']} auth")
    url = config.get("url", "")
    if "{{" not in url[:12] and not url.lower().startswith(("http://", "https://")):
        yield ("url", "url must start with http:// or https://")
    body, body_type = config.get("body"), config.get("body_type", "json")
    if body_type == "form" and body is not None and not isinstance(body, dict | str):
        yield ("body", "a form body must be an object")
    if body_type == "xml" and body is not None and not isinstance(body, str):
        yield ("body", "an xml body must be a string")


# --------------------------------------------------------------------- building a request


@dataclass
class RequestSpec:
    """Everything that goes on the wire, plus the credential strings to mask in logs."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    data: bytes | None = None
    secrets: list[str] = field(default_factory=list)


def _invalid(message: str) -> NodeError:
    return NodeError(ErrorCategory.VALIDATION_ERROR, message)


def _text(value: Any) -> str:
    """A rendered scalar as wire text: JSON spelling for booleans/objects, str otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | dict | list) or value is None:
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def build_request(config: dict[str, Any]) -> RequestSpec:
    """Turn a rendered http.request config into a RequestSpec (VALIDATION_ERROR if malformed)."""
    method = str(config.get("method") or "GET").upper()
    if method not in METHODS:
        raise _invalid(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    url = config.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise _invalid(f"url must be an http:// or https:// URL, got {url!r}")
    spec = RequestSpec(method=method, url=url)
    query = config.get("query") or {}
    if not isinstance(query, dict):
        raise _invalid("query must be an object")
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                spec.params.append((str(name), _text(item)))
    headers = config.get("headers") or {}
    if not isinstance(headers, dict):
        raise _invalid("headers must be an object")
    for name, value in headers.items():
        if value is not None:
            spec.headers[str(name)] = _text(value)
    _apply_auth(spec, config.get("auth") or {"type": "none"})
    spec.secrets += url_secrets(url)  # `https://user:password@host/`
    url_query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
    for name, value in [*spec.headers.items(), *spec.params, *url_query]:
        if name.lower() in _SENSITIVE_NAMES or is_sensitive_header(name):
            spec.secrets += [value, value.split(" ", 1)[-1]]  # "Bearer abc": also "abc"
    body_type = config.get("body_type") or "json"
    if body_type not in BODY_TYPES:
        raise _invalid(f"body_type must be one of {', '.join(BODY_TYPES)}")
    spec.data = encode_body(config.get("body"), body_type)
    if spec.data is not None and "Content-Type" not in spec.headers:  # the user's header wins
        spec.headers["Content-Type"] = CONTENT_TYPES[body_type]
    return spec


def _apply_auth(spec: RequestSpec, auth: Any) -> None:
    if not isinstance(auth, dict):
        raise _invalid("auth must be an object with a type")
    kind = auth.get("type") or "none"
    if kind not in AUTH_TYPES:
        raise _invalid(f"auth.type must be one of {', '.join(AUTH_TYPES)}")
    for key in _AUTH_REQUIRED.get(kind, ()):
        if auth.get(key) in (None, ""):
            raise _invalid(f"auth.{key} is required for {kind} auth")
    if kind == "bearer":
        token = _text(auth["token"])
        spec.headers["Authorization"] = f"Bearer {token}"
        spec.secrets += [token]
    elif kind == "basic":
        password = _text(auth.get("password") or "")
        pair = f"{_text(auth['username'])}:{password}".encode()
        encoded = base64.b64encode(pair).decode("ascii")
        spec.headers["Authorization"] = f"Basic {encoded}"
        spec.secrets += [password, encoded]
    elif kind == "api_key":
        name, value = _text(auth["name"]), _text(auth["value"])
        if auth.get("in", "header") == "query":
            spec.params.append((name, value))
        elif auth.get("in", "header") == "header":
            spec.headers[name] = value
        else:
            raise _invalid("auth.in must be 'header' or 'query'")
        spec.secrets += [value]


def encode_body(body: Any, body_type: str) -> bytes | None:
    """Encode a rendered body for `body_type` (None: no body)."""
    if body is None or body == "":
        return None
    if body_type == "json":
        if isinstance(body, str):
            try:
                json.loads(body)
                return body.encode()  # already JSON text (e.g. typed in a text box)
            except ValueError:
                pass
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    if body_type == "form":
        if isinstance(body, str):
            return body.encode()
        if not isinstance(body, dict):
            raise _invalid("a form body must be an object")
        pairs = [
            (str(k), _text(v))
            for k, value in body.items()
            for v in (value if isinstance(value, list) else [value])
            if v is not None
        ]
        return urllib.parse.urlencode(pairs).encode()
    if body_type == "xml" and not isinstance(body, str):
        raise _invalid("an xml body must be a string")
    return _text(body).encode()


def timeout_seconds(config: dict[str, Any], remaining_s: float | None) -> float:
    """min(config timeout_ms, the attempt's remaining time), in seconds."""
    raw = config.get("timeout_ms")
    try:
        wanted = float(raw) / 1000 if raw not in (None, "") else DEFAULT_TIMEOUT_MS / 1000
    except (TypeError, ValueError):
        raise _invalid(f"timeout_ms must be a number, got {raw!r}") from None
    if wanted <= 0:
        raise _invalid("timeout_ms must be positive")
    return wanted if remaining_s is None else min(wanted, remaining_s)


def _is_json(headers: dict[str, str]) -> bool:
    mime = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def _charset(headers: dict[str, str]) -> str:
    for param in headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def response_text(fetched: outbound.Fetched) -> str:
    """The body as text, by the declared charset (UTF-8 when none or unknown)."""
    try:
        return fetched.content.decode(_charset(fetched.headers), "replace")
    except LookupError:
        return fetched.content.decode("utf-8", "replace")


def parse_body(fetched: outbound.Fetched) -> Any:
    """JSON when the response says so (empty: null; unparseable: PARSE_ERROR), else text."""
    if not _is_json(fetched.headers):
        return response_text(fetched)
    if not fetched.content.strip():
        return None
    try:
        return json.loads(response_text(fetched))
    except ValueError as exc:
        raise NodeError(
            ErrorCategory.PARSE_ERROR,
            f"response is not valid JSON: {exc}",
            {"status": fetched.status, "body": response_text(fetched)[:ERROR_BODY_CHARS]},
            retryable=False,
        ) from None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or HTTP-date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def status_error(fetched: outbound.Fetched) -> NodeError:
    """The NodeError for a non-2xx response: 401/403, 429, 503 and other statuses (SPEC §5)."""
    status = fetched.status
    text = response_text(fetched)
    body: Any = text[:ERROR_BODY_CHARS]
    if _is_json(fetched.headers) and len(text) <= ERROR_BODY_CHARS:
        try:
            body = json.loads(text)
        except ValueError:
            pass
    details: dict[str, Any] = {"status": status, "body": body}
    retry_after = None
    if status in (401, 403):
        category, what = ErrorCategory.AUTHENTICATION_ERROR, "authentication failed"
    elif status == 429:
        category, what = ErrorCategory.RATE_LIMIT_ERROR, "rate limited"
        retry_after = parse_retry_after(fetched.headers.get("retry-after"))
    elif status == 503:
        category, what = ErrorCategory.SERVICE_UNAVAILABLE, "service unavailable"
        retry_after = parse_retry_after(fetched.headers.get("retry-after"))
    else:
        category, what = ErrorCategory.HTTP_ERROR, "request failed"
    if retry_after is not None:
        details["retry_after_s"] = retry_after
    return NodeError(category, f"HTTP {status}: {what}", details, retry_after_s=retry_after)
