"""The connector step executor: render each step, send it, retry, record — no Django here.

Each step's templates see `input` (the execution input), `workspace` (resolved secrets)
and `steps` (earlier steps' outputs: their parsed response bodies). Requests are built by
the `http.request` machinery (`engine.httpcall.build_request`) and sent and judged by the
HTTP integration adapter (`adapters.http`) through this thread's pooled guarded session,
so auth, body types, the private-address policy and status → category mapping are the
same as the node's. Everything a step records and everything the execution returns is masked
with the resolved secret values.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.engine import masking, outbound
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.httpcall import build_request, response_text
from workflows.engine.templates import render

from .adapters.base import Limits as AdapterLimits
from .adapters.http import HttpAdapter
from .adapters.registry import adapters
from .config import continues_on_error, http_config_of, is_multi_step, retry_policy, step_documents

# Steps are sent and judged by the HTTP adapter, like every other integration operation.
HTTP: HttpAdapter = adapters.get("http")  # type: ignore[assignment]
OVERALL_TIMEOUT_S = 300.0  # a whole execution, all steps and retry pauses included
BODY_PREVIEW_CHARS = 2000
RECORDED_RESPONSE_HEADERS = (
    "content-type",
    "content-length",
    "location",
    "retry-after",
    "etag",
    "date",
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)
_NOT_RENDERED = ("name", "continue_on_error", "retry", "description")


@dataclass(frozen=True)
class ExecutionLimits:
    """Bounds and policy an execution runs under (the host fills them from settings)."""

    step_timeout_ms: int = 30_000  # the connector's timeout_ms; a step's own timeout_ms wins
    overall_timeout_s: float = OVERALL_TIMEOUT_S
    allow_private: bool = False
    max_response_bytes: int = 10 * 1024 * 1024


@dataclass
class ExecutionOutcome:
    """What an execution produced; every field is already masked."""

    output: Any = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: NodeError | None = None
    duration_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.error is None


def execute_config(
    config: dict[str, Any],
    *,
    input: Any,
    workspace: dict[str, Any],
    limits: ExecutionLimits | None = None,
    sleep: Callable[[float], None] = time.sleep,
    secrets: list[str] = (),
) -> ExecutionOutcome:
    """Run a connector config's steps in order and return the (masked) outcome.

    A failed step stops the chain unless it (or the connector) has `continue_on_error`,
    in which case its output is `{"error": {...}}` and the next step runs. The output is
    the last step's output, or `{step name: output}` for every step with `combine_outputs`.
    Everything is masked with the workspace secrets and `secrets` (those in play where the
    execution was started, e.g. credentials a workflow rendered into `input`).
    """
    limits = limits or ExecutionLimits()
    started = time.monotonic()
    deadline = started + limits.overall_timeout_s
    secrets = outbound.secret_values(workspace) + [str(s) for s in secrets]
    outputs: dict[str, Any] = {}
    outcome = ExecutionOutcome()
    last_output: Any = None
    for step in step_documents(config):
        name = step.get("name") or "request"
        scope = {"input": input, "workspace": workspace, "steps": outputs}
        record, output, error = _run_step(
            step, config=config, scope=scope, limits=limits, deadline=deadline, secrets=secrets, sleep=sleep
        )
        outcome.steps.append(record)
        if error is not None:
            if not continues_on_error(config, step):
                details = {**error.details, "step": name}
                prefix = f"step {name!r}: " if is_multi_step(config) else ""
                outcome.error = NodeError(error.category, prefix + error.message, details, retryable=False)
                break
            output = {"error": error.as_dict()}
        outputs[name] = output
        last_output = output
    if outcome.error is None:
        outcome.output = dict(outputs) if config.get("combine_outputs") is True else last_output
    outcome.output = outbound.mask_secrets(outcome.output, secrets)
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _run_step(
    step: dict[str, Any],
    *,
    config: dict[str, Any],
    scope: dict[str, Any],
    limits: ExecutionLimits,
    deadline: float,
    secrets: list[str],
    sleep: Callable[[float], None],
) -> tuple[dict[str, Any], Any, NodeError | None]:
    """One step with its retries: (masked record, unmasked output, masked error or None)."""
    started = time.monotonic()
    record: dict[str, Any] = {
        "name": step.get("name") or "request",
        "request": None,
        "response": None,
        "duration_ms": 0,
        "attempts": 0,
        "error": None,
    }
    output: Any = None
    error: NodeError | None = None
    try:
        rendered = render({k: v for k, v in step.items() if k not in _NOT_RENDERED}, scope)
        spec = build_request(http_config_of(rendered))
        timeout_s = _step_timeout_s(rendered, limits)
    except NodeError as exc:  # TEMPLATE_ERROR or VALIDATION_ERROR: retrying cannot help
        error = exc
    else:
        secrets = secrets + spec.secrets
        record["request"] = _request_record(spec, secrets)
        policy = retry_policy(config, step)
        session = HTTP.connect(None, AdapterLimits(allow_private=limits.allow_private))
        while True:
            record["attempts"] += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = _over_budget(limits)
                break
            try:
                fetched = HTTP.send(
                    session, spec, timeout_s=min(timeout_s, remaining), max_bytes=limits.max_response_bytes
                )
                record["response"] = _response_record(fetched, secrets)
                output, error = HTTP.judge(fetched), None
                break
            except NodeError as exc:
                error = exc
            if not error.retryable or record["attempts"] >= policy.max_attempts:
                break
            # A server's Retry-After wins over our own spacing.
            pause = (
                error.retry_after_s if error.retry_after_s is not None else policy.delay_s(record["attempts"])
            )
            if time.monotonic() + pause >= deadline:
                break
            sleep(pause)
    record["duration_ms"] = int((time.monotonic() - started) * 1000)
    if error is not None:
        error = _masked(error, secrets)
        record["error"] = error.as_dict()
    return outbound.mask_secrets(record, secrets), output, error


def _step_timeout_s(rendered: dict[str, Any], limits: ExecutionLimits) -> float:
    raw = rendered.get("timeout_ms")
    if raw in (None, ""):
        return limits.step_timeout_ms / 1000
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"timeout_ms must be a number, got {raw!r}") from None
    if value <= 0:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "timeout_ms must be positive")
    return value / 1000


def _over_budget(limits: ExecutionLimits) -> NodeError:
    return NodeError(
        ErrorCategory.TIMEOUT_ERROR,
        f"the connector exceeded its overall limit of {limits.overall_timeout_s:g} s",
        {"timeout_ms": int(limits.overall_timeout_s * 1000)},
        retryable=False,
    )


def _masked(error: NodeError, secrets: list[str]) -> NodeError:
    masked = NodeError(
        error.category,
        outbound.mask_secrets(error.message, secrets),
        outbound.mask_secrets(error.details, secrets),
        retry_after_s=error.retry_after_s,
        retryable=error.retryable,
    )
    return masked


def _preview(content: bytes | str, secrets: list[str]) -> str:
    """The first characters of a body, masked before it is cut (a cut secret would leak)."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    return masking.mask_then_cut(text, secrets, BODY_PREVIEW_CHARS, "…")


def _request_record(spec, secrets: list[str]) -> dict[str, Any]:
    return {
        "method": spec.method,
        "url": masking.mask_url(spec.url),
        "headers": masking.mask_headers(spec.headers),
        "query": [[k, masking.MASK if masking.is_sensitive_header(k) else v] for k, v in spec.params],
        "body": _preview(spec.data, secrets) if spec.data is not None else None,
    }


def _response_record(fetched: outbound.Fetched, secrets: list[str]) -> dict[str, Any]:
    return {
        "status": fetched.status,
        "headers": {k: v for k, v in fetched.headers.items() if k in RECORDED_RESPONSE_HEADERS},
        "body": _preview(response_text(fetched), secrets),
    }
