"""A connector's `config`: its shape, normalisation into steps, and save-time validation.

Single-step: the step fields sit at the top level of `config`. Multi-step:
`{"steps": [{"name", ...step}], "combine_outputs": bool, "continue_on_error": bool}`.
Step fields: `method`, `url`, `queryParams` (or `query`), `headers`, `auth`, `body`,
`bodyType` (or `body_type`: json, form, xml, raw), `timeout_ms`, `continue_on_error`,
`retry` `{max_attempts, delays_ms}` (also allowed at the top level, for every step).
`response_mapping` `{contact field: template}` maps the output onto a contact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workflows.engine.httpcall import AUTH_TYPES, BODY_TYPES, METHODS, validate_http_config
from workflows.engine.templates import check_syntax

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SINGLE_STEP_NAME = "request"
MAX_STEPS = 20
MAX_ATTEMPTS = 10
DEFAULT_RETRY_DELAYS_MS = (2000, 4000)  # attempt 2 after 2 s, attempt 3 after 4 s
DEFAULT_MAX_ATTEMPTS = 3
CONTACT_FIELDS = ("name", "email", "phone", "tags")
STEP_KEYS = frozenset(
    {
        "name",
        "method",
        "url",
        "queryParams",
        "query",
        "headers",
        "auth",
        "body",
        "bodyType",
        "body_type",
        "timeout_ms",
        "continue_on_error",
        "retry",
        "description",
    }
)
_TOP_LEVEL_ONLY = frozenset(
    {"steps", "combine_outputs", "response_mapping", "type", "continue_on_error", "retry"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is attempted, and the pause before each further attempt."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    delays_ms: tuple[int, ...] = DEFAULT_RETRY_DELAYS_MS

    def delay_s(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number `failed_attempt` (1-based) failed."""
        if not self.delays_ms:
            return 0.0
        return self.delays_ms[min(failed_attempt - 1, len(self.delays_ms) - 1)] / 1000


def is_multi_step(config: dict[str, Any]) -> bool:
    return isinstance(config, dict) and "steps" in config


