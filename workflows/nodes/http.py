"""`http.request`: call an HTTP API (SPEC §5).

Config arrives rendered. `build_request` turns it into what goes on the wire (auth, query,
headers, encoded body); `perform` sends it through a guarded session (`engine.outbound`)
and returns `{status, headers, body}`; `status_error` maps a failing status onto a SPEC
category. `perform` and `status_error` are shared with other request-making nodes.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from ..engine import outbound
from ..engine.conditions import check_condition, evaluate_condition
from ..engine.errors import ErrorCategory, NodeError
from ..engine.registry import NodeContext, NodeResult, Wait, node_type

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

_TEMPLATED = {"type": "string", "pattern": r"\{\{"}  # a template that renders to the real type
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "method": {"type": "string", "enum": list(METHODS), "default": "GET", "title": "Method"},
        "url": {"type": "string", "minLength": 1, "title": "URL"},
        "query": {"type": "object", "title": "Query parameters", "default": {}},
        "headers": {
            "type": "object",
            "title": "Headers",
            "default": {},
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        },
        "auth": {
            "type": "object",
            "title": "Authentication",
            "default": {"type": "none"},
            "properties": {
                "type": {"type": "string", "enum": list(AUTH_TYPES)},
                "token": {"type": "string"},
                "in": {"type": "string", "enum": ["header", "query"], "default": "header"},
                "name": {"type": "string"},
                "value": {"type": "string"},
                "username": {"type": "string"},
                "password": {"type": "string"},
            },
            "required": ["type"],
        },
        "body": {"title": "Body"},
        "body_type": {"type": "string", "enum": list(BODY_TYPES), "default": "json", "title": "Body type"},
        "timeout_ms": {"anyOf": [{"type": "integer", "minimum": 1}, _TEMPLATED], "title": "Timeout (ms)"},
        "fail_on_status": {
            "anyOf": [{"type": "boolean"}, _TEMPLATED],
            "default": True,
            "title": "Fail on non-2xx status",
        },
        "wait_for_callback": {"type": "boolean", "default": False, "title": "Wait for a callback"},
    },
}


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
    if config.get("wait_for_callback") is True:
        yield ("wait_for_callback", "wait_for_callback is not supported yet")


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
    url_query = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)
    for name, value in [*spec.headers.items(), *spec.params, *url_query]:
        if name.lower() in _SENSITIVE_NAMES:
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


# ---------------------------------------------------------------------- sending, parsing


def _session(ctx: NodeContext, url: str):
    allow = bool(getattr(ctx.services, "allow_private_outbound", False))
    try:
        session = ctx.services.http_session()
    except NotImplementedError:
        session = None
    if session is None:
        return outbound.session_for(allow_private=allow)
    if not outbound.is_guarded(session, url):
        outbound.check_url_host(url, allow_private=allow)  # best effort for a foreign session
    return session


def secrets_in_scope(ctx: NodeContext) -> list[str]:
    """Decrypted workspace credentials in scope (strings), to keep out of logs and errors."""
    return outbound.secret_values((ctx.scope or {}).get("workspace"))


def perform(ctx: NodeContext, config: dict[str, Any]) -> dict[str, Any]:
    """Send the request a rendered config describes; `{status, headers, body}` or NodeError.

    Non-2xx statuses fail unless `fail_on_status` is false; the request is logged with
    credentials masked, and error texts are masked the same way.
    """
    spec = build_request(config)
    secrets = spec.secrets + secrets_in_scope(ctx)
    if ctx.cancelled.is_set():
        raise NodeError(ErrorCategory.CANCELLED, "cancelled before the request was sent")
    timeout_s = timeout_seconds(config, ctx.remaining_s())
    max_bytes = int(getattr(ctx.services, "max_response_bytes", 10 * 1024 * 1024))
    shown = {"method": spec.method, "url": spec.url, "query": spec.params, "headers": dict(spec.headers)}
    try:
        fetched = outbound.fetch(
            _session(ctx, spec.url),
            spec.method,
            spec.url,
            timeout_s=timeout_s,
            max_bytes=max_bytes,
            params=spec.params,
            headers=dict(spec.headers),
            data=spec.data,
        )
    except NodeError as exc:
        ctx.log(
            "warning",
            f"{spec.method} request failed: {exc.category}",
            outbound.mask_secrets({**shown, "error": exc.message}, secrets),
        )
        exc.message = outbound.mask_secrets(exc.message, secrets)
        exc.args = (exc.message,)
        exc.details = outbound.mask_secrets(exc.details, secrets)
        raise
    ctx.log(
        "info",
        f"{spec.method} {fetched.status} in {fetched.elapsed_s * 1000:.0f} ms",
        outbound.mask_secrets({**shown, "status": fetched.status}, secrets),
    )
    fail_on_status = config.get("fail_on_status", True)
    if not 200 <= fetched.status < 300 and fail_on_status not in (False, "false", "False", 0):
        error = status_error(fetched)
        error.details = outbound.mask_secrets(error.details, secrets)  # an echoed token, say
        raise error
    return {"status": fetched.status, "headers": fetched.headers, "body": parse_body(fetched)}


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


# ------------------------------------------------------------------------------ node type


@node_type(
    "http.request",
    label="HTTP request",
    category="http",
    description="Call an HTTP API; outputs {status, headers, body}.",
    config_schema=CONFIG_SCHEMA,
    output_schema={
        "type": "object",
        "properties": {"status": {"type": "integer"}, "headers": {"type": "object"}, "body": {}},
    },
    validate_config=validate_http_config,
    handles=("main",),
    icon="globe",
)
def http_request(ctx: NodeContext) -> NodeResult:
    """Execute one HTTP request per attempt (the scheduler handles retries)."""
    if ctx.config.get("wait_for_callback") is True:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "wait_for_callback is not supported yet")
    return NodeResult(output=perform(ctx, ctx.config))


# -------------------------------------------------------------------------------- flow.poll

_POLL_CONDITIONS = ("success_condition", "failure_condition")
_CONDITION_DOC = (
    "a condition (template or structured) over `response` ({status, headers, body}) and the "
    "usual names, or a JSONPath over `response` (starts with `$`; true when it matches a "
    "value other than null/false/0/empty)"
)
POLL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {
        **{k: v for k, v in CONFIG_SCHEMA["properties"].items() if k != "wait_for_callback"},
        "interval_s": {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0}, _TEMPLATED],
            "default": 5,
            "title": "Seconds between polls",
        },
        "max_attempts": {
            "anyOf": [{"type": "integer", "minimum": 1}, _TEMPLATED],
            "default": 10,
            "title": "Polls before giving up (TIMEOUT_ERROR)",
        },
        "success_condition": {"title": "Done when", "description": _CONDITION_DOC},
        "failure_condition": {"title": "Failed when", "description": _CONDITION_DOC},
    },
}


def _is_jsonpath(condition: Any) -> bool:
    return isinstance(condition, str) and condition.lstrip().startswith("$")


def _jsonpath(expression: str):
    from jsonpath_ng.ext import parse  # imported on use: only polls with JSONPath need it

    return parse(expression.strip())


def validate_poll_config(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """The request checks of http.request plus the syntax of both conditions."""
    yield from validate_http_config(config)
    for key in _POLL_CONDITIONS:
        condition = config.get(key)
        if condition in (None, ""):
            continue
        if _is_jsonpath(condition):
            try:
                _jsonpath(condition)
            except Exception as exc:  # jsonpath-ng raises several unrelated types
                yield (key, f"invalid JSONPath: {exc}")
        else:
            yield from check_condition(condition, key)


def _condition_holds(ctx: NodeContext, condition: Any, response: dict[str, Any]) -> bool:
    if _is_jsonpath(condition):
        try:
            matches = _jsonpath(condition).find(response)
        except Exception as exc:  # noqa: BLE001 - see validate_poll_config
            raise _invalid(f"invalid JSONPath {condition!r}: {exc}") from None
        return any(m.value not in (None, False, 0, "", [], {}) for m in matches)
    return evaluate_condition(condition, {**ctx.scope, "response": response})


def _positive(config: dict[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{key} must be a number, got {value!r}") from None
    if number <= 0:
        raise _invalid(f"{key} must be positive")
    return number


@node_type(
    "flow.poll",
    label="Poll until done",
    category="flow",
    description="Repeat a request every interval_s until success_condition holds; outputs the last response.",
    config_schema=POLL_SCHEMA,
    output_schema={"type": "object"},
    raw_config_keys=frozenset(_POLL_CONDITIONS),  # evaluated per response, not pre-rendered
    validate_config=validate_poll_config,
    handles=("main",),
    icon="refresh",
)
def poll_node(ctx: NodeContext) -> NodeResult | Wait:
    """One poll per call; between polls the node parks on a timer (the scheduler sleeps
    through short intervals and persists long ones), counting polls in `wait_data`."""
    polls = int((ctx.wait_data or {}).get("polls", 0)) + 1
    interval_s = _positive(ctx.config, "interval_s", 5)
    max_polls = int(_positive(ctx.config, "max_attempts", 10))
    response = perform(ctx, ctx.config)
    success, failure = (ctx.raw_config.get(key) for key in _POLL_CONDITIONS)
    if failure not in (None, "") and _condition_holds(ctx, failure, response):
        raise NodeError(
            ErrorCategory.INTEGRATION_ERROR,
            f"the failure condition held on poll {polls}",
            {"polls": polls, "last_status": response["status"]},
            retryable=False,
        )
    if success in (None, "") or _condition_holds(ctx, success, response):
        return NodeResult(output=response)
    if polls >= max_polls:
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR,
            f"the success condition did not hold after {polls} polls",
            {"polls": polls, "last_status": response["status"]},
        )
    ctx.log("info", f"poll {polls} of {max_polls}: not done; next in {interval_s:g} s")
    return Wait(
        kind="timer",
        until=datetime.now(UTC) + timedelta(seconds=interval_s),
        data={"polls": polls, "last_status": response["status"]},
    )
