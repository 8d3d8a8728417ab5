"""One integration operation, start to end, the same for every adapter (seed 002).

    RECEIVED → PREPARING (→ REJECTED) → CONNECTING → EXECUTING
        (→ RETRY_PENDING → CONNECTING on the next attempt) → COMPLETED | FAILED

Each state is logged on the node with its time. PREPARING resolves the credential, picks
the adapter by the URL scheme, checks the connection settings and applies the input
mapping; CONNECTING applies the host allowlist, the address rule and the rate limit and
takes a pooled connection; EXECUTING runs the adapter. Failures carry the seed's error
categories; retryable ones (connection, timeout, rate limit, unavailable) become
RETRY_PENDING while the node has attempts left (the scheduler runs the next attempt).
Every log line and error is masked with the connection's secrets. No Django here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workflows.engine import masking, outbound
from workflows.engine.errors import ErrorCategory, NodeError

from .base import Adapter, ConnectionSettings, Limits, OperationResult
from .mapping import apply_mapping
from .pool import ConnectionPool, pool
from .registry import AdapterRegistry, adapters
from .security import RateLimiter, checked_address, rate_limiter

RECEIVED = "RECEIVED"
PREPARING = "PREPARING"
REJECTED = "REJECTED"
CONNECTING = "CONNECTING"
EXECUTING = "EXECUTING"
RETRY_PENDING = "RETRY_PENDING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"


@dataclass
class OperationRequest:
    """What a node asks for. `resolve` turns the credential name into settings (decrypting
    and auditing it); `log(level, message, data)` appends to the node's log."""

    family: str
    operation: str
    credential: str
    params: dict[str, Any]
    resolve: Callable[[str], ConnectionSettings]
    log: Callable[[str, str, Any], None]
    limits: Limits = field(default_factory=Limits)
    attempt: int = 1
    max_attempts: int = 1
    input_mapping: Any = None
    output_mapping: Any = None
    payload_key: str | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    code_limits: dict[str, Any] | None = None
    cancelled: Any = None


@dataclass
class OperationRecord:
    """What the health page counts: one row per finished (or failed) operation."""

    adapter: str
    operation: str
    credential_id: str | None
    credential_name: str
    endpoint: str
    succeeded: bool
    duration_ms: float
    error_category: str = ""
    error_message: str = ""
    rows: int | None = None
    messages: int | None = None
    bytes: int | None = None

    def metadata(self) -> dict[str, Any]:
        meta = {
            "adapter": self.adapter,
            "operation": self.operation,
            "endpoint": self.endpoint,
            "duration_ms": round(self.duration_ms, 2),
        }
        for key in ("rows", "messages", "bytes"):
            if getattr(self, key) is not None:
                meta[key] = getattr(self, key)
        return meta


@dataclass
class OperationOutcome:
    output: Any
    record: OperationRecord


class _States:
    def __init__(self, log: Callable[[str, str, Any], None]):
        self.log = log
        self.secrets: tuple[str, ...] = ()
        self._mask: masking.Masker | None = None

    def mask_with(self, secrets: tuple[str, ...]) -> None:
        """Mask every later entry with the connection's secrets (the masker is built once)."""
        self.secrets = secrets
        masker = masking.masker(secrets)
        self._mask = masker if masker else None

    def enter(self, state: str, message: str = "", level: str = "info", **data: Any) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        text = f"{state}: {message}" if message else state
        mask = self._mask
        if mask is not None:  # the state and its time are ours; the rest may quote a secret
            text = mask.text(text)
            data = {mask.text(k): mask.value(v) for k, v in data.items()}
        self.log(level, text, {"state": state, "at": at, **data})