def step_documents(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The connector's steps as a list of step objects (a single-step config is one step)."""
    if is_multi_step(config):
        return [s for s in config.get("steps") or [] if isinstance(s, dict)]
    step = {k: v for k, v in config.items() if k not in _TOP_LEVEL_ONLY}
    step.setdefault("name", SINGLE_STEP_NAME)
    return [step]


def http_config_of(step: dict[str, Any]) -> dict[str, Any]:
    """A (rendered) step in the `http.request` config spelling that `build_request` reads."""
    return {
        "method": step.get("method") or "GET",
        "url": step.get("url"),
        "query": step.get("queryParams", step.get("query")) or {},
        "headers": step.get("headers") or {},
        "auth": step.get("auth") or {"type": "none"},
        "body": step.get("body"),
        "body_type": step.get("bodyType", step.get("body_type")) or "json",
    }


def retry_policy(config: dict[str, Any], step: dict[str, Any]) -> RetryPolicy:
    """The step's own `retry`, else the connector's, else 3 attempts after 2 s and 4 s."""
    raw = step.get("retry") if isinstance(step.get("retry"), dict) else config.get("retry")
    if not isinstance(raw, dict):
        return RetryPolicy()
    delays = raw.get("delays_ms", DEFAULT_RETRY_DELAYS_MS)
    return RetryPolicy(
        max_attempts=int(raw.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
        delays_ms=tuple(int(d) for d in delays),
    )


def continues_on_error(config: dict[str, Any], step: dict[str, Any]) -> bool:
    """A step's own `continue_on_error` wins over the connector-wide one."""
    value = step.get("continue_on_error", config.get("continue_on_error", False))
    return value is True


# ---------------------------------------------------------------------------- validation


def config_problems(config: Any) -> dict[str, list[str]]:
    """Every problem in a connector config as {dotted field: [messages]} (empty: valid).

    Fields are named from the connector's root, e.g. `config.steps.1.url`; messages name the
    step so a long chain is easy to fix.
    """
    problems: dict[str, list[str]] = {}
    for field, message in _problems(config):
        problems.setdefault(field, []).append(message)
    return problems


def _problems(config: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(config, dict):
        yield "config", "The connector config must be a JSON object."
        return
    for key in ("combine_outputs", "continue_on_error"):
        if key in config and not isinstance(config[key], bool):
            yield f"config.{key}", f"{key} must be true or false."
    yield from _retry_problems(config.get("retry"), "config.retry")
    yield from _mapping_problems(config.get("response_mapping"))
    if is_multi_step(config):
        steps = config["steps"]
        if not isinstance(steps, list) or not steps:
            yield "config.steps", "steps must be a non-empty list of step objects."
            return
        if len(steps) > MAX_STEPS:
            yield "config.steps", f"A connector has at most {MAX_STEPS} steps."
        seen: set[str] = set()
        for index, step in enumerate(steps):
            prefix = f"config.steps.{index}"
            if not isinstance(step, dict):
                yield prefix, f"Step {index} must be an object."
                continue
            name = step.get("name")
            label = f"Step {index} ({name!r})" if isinstance(name, str) else f"Step {index}"
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                yield f"{prefix}.name", f"{label}: name is required and must match {NAME_PATTERN.pattern}."
            elif name in seen:
                yield f"{prefix}.name", f"{label}: another step is already called {name!r}."
            else:
                seen.add(name)
            for field, message in _step_problems(step, earlier=seen - {name}):
                yield f"{prefix}.{field}", f"{label}: {message}"
    else:
        for field, message in _step_problems(step_documents(config)[0], earlier=set()):
            yield f"config.{field}", message


def _step_problems(step: dict[str, Any], *, earlier: set[str]) -> Iterator[tuple[str, str]]:
    for key in sorted(set(step) - STEP_KEYS - _TOP_LEVEL_ONLY):
        yield key, f"unknown field {key!r}."
    url = step.get("url")
    if not isinstance(url, str) or not url.strip():
        yield "url", "url is required."
    method = step.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        yield "method", f"method must be one of {', '.join(METHODS)}."
    for key in ("queryParams", "query", "headers"):
        if key in step and step[key] is not None and not isinstance(step[key], dict):
            yield key, f"{key} must be an object."
    auth = step.get("auth")
    if auth is not None and (not isinstance(auth, dict) or auth.get("type", "none") not in AUTH_TYPES):
        yield "auth.type", f"auth must be an object whose type is one of {', '.join(AUTH_TYPES)}."
        auth = None
    if isinstance(auth, dict) and auth.get("in", "header") not in ("header", "query"):
        yield "auth.in", "auth.in must be 'header' or 'query'."
    body_key = "bodyType" if "bodyType" in step else "body_type"
    if step.get(body_key) is not None and step.get(body_key) not in BODY_TYPES:
        yield body_key, f"{body_key} must be one of {', '.join(BODY_TYPES)}."
    timeout = step.get("timeout_ms")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0):
        yield "timeout_ms", "timeout_ms must be a positive integer."
    if "continue_on_error" in step and not isinstance(step["continue_on_error"], bool):
        yield "continue_on_error", "continue_on_error must be true or false."
    yield from _retry_problems(step.get("retry"), "retry")
    if isinstance(auth, dict | None) and not any(
        k in step and not isinstance(step[k], dict | None) for k in ("queryParams", "query", "headers")
    ):
        http_config = {**http_config_of(step), "auth": auth or {"type": "none"}, "url": str(url or "")}
        for field, message in validate_http_config(http_config):
            if field != "url" or (isinstance(url, str) and url.strip()):  # a missing url is reported above
                yield _step_field(step, field), message + "."
    for path, message in check_syntax({k: v for k, v in step.items() if k != "name"}):
        yield path, f"template syntax: {message}"
    for key, value in step.items():
        for name in sorted(_step_refs(value) - earlier):
            yield key, f"refers to steps.{name}, which is not an earlier step."


def _step_field(step: dict[str, Any], http_field: str) -> str:
    """Map an http.request field name back onto the spelling the step used."""
    if http_field == "query" and "queryParams" in step:
        return "queryParams"
    if http_field == "body_type" and "bodyType" in step:
        return "bodyType"
    return http_field


_STEP_REF = re.compile(r"steps\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|steps\s*\[\s*['\"]([^'\"]+)['\"]\s*\]")


def _step_refs(value: Any) -> set[str]:
    """Names used as `steps.<name>` in the step's templates."""
    if isinstance(value, str):
        found: set[str] = set()
        for expression in re.findall(r"\{\{(.*?)\}\}", value, re.S):
            found.update(a or b for a, b in _STEP_REF.findall(expression))
        return found
    if isinstance(value, dict):
        return set().union(*(_step_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_step_refs(v) for v in value))
    return set()


def _retry_problems(retry: Any, field: str) -> Iterator[tuple[str, str]]:
    if retry is None:
        return
    if not isinstance(retry, dict):
        yield field, "retry must be an object {max_attempts, delays_ms}."
        return
    attempts = retry.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        yield f"{field}.max_attempts", f"max_attempts must be an integer from 1 to {MAX_ATTEMPTS}."
    delays = retry.get("delays_ms", [])
    if not isinstance(delays, list) or any(
        isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 60_000 for d in delays
    ):
        yield f"{field}.delays_ms", "delays_ms must be a list of integers from 0 to 60000."


def _mapping_problems(mapping: Any) -> Iterator[tuple[str, str]]:
    if mapping is None:
        return
    if not isinstance(mapping, dict):
        yield "config.response_mapping", "response_mapping must be an object {contact field: template}."
        return
    for key in mapping:
        if key not in CONTACT_FIELDS and not (key.startswith("data.") and len(key) > 5):
            yield (
                f"config.response_mapping.{key}",
                f"{key!r} is not a contact field; use one of {', '.join(CONTACT_FIELDS)} or data.<key>.",
            )
    for path, message in check_syntax(mapping):
        yield f"config.response_mapping.{path}", f"template syntax: {message}"
