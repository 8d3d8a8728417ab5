"""Scheduler overhead per node with the in-memory store (no Django, no network).

    .venv/bin/python bench/engine_core.py [--repeat 9]

Workflows: a 100-node chain, and a 50-wide fan-out/fan-in (start -> 50 -> merge -> end).
Node bodies are a no-op type (pure scheduler cost) and `data.transform` with one template
(a realistic light node). Prints the median over the repeats of wall time / node count.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from workflows.engine.memory import InMemoryStore  # noqa: E402
from workflows.engine.registry import NodeRegistry, NodeResult, node_type  # noqa: E402
from workflows.engine.scheduler import Scheduler  # noqa: E402
from workflows.nodes import load as load_builtin_nodes  # noqa: E402

SCHEMA = "switchyard.workflow/1"


def make_registry() -> NodeRegistry:
    reg = NodeRegistry()
    for t in load_builtin_nodes().all():
        reg.register(t)

    @node_type("bench.noop", label="No-op", category="test", target=reg, config_schema={"type": "object"})
    def noop(ctx):
        return NodeResult(output=ctx.input)

    return reg


def body(node_id: str, kind: str, i: int) -> dict:
    if kind == "noop":
        return {"id": node_id, "type": "bench.noop"}
    return {
        "id": node_id,
        "type": "data.transform",
        "config": {"set": {f"k{i}": f"{{{{ input.seed + {i} }}}}"}},
    }


def chain_doc(n: int, kind: str) -> dict:
    nodes = [{"id": "start", "type": "trigger.manual"}] + [body(f"n{i}", kind, i) for i in range(n - 1)]
    ids = [x["id"] for x in nodes]
    return {
        "schema": SCHEMA,
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)],
    }


def fan_doc(width: int, kind: str) -> dict:
    nodes = [{"id": "start", "type": "trigger.manual"}] + [body(f"p{i}", kind, i) for i in range(width)]
    nodes += [{"id": "join", "type": "logic.merge"}, {"id": "end", "type": "bench.noop"}]
    edges = [{"source": "start", "target": f"p{i}"} for i in range(width)]
    edges += [{"source": f"p{i}", "target": "join"} for i in range(width)] + [
        {"source": "join", "target": "end"}
    ]
    return {"schema": SCHEMA, "nodes": nodes, "edges": edges}


def measure(doc: dict, registry: NodeRegistry, repeat: int) -> float:
    """Median microseconds per node over `repeat` runs (one warm-up run first)."""
    store = InMemoryStore()
    scheduler = Scheduler(store, registry)
    count = len(doc["nodes"])
    samples = []
    for i in range(repeat + 1):
        run_id = store.create_run(doc, {"seed": 1}, registry=registry)
        t0 = time.perf_counter()
        outcome = scheduler.advance(run_id)
        elapsed = time.perf_counter() - t0
        assert outcome.status == "completed", outcome
        if i:
            samples.append(elapsed / count * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    registry = make_registry()
    print(f"scheduler overhead per node, in-memory store, median of {args.repeat} runs")
    for label, doc_of in (
        ("100-node chain", lambda k: chain_doc(100, k)),
        ("50-wide fan-out/fan-in", lambda k: fan_doc(50, k)),
    ):
        for kind in ("noop", "transform"):
            us = measure(doc_of(kind), registry, args.repeat)
            print(f"  {label:24s} {kind:9s} {us:8.0f} µs/node  (target <= 2000)")


if __name__ == "__main__":
    main()
