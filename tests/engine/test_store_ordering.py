"""A node is handed to an executor only after its `running` state, and with it every
predecessor's result, is stored; a store that lost the run stops the scheduler."""

from __future__ import annotations

import time

import pytest

from workflows.engine.memory import InMemoryStore
from workflows.engine.registry import NodeRegistry, NodeResult, node_type
from workflows.engine.scheduler import Scheduler
from workflows.engine.store import LeaseLost
from workflows.nodes import load as load_builtin_nodes

from .engine_helpers import FakeServices, chain, node, start, workflow


def _registry(calls: list, store_ref: dict) -> NodeRegistry:
    registry = NodeRegistry()
    for existing in load_builtin_nodes().all():
        registry.register(existing)

    @node_type("test.step", label="step", category="test", target=registry)
    def step(ctx):
        run = store_ref["store"]._runs[ctx.run_id]
        stored = {key[0]: st.status for key, st in run.states.items()}
        calls.append((ctx.node_id, stored))
        return NodeResult(output={"by": ctx.node_id})

    return registry


class _SlowStore(InMemoryStore):
    """Writes take a while, as a database's do: long enough for a node handed to the pool
    before the write to be seen running."""

    def save_nodes(self, run_id, states):
        time.sleep(0.05)
        super().save_nodes(run_id, states)


def test_a_successor_starts_only_after_its_predecessor_success_is_stored():
    calls: list = []
    store = _SlowStore()
    scheduler = Scheduler(store, _registry(calls, {"store": store}), FakeServices())
    doc = workflow(
        [start(), node("a", "test.step"), node("b", "test.step"), node("c", "test.step")],
        chain("start", "a", "b", "c"),
    )
    outcome = scheduler.advance(store.create_run(doc, {}))
    assert outcome.status == "completed"
    seen = dict(calls)
    assert seen["a"]["a"] == "running" and seen["a"]["start"] == "succeeded"
    assert seen["b"]["a"] == "succeeded" and seen["b"]["b"] == "running"
    assert seen["c"]["b"] == "succeeded" and seen["c"]["c"] == "running"


class _LosingStore(InMemoryStore):
    """Loses the run's lease once node `a` has run: every later write raises."""

    def __init__(self):
        super().__init__()
        self.lost = False

    def save_nodes(self, run_id, states):
        time.sleep(0.05)  # the write's round trip, during which the lease turns out lost
        if self.lost:
            raise LeaseLost("taken over")
        super().save_nodes(run_id, states)

    def save_run(self, run_id, **kwargs):
        if self.lost:
            raise LeaseLost("taken over")
        super().save_run(run_id, **kwargs)


def test_a_store_that_lost_the_run_stops_the_scheduler_before_the_next_node():
    calls: list = []
    store = _LosingStore()
    registry = _registry(calls, {"store": store})

    @node_type("test.lose", label="lose", category="test", target=registry)
    def lose(ctx):
        store.lost = True  # another worker takes the run over while this node runs
        return NodeResult(output={})

    scheduler = Scheduler(store, registry, FakeServices())
    doc = workflow([start(), node("a", "test.lose"), node("b", "test.step")], chain("start", "a", "b"))
    run_id = store.create_run(doc, {})
    with pytest.raises(LeaseLost):
        scheduler.advance(run_id)
    assert calls == []  # b never ran
    assert store.state(run_id, "a").status == "running"  # a's success was never stored