def run_operation(
    request: OperationRequest,
    *,
    registry: AdapterRegistry = adapters,
    connections: ConnectionPool = pool,
    limiter: RateLimiter = rate_limiter,
    record: Callable[[OperationRecord], None] | None = None,
) -> OperationOutcome:
    """Run one operation through the lifecycle; the node's output, or NodeError (masked)."""
    states = _States(request.log)
    if request.attempt == 1:
        states.enter(RECEIVED, f"{request.family}.{request.operation}", credential=request.credential)
    started = time.perf_counter()
    settings: ConnectionSettings | None = None
    adapter: Adapter | None = None
    stage = PREPARING
    try:
        settings = request.resolve(request.credential)
        states.mask_with(settings.secrets)
        adapter = registry.adapter_for(request.family, settings.scheme)
        if request.attempt == 1:
            states.enter(PREPARING, f"{adapter.name} at {settings.endpoint}", adapter=adapter.id)
        problems, target = _prepared(adapter, settings)
        if problems:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"credential {settings.credential_name!r}: {'; '.join(problems)}",
                {"credential": settings.credential_name, "problems": problems},
                retryable=False,
            )
        params = dict(request.params)
        if request.input_mapping and request.payload_key:
            params[request.payload_key] = apply_mapping(
                request.input_mapping,
                params.get(request.payload_key),
                scope=request.scope,
                code_limits=request.code_limits,
                cancelled=request.cancelled,
            )
        stage = CONNECTING
        states.enter(CONNECTING, settings.endpoint, attempt=request.attempt)
        if target is not None:
            _check_target(target, request.limits.allow_private, settings.allowed_hosts)
        limiter.acquire(settings, wait_up_to_s=request.limits.timeout_s)
        try:
            with connections.connection(adapter, settings, request.limits) as conn:
                stage = EXECUTING
                states.enter(EXECUTING, request.operation)
                try:
                    result = adapter.execute(conn, request.operation, params, request.limits)
                except NodeError:
                    raise
                except Exception as exc:  # a client library's own error: map it once, here
                    raise _categorize(adapter, exc) from None
        except NodeError:
            raise
        except Exception as exc:  # connecting failed in the client library
            raise _categorize(adapter, exc) from None
        if not isinstance(result, OperationResult):
            result = OperationResult(data=result)
        output = result.data
        if request.output_mapping:
            output = apply_mapping(
                request.output_mapping,
                output,
                scope=request.scope,
                code_limits=request.code_limits,
                cancelled=request.cancelled,
            )
    except NodeError as exc:
        error = _masked(exc, list(states.secrets))
        outcome = _record(request, adapter, settings, started, error=error)
        if stage == PREPARING:
            states.enter(REJECTED, error.message, level="error", error=error.as_dict())
        elif error.retryable and request.attempt < request.max_attempts:
            states.enter(
                RETRY_PENDING,
                error.message,
                level="warning",
                error=error.as_dict(),
                retry={"attempt": request.attempt + 1, "of": request.max_attempts},
            )
        else:
            states.enter(FAILED, error.message, level="error", error=error.as_dict(), **outcome.metadata())
        if record is not None:
            record(outcome)
        raise error from None
    outcome = _record(request, adapter, settings, started, result=result)
    states.enter(COMPLETED, f"in {outcome.duration_ms:.1f} ms", **outcome.metadata())
    if record is not None:
        record(outcome)
    return OperationOutcome(output=output, record=outcome)


def _categorize(adapter: Adapter, exc: Exception) -> NodeError:
    """A refused TLS handshake says so, whichever library wrapped it; the rest is the adapter's."""
    return outbound.tls_failure(exc) or adapter.categorize(exc)


_PREPARED_MAX = 1000
_prepared_for: dict[tuple[Adapter, str, str], tuple[list[str], tuple[str, int] | None]] = {}


def _prepared(adapter: Adapter, settings: ConnectionSettings) -> tuple[list[str], tuple[str, int] | None]:
    """The adapter's verdict on the settings and the (host, port) they point at: both depend
    on the credential's data alone, so they are worked out once per credential version
    (the fingerprint changes with the data), not per operation."""
    key = (adapter, settings.credential_id, settings.fingerprint)
    found = _prepared_for.get(key)
    if found is None:
        problems = adapter.validate_connection_config(settings)
        found = (problems, None if problems else adapter.target(settings))
        if len(_prepared_for) >= _PREPARED_MAX:
            _prepared_for.clear()
        _prepared_for[key] = found
    return found


_CHECKED_FOR_S = 5.0
_checked: dict[tuple, float] = {}


def _check_target(target: tuple[str, int], allow_private: bool, allowed_hosts: tuple[str, ...]) -> None:
    """The address rule and allowlist before connecting, so a refused host fails early with
    REJECTED-worthy words. A passed check is remembered for a few seconds: this is the early
    answer only — every new connection is checked again in `connect`, which then connects to
    the address it checked."""
    key = (target[0], target[1], allow_private, allowed_hosts)
    now = time.monotonic()
    if _checked.get(key, 0.0) > now:
        return
    checked_address(target[0], target[1], allow_private=allow_private, allowed_hosts=allowed_hosts)
    if len(_checked) > 1000:
        _checked.clear()
    _checked[key] = now + _CHECKED_FOR_S


def _record(
    request: OperationRequest,
    adapter: Adapter | None,
    settings: ConnectionSettings | None,
    started: float,
    *,
    result: OperationResult | None = None,
    error: NodeError | None = None,
) -> OperationRecord:
    return OperationRecord(
        adapter=adapter.id if adapter else request.family,
        operation=request.operation,
        credential_id=settings.credential_id if settings else None,
        credential_name=settings.credential_name if settings else request.credential,
        endpoint=settings.endpoint if settings else "",
        succeeded=error is None,
        duration_ms=(time.perf_counter() - started) * 1000,
        error_category=str(error.category) if error else "",
        error_message=error.message[:500] if error else "",
        rows=result.rows if result else None,
        messages=result.messages if result else None,
        bytes=result.bytes if result else None,
    )


def _masked(error: NodeError, secrets: list[str]) -> NodeError:
    if not secrets:
        return error
    return NodeError(
        error.category,
        outbound.mask_secrets(error.message, secrets),
        outbound.mask_secrets(error.details, secrets),
        retry_after_s=error.retry_after_s,
        retryable=error.retryable,
    )
