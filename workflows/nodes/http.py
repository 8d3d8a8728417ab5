"""`http.request` and `flow.poll`: call an HTTP API (SPEC §5).

Config arrives rendered. `engine.httpcall` turns it into what goes on the wire and judges
the answer; `perform` sends it through a guarded session (`engine.outbound`) and returns
`{status, headers, body}`. `perform` is shared with other request-making nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine import masking, outbound
from ..engine.conditions import bounded_search, check_condition, evaluate_condition
from ..engine.errors import ErrorCategory, NodeError
from ..engine.httpcall import (  # noqa: F401  (re-exported: the node's public helpers)
    AUTH_TYPES,
    BODY_TYPES,
    METHODS,
    build_request,
    parse_body,
    parse_retry_after,
    response_text,
    status_error,
    timeout_seconds,
    validate_http_config,
)
from ..engine.registry import NodeContext, NodeResult, Wait, node_type


def _invalid(message: str) -> NodeError:
    return NodeError(ErrorCategory.VALIDATION_ERROR, message)


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
        "callback_expires_in_s": {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0}, _TEMPLATED, {"type": "null"}],
            "title": "Callback expiry (s; default: the node's timeout_ms, else 24 h)",
        },
    },
}
DEFAULT_CALLBACK_EXPIRY_S = 24 * 3600


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
    shown = {
        "method": spec.method,
        "url": masking.mask_url(spec.url),
        "query": [(k, masking.MASK if masking.is_sensitive_header(k) else v) for k, v in spec.params],
        "headers": masking.mask_headers(spec.headers),
    }
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
    # Cookies and tokens the server hands out are credentials too.
    ctx.add_secrets(*(v for k, v in fetched.headers.items() if masking.is_sensitive_header(k)))
    fail_on_status = config.get("fail_on_status", True)
    if not 200 <= fetched.status < 300 and fail_on_status not in (False, "false", "False", 0):
        error = status_error(fetched)
        error.details = outbound.mask_secrets(error.details, secrets)  # an echoed token, say
        raise error
    return {"status": fetched.status, "headers": fetched.headers, "body": parse_body(fetched)}


# ------------------------------------------------------------------------------ node type


# Credentials typed into an HTTP config: auth values, credential-named headers and query
# parameters (each string of a list too), and in the URL its userinfo password and
# credential-named query parameters (sealed at rest, `***` when shown; see
# `workflows.trigger_secrets`).
HTTP_SECRET_FIELDS = ("auth.token", "auth.password", "auth.value", "headers.*", "query.*", "url#secrets")


@node_type(
    "http.request",
    label="HTTP request",
    category="http",
    secret_fields=HTTP_SECRET_FIELDS,
    description="Call an HTTP API; outputs {status, headers, body}.",
    config_schema=CONFIG_SCHEMA,
    output_schema={
        "type": "object",
        "properties": {"status": {"type": "integer"}, "headers": {"type": "object"}, "body": {}},
    },
    validate_config=validate_http_config,
    # Waiting for a callback: the node creates the token first, then renders its config
    # with `callback` ({url, token, expires_at}) in scope.
    renders_own_config=lambda config: config.get("wait_for_callback") is True,
    handles=("main",),
    icon="globe",
)
def http_request(ctx: NodeContext) -> NodeResult | Wait:
    """Execute one HTTP request per attempt (the scheduler handles retries). With
    `wait_for_callback` the node then parks until `{{ callback.url }}` is called and
    outputs the response plus `callback` (the posted payload)."""
    if ctx.raw_config.get("wait_for_callback") is not True:
        return NodeResult(output=perform(ctx, ctx.config))
    if ctx.resume is not None:
        return NodeResult(output={**((ctx.wait_data or {}).get("response") or {}), "callback": ctx.resume})
    return _request_then_wait(ctx)


def _request_then_wait(ctx: NodeContext) -> Wait:
    expires = ctx.raw_config.get("callback_expires_in_s")
    expires = ctx.render(expires) if isinstance(expires, str) else expires
    if expires in (None, ""):
        timeout_ms = ctx.node.get("timeout_ms")
        expires = timeout_ms / 1000.0 if timeout_ms else DEFAULT_CALLBACK_EXPIRY_S
    try:
        callback = ctx.services.create_callback(
            run_id=ctx.run_id,
            node_id=ctx.node_id,
            iteration=ctx.iteration,
            outer=ctx.outer,
            expires_in_s=_positive({"e": expires}, "e", DEFAULT_CALLBACK_EXPIRY_S),
            context={"type": "http.request"},
        )
    except NotImplementedError as exc:
        raise NodeError(ErrorCategory.INTEGRATION_ERROR, f"callbacks are not available here: {exc}") from None
    scope = {"url": callback["url"], "token": callback["token"], "expires_at": callback.get("expires_at")}
    config = ctx.render(ctx.raw_config, callback=scope)
    ctx.config = config
    if callback.get("delivered"):
        # An earlier attempt sent the request and the remote has already called back (the
        # process then lost the run before storing that): not sent again; the node resumes
        # with the callback at once, without that attempt's response.
        ctx.log("info", "the callback already arrived for the request an earlier attempt sent")
        response = None
    else:
        response = perform(ctx, config)
    expires_at = callback.get("expires_at")
    until = datetime.fromisoformat(expires_at) if expires_at else None
    ctx.log("info", "waiting for a callback", {"callback_url": callback["url"], "expires_at": expires_at})
    return Wait(
        kind="callback",
        until=until,
        data={
            "token": callback["token"],
            "url": callback["url"],
            "callback_url": callback["url"],
            "expires_at": expires_at,
            "response": response,
        },
    )


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
        **{
            k: v
            for k, v in CONFIG_SCHEMA["properties"].items()
            if k not in ("wait_for_callback", "callback_expires_in_s")
        },
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
    from jsonpath_ng.ext import filter as jsonpath_filter
    from jsonpath_ng.ext import parse  # imported on use: only polls with JSONPath need it

    # `=~` in a filter is a user regex: bounded in time like the `matches` condition.
    jsonpath_filter.OPERATOR_MAP["=~"] = _jsonpath_matches
    return parse(expression.strip())


def _jsonpath_matches(value: Any, pattern: Any) -> bool:
    return isinstance(value, str) and bounded_search(str(pattern), value, "JSONPath '=~'")


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
        except NodeError:  # a `=~` that took too long
            raise
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
    secret_fields=HTTP_SECRET_FIELDS,
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
