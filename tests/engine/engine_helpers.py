"""Builders and a harness for engine tests: documents in a line, runs against the in-memory
store, and a registry with small fake node types that make one rule visible each."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.memory import InMemoryStore
from workflows.engine.registry import NodeContext, NodeRegistry, NodeResult, node_type
from workflows.engine.scheduler import RunOutcome, Scheduler
from workflows.engine.store import NodeState, Services
from workflows.nodes import load as load_builtin_nodes

SCHEMA = "switchyard.workflow/1"


def node(node_id: str, type_: str, config: dict | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "config": config or {}, **extra}


def edge(source: str, target: str, handle: str | None = None, mapping: dict | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"source": source, "target": target}
    if handle:
        e["source_handle"] = handle
    if mapping:
        e["mapping"] = mapping
    return e


def chain(*ids: str) -> list[dict[str, Any]]:
    return [edge(a, b) for a, b in zip(ids, ids[1:], strict=False)]


def workflow(nodes: list[dict], edges: list[dict], **top: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, "nodes": nodes, "edges": edges, **top}


def start() -> dict[str, Any]:
    return node("start", "trigger.manual")


def transform(node_id: str, set_: dict | None = None, **config: Any) -> dict[str, Any]:
    extra = {
        k: config.pop(k)
        for k in list(config)
        if k in ("on_error", "on_timeout", "retry", "timeout_ms", "default_output")
    }
    return node(node_id, "data.transform", {"set": set_ or {}, **config}, **extra)


class FakeServices(Services):
    """Host services recorded in memory: child runs and callbacks."""

    def __init__(self, inline_wait_max_s: float = 60.0):
        self.inline_wait_max_s = inline_wait_max_s
        self.children: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []

    def start_child_run(
        self, *, parent_run_id, parent_node_id, workflow_id, input, wait, iteration=None, outer=()
    ):
        self.children.append(
            {
                "parent_run_id": parent_run_id,
                "parent_node_id": parent_node_id,
                "workflow_id": workflow_id,
                "input": input,
                "wait": wait,
            }
        )
        return f"child-{len(self.children)}"

    def create_callback(self, *, run_id, node_id, iteration, expires_in_s, outer=()):
        token = f"tok-{len(self.callbacks) + 1}"
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in_s) if expires_in_s else None
        self.callbacks.append({"run_id": run_id, "node_id": node_id, "iteration": iteration, "token": token})
        return {"token": token, "url": f"http://host.test/api/v1/callbacks/{token}", "expires_at": expires_at}


@dataclass
class Result:
    run_id: str
    outcome: RunOutcome
    store: InMemoryStore
    elapsed_s: float

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def output(self) -> Any:
        return self.outcome.output

    def node(self, node_id: str, iteration: int | None = None) -> NodeState:
        return self.store.state(self.run_id, node_id, iteration)

    @property
    def statuses(self) -> dict[str, str]:
        return self.store.statuses(self.run_id)


class Engine:
    """A scheduler over a fresh in-memory store."""

    def __init__(self, registry: NodeRegistry, services: Services | None = None, max_workers: int = 8):
        self.registry = registry
        self.store = InMemoryStore()
        self.services = services or FakeServices()
        self.scheduler = Scheduler(self.store, registry, self.services, max_workers=max_workers)

    def create(self, doc: dict, trigger: Any = None, **kwargs: Any) -> str:
        return self.store.create_run(doc, trigger, registry=self.registry, **kwargs)

    def advance(self, run_id: str) -> Result:
        t0 = time.monotonic()
        outcome = self.scheduler.advance(run_id)
        return Result(run_id, outcome, self.store, time.monotonic() - t0)

    def run(self, doc: dict, trigger: Any = None, **kwargs: Any) -> Result:
        return self.advance(self.create(doc, trigger, **kwargs))


class Calls:
    """Thread-safe record of executor calls for the fake node types."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_node: dict[str, int] = {}
        self.log: list[tuple[str, int | None, float, float]] = []  # (node, iteration, start, end)
        self.contexts: list[NodeContext] = []

    def count(self, node_id: str) -> int:
        with self.lock:
            self.by_node[node_id] = self.by_node.get(node_id, 0) + 1
            return self.by_node[node_id]

    def calls(self, node_id: str) -> int:
        return self.by_node.get(node_id, 0)


def make_test_registry(calls: Calls) -> NodeRegistry:
    """The built-in types plus fakes: test.fail_n_times, test.sleep, test.hang, test.boom, test.echo."""
    reg = NodeRegistry()
    for t in load_builtin_nodes().all():
        reg.register(t)
    loose = {"type": "object"}

    @node_type("test.fail_n_times", label="Fail n times", category="test", target=reg, config_schema=loose)
    def fail_n_times(ctx: NodeContext) -> NodeResult:
        n = calls.count(ctx.node_id)
        if n <= ctx.config.get("n", 1):
            raise NodeError(
                ctx.config.get("category", ErrorCategory.SERVICE_UNAVAILABLE),
                f"failure #{n}",
                {"call": n},
                retry_after_s=ctx.config.get("retry_after_s"),
            )
        return NodeResult(output={"calls": n})

    @node_type("test.sleep", label="Sleep", category="test", target=reg, config_schema=loose)
    def sleep(ctx: NodeContext) -> NodeResult:
        calls.count(ctx.node_id)
        with calls.lock:
            calls.contexts.append(ctx)
        t0 = time.monotonic()
        ctx.cancelled.wait(ctx.config.get("ms", 100) / 1000)  # cooperative: stops when cancelled
        out = dict(ctx.input) if isinstance(ctx.input, dict) else {}
        out.update(ctx.config.get("set") or {})
        with calls.lock:
            calls.log.append((ctx.node_id, ctx.iteration, t0, time.monotonic()))
        return NodeResult(output=out)

    @node_type("test.hang", label="Hang", category="test", target=reg, config_schema=loose)
    def hang(ctx: NodeContext) -> NodeResult:
        calls.count(ctx.node_id)
        time.sleep(ctx.config.get("ms", 2000) / 1000)  # ignores deadline and cancellation
        return NodeResult(output={"late": True})

    @node_type("test.boom", label="Boom", category="test", target=reg, config_schema=loose)
    def boom(ctx: NodeContext) -> NodeResult:
        raise RuntimeError("kaput")

    @node_type("test.echo", label="Echo", category="test", target=reg, config_schema=loose)
    def echo(ctx: NodeContext) -> NodeResult:
        calls.count(ctx.node_id)
        with calls.lock:
            calls.contexts.append(ctx)
        for line in ctx.config.get("log") or ():
            ctx.log("info", line)
        return NodeResult(
            output={
                "input": ctx.input,
                "config": ctx.config,
                "iteration": ctx.iteration,
                "attempt": ctx.attempt,
            }
        )

    return reg
