"""Per-node failure policy: retry delays, on_error / on_timeout, and what a failure outputs.

Pure functions of the normalized node document and the error, so a resumed run reaches the
same decisions as the run that recorded the failure.
"""

from __future__ import annotations

import random
from typing import Any

from .errors import ErrorCategory, NodeError
from .registry import ERROR_HANDLE, MAIN

FAIL, SKIP, ROUTE, DEFAULT = "fail", "skip", "route", "default"


def retry_delay_s(
    retry: dict[str, Any],
    failed_attempt: int,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the attempt after `failed_attempt` (1-based).

    A `Retry-After` hint wins as given. Otherwise: exponential `initial * 2^(n-1)`, linear
    `initial * n` or fixed `initial`, capped at `max_delay_ms`. With `jitter` the delay is
    drawn uniformly from [delay/2, delay] ("equal jitter"): retries of many runs spread
    out, yet never wait longer than the configured delay nor less than half of it.
    """
    if retry_after_s is not None:
        return max(0.0, float(retry_after_s))
    initial = float(retry.get("initial_delay_ms", 1000))
    backoff = retry.get("backoff", "exponential")
    if backoff == "exponential":
        delay = initial * 2 ** (failed_attempt - 1)
    elif backoff == "linear":
        delay = initial * failed_attempt
    else:
        delay = initial
    delay = min(delay, float(retry.get("max_delay_ms", 60000)))
    if retry.get("jitter", True):
        delay = (rng or random).uniform(delay / 2, delay)
    return delay / 1000.0


def should_retry(node: dict[str, Any], error: NodeError, attempts: int) -> bool:
    """Retry when the error is retryable and attempts remain."""
    retry = node.get("retry") or {}
    return bool(error.retryable) and attempts < int(retry.get("max_attempts", 1))


def failure_policy(node: dict[str, Any], category: str) -> str:
    """What a final failure does: fail | skip | route | default.

    `on_timeout` only overrides for TIMEOUT_ERROR when it is not `fail`; `on_timeout: fail`
    (the default) leaves the decision to `on_error`, like any other error.
    """
    if category == ErrorCategory.TIMEOUT_ERROR:
        on_timeout = node.get("on_timeout", FAIL)
        if on_timeout == "continue":
            return SKIP
        if on_timeout == DEFAULT:
            return DEFAULT
    on_error = node.get("on_error", FAIL)
    return on_error if on_error in (SKIP, ROUTE) else FAIL


def is_fatal(node: dict[str, Any], error: dict[str, Any] | None) -> bool:
    """True when a recorded failure fails the run (policy `fail`)."""
    category = (error or {}).get("category", "")
    return failure_policy(node, category) == FAIL


def failure_output(node_input: Any, error: dict[str, Any]) -> Any:
    """The output of a node that failed under skip/route: its input plus `error`."""
    if isinstance(node_input, dict):
        return {**node_input, "error": error}
    return {"error": error}


def failure_handles(policy: str, handles: list[str]) -> list[str]:
    """Handles that fire after a failure handled by `policy`.

    `skip` goes on along `main`; a type without `main` (a loop) goes on along `done`.
    """
    if policy == ROUTE:
        return [ERROR_HANDLE]
    if policy == SKIP:
        for handle in (MAIN, "done"):
            if handle in handles:
                return [handle]
    return []
