"""One attempt of one node instance: what runs on a pool thread, and the input it gets.

Worker threads only compute: they render the config, call the executor and put the
outcome on the coordinator's queue. They never touch the store or the run state.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ErrorCategory, NodeError
from .graph import Edge
from .registry import Executor, NodeContext, NodeResult, Wait
from .store import NodeKey
from .templates import render


@dataclass
class Job:
    key: NodeKey
    token: int  # identifies the attempt; a late result with an old token is ignored
    ctx: NodeContext
    execute: Executor
    type_name: str
    render_keys: tuple[str, ...]  # config keys with templates (raw keys excluded)


def run_job(job: Job, results: queue.SimpleQueue) -> None:
    """On a pool thread: `compute` the attempt and report `(key, token, outcome)`."""
    outcome: Any = None
    try:
        outcome = compute(job)
    finally:
        if outcome is None:  # BaseException: still tell the coordinator
            outcome = NodeError(
                ErrorCategory.INTEGRATION_ERROR, "the attempt was interrupted", retryable=False
            )
        results.put((job.key, job.token, outcome))


def compute(job: Job) -> Any:
    """Render the config and run the executor. The outcome is a `NodeResult`, a `Wait` or a
    `NodeError`; an unexpected exception in an executor becomes a non-retryable
    INTEGRATION_ERROR naming the type."""
    try:
        ctx = job.ctx
        if job.render_keys:
            config = dict(ctx.raw_config)
            for key in job.render_keys:
                config[key] = render(config[key], ctx.scope)
            ctx.config = config
        outcome = job.execute(ctx)
        if not isinstance(outcome, NodeResult | Wait):
            outcome = NodeResult(output=outcome)
    except NodeError as exc:
        outcome = exc
    except Exception as exc:  # a bug in a node type must fail the node, not the run
        outcome = NodeError(
            ErrorCategory.INTEGRATION_ERROR,
            f"node type {job.type_name} failed unexpectedly: {type(exc).__name__}: {exc}",
            {"exception": type(exc).__name__},
            retryable=False,
        )
    return outcome


def merge_input(arrivals: list[tuple[Edge, Any]], scope_for: Callable[[Any], dict[str, Any]]) -> Any:
    """A node's input: the shallow merge, in edge declaration order, of what each active
    edge carries — the source output, or the edge `mapping` rendered with `source` (and
    `input`) bound to that output. A single arrival passes through as is (any JSON type);
    several merge their object payloads (non-objects cannot be merged and are left out).
    """
    payloads = []
    for edge, payload in arrivals:
        if edge.mapping:
            scope = scope_for(payload)
            payload = {field: render(template, scope) for field, template in edge.mapping.items()}
        payloads.append(payload)
    if len(payloads) == 1:
        return payloads[0]
    merged: dict[str, Any] = {}
    for payload in payloads:
        if isinstance(payload, dict):
            merged.update(payload)
    return merged
