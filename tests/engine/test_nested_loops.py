"""Loops inside loop bodies: the conformance-style cases in `nested_loop_cases/` (played like
`conformance_cases/`, plus per-iteration expectations), then the rules those cases cannot
show: concurrency bounds, retries, logs, resuming a run stopped mid-way, deeper nesting.

Case format, on top of the conformance one: `expect.iterations` maps a node id to
`{"<outer>.<inner>": expected subset of {status, input, output, error}}` (one index for
instances of the inner loop node itself, which sit in the outer body); `expect.instances`
counts each node's states; `expect.absent` lists iterations that must have no state.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from workflows.engine.document import validate
from workflows.engine.store import NodeState

from .engine_helpers import edge, node, start, transform, workflow
from .test_conformance_cases import check_expectations, subset
from .test_scheduler import peak_concurrency, sleep

CASES = sorted((pathlib.Path(__file__).parent / "nested_loop_cases").glob("*.json"))


def instances(states) -> dict[str, dict[str, NodeState]]:
    """node id -> {"2.0" (dotted iteration path, "" outside loops): state}."""
    out: dict[str, dict[str, NodeState]] = {}
    for st in states:
        label = ".".join(str(i) for i in st.iteration_path or ())
        out.setdefault(st.node_id, {})[label] = st
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_nested_loop_case(path, engine, registry):
    case = json.loads(path.read_text())
    assert [i.as_dict() for i in validate(case["workflow"], registry)] == []
    res = engine.run(case["workflow"], dict(case.get("input", {})))
    exp = case["expect"]
    errs = check_expectations(exp, res)
    by_path = instances(res.store.states(res.run_id))
    for nid, per_path in exp.get("iterations", {}).items():
        for label, want in per_path.items():
            st = by_path.get(nid, {}).get(label)
            if st is None:
                errs.append(f"{nid}@{label}: no state")
                continue
            got = {"status": st.status, "input": st.input, "output": st.output, "error": st.error}
            errs += subset(want, got, f"{nid}@{label}")
    for nid, count in exp.get("instances", {}).items():
        if len(by_path.get(nid, {})) != count:
            errs.append(f"{nid}: expected {count} states, got {sorted(by_path.get(nid, {}))}")
    for nid, labels in exp.get("absent", {}).items():
        errs += [f"{nid}@{label}: unexpected state" for label in labels if label in by_path.get(nid, {})]
    assert errs == []


# -- rules beyond the cases ---------------------------------------------------------------------
def _nested_doc(line, *, outer=None, inner=None, tail=()):
    """start -> outer loop over input.rows; its body: inner loop over `item` (a list), whose
    body is `line` (one node or a chain); inner `done` -> total (the outer body end)."""
    lines = line if isinstance(line, list) else [line]
    return workflow(
        [
            start(),
            node("outer", "logic.loop", {"items": "{{ input.rows }}", **(outer or {})}),
            node("inner", "logic.loop", {"items": "{{ item }}", **(inner or {})}),
            *lines,
            transform("total", {"got": "{{ input.results }}"}, keep_input=False),
            *tail,
        ],
        [
            edge("start", "outer"),
            edge("outer", "inner", "each"),
            edge("inner", lines[0]["id"], "each"),
            *[edge(a["id"], b["id"]) for a, b in zip(lines, lines[1:], strict=False)],
            edge("inner", "total", "done"),
        ],
    )


def test_concurrency_of_both_loops_multiplies_and_is_bounded(engine, calls):
    doc = _nested_doc(sleep("line", 80), outer={"concurrency": 2}, inner={"concurrency": 2})
    res = engine.run(doc, {"rows": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]})
    assert res.status == "completed"
    assert peak_concurrency(calls) == 4  # two outer iterations, each with two inner ones
    assert calls.calls("line") == 9
    assert {(c.scope["nodes"]["outer"]["index"], c.iteration) for c in calls.contexts} == {
        (o, i) for o in range(3) for i in range(3)
    }


def test_results_keep_item_order_when_later_iterations_finish_first(engine):
    body = node("line", "test.sleep", {"ms": "{{ item }}", "set": {"ms": "{{ item }}"}})
    doc = _nested_doc(body, outer={"concurrency": 3}, inner={"concurrency": 3})
    res = engine.run(doc, {"rows": [[120, 5, 60], [1, 90], [30]]})
    got = [[r["ms"] for r in entry["got"]] for entry in res.node("outer").output["results"]]
    assert got == [[120, 5, 60], [1, 90], [30]]


def test_each_inner_instance_keeps_its_own_attempts_and_retries(engine, calls):
    # fail_n_times counts calls per node id: only the very first attempt fails, and is retried.
    flaky = node(
        "line",
        "test.fail_n_times",
        {"n": 1},
        retry={"max_attempts": 2, "initial_delay_ms": 1, "jitter": False},
    )
    res = engine.run(_nested_doc(flaky), {"rows": [[1, 2], [3]]})
    assert res.status == "completed"
    assert res.node("line", (0, 0)).attempts == 2
    assert res.node("line", (0, 1)).attempts == 1 and res.node("line", (1, 0)).attempts == 1
    assert res.node("line", (0, 0)).status == "succeeded"


def test_state_and_logs_name_the_inner_index_and_the_outer_ones(engine):
    res = engine.run(_nested_doc(node("line", "test.echo")), {"rows": [["a"], ["b", "c"]]})
    st = res.node("line", (1, 1))
    assert (st.iteration, st.outer, st.iteration_path) == (1, (1,), [1, 1])
    assert st.output["iteration"] == 1  # executors see the innermost index
    assert res.node("inner", 1).iteration_path == [1] and res.node("inner", 1).outer == ()
    assert res.node("outer").iteration_path is None
    logged = {(e.iteration, e.outer) for e in res.store.logs(res.run_id) if e.node_id == "line"}
    assert logged == {(0, (0,)), (0, (1,)), (1, (1,))}


def test_inner_body_sees_outer_iteration_outputs_and_item(engine):
    line = transform(
        "line",
        {"pair": "{{ nodes.outer.item | length }}:{{ item }}", "tag": "{{ nodes.tag.t }}"},
        keep_input=False,
    )
    doc = _nested_doc(line)
    # a node in the outer body before the inner loop: its per-iteration output is in scope
    doc["nodes"].append(transform("tag", {"t": "row{{ index }}"}, keep_input=False))
    doc["edges"] = [e for e in doc["edges"] if not (e["source"] == "outer" and e["target"] == "inner")]
    doc["edges"] += [edge("outer", "tag", "each"), edge("tag", "inner")]
    for n in doc["nodes"]:
        if n["id"] == "inner":
            n["config"]["items"] = "{{ nodes.outer.item }}"
    res = engine.run(doc, {"rows": [["x", "y"], ["z"]]})
    assert res.status == "completed", res.outcome.error
    assert [entry["got"] for entry in res.node("outer").output["results"]] == [
        [{"pair": "2:x", "tag": "row0"}, {"pair": "2:y", "tag": "row0"}],
        [{"pair": "1:z", "tag": "row1"}],
    ]


def test_three_levels_deep(engine):
    doc = workflow(
        [
            start(),
            node("l1", "logic.loop", {"items": "{{ input.cube }}"}),
            node("l2", "logic.loop", {"items": "{{ item }}", "concurrency": 2}),
            node("l3", "logic.loop", {"items": "{{ item }}"}),
            transform(
                "cell",
                {"at": "{{ nodes.l1.index }}{{ nodes.l2.index }}{{ index }}", "v": "{{ item }}"},
                keep_input=False,
            ),
        ],
        [
            edge("start", "l1"),
            edge("l1", "l2", "each"),
            edge("l2", "l3", "each"),
            edge("l3", "cell", "each"),
        ],
    )
    res = engine.run(doc, {"cube": [[[1, 2], [3]], [[4]]]})
    assert res.status == "completed"
    assert res.node("cell", (0, 1, 0)).output == {"at": "010", "v": 3}
    assert res.node("cell", (0, 1, 0)).iteration_path == [0, 1, 0]
    assert res.output == {
        "results": [
            {
                "results": [
                    {"results": [{"at": "000", "v": 1}, {"at": "001", "v": 2}]},
                    {"results": [{"at": "010", "v": 3}]},
                ]
            },
            {"results": [{"results": [{"at": "100", "v": 4}]}]},
        ]
    }


def _stored_mid_nested_loop(rows):
    """A run that stopped with outer iteration 0 done, outer iteration 1 half-way through its
    inner loop (inner 0 done, inner 1 interrupted while running), outer iteration 2 unstarted."""
    return [
        NodeState("start", status="succeeded", output={"rows": rows}, handles=["main"]),
        NodeState("outer", status="running", attempts=1, wait={"kind": "loop", "items": rows}),
        NodeState("inner", 0, status="succeeded", output={"results": [{"from": "before"}]}, handles=["done"]),
        NodeState("line", 0, outer=(0,), status="succeeded", output={"from": "before"}, handles=["main"]),
        NodeState("total", 0, status="succeeded", output={"got": ["stored"]}, handles=["main"]),
        NodeState("inner", 1, status="running", attempts=1, wait={"kind": "loop", "items": rows[1]}),
        NodeState("line", 0, outer=(1,), status="succeeded", output={"from": "before 1.0"}, handles=["main"]),
        NodeState(
            "line", 1, outer=(1,), status="running", attempts=1, input={"item": rows[1][1], "index": 1}
        ),
    ]


def test_a_run_resumed_mid_nested_loop_reruns_only_what_had_not_finished(engine, calls):
    rows = [["a"], ["b", "c", "d"], ["e"]]
    res = engine.run(
        _nested_doc(node("line", "test.echo")), {"rows": rows}, states=_stored_mid_nested_loop(rows)
    )
    assert res.status == "completed"
    # re-run: line 1.1 (interrupted), then 1.2 and 2.0; nothing of outer iteration 0, nor 1.0
    assert sorted(c.scope["nodes"]["outer"]["index"] * 10 + c.iteration for c in calls.contexts) == [
        11,
        12,
        20,
    ]
    assert res.node("line", (1, 1)).attempts == 2
    results = res.node("outer").output["results"]
    assert results[0] == {"got": ["stored"]}
    assert [r.get("from") or r["input"]["item"] for r in results[1]["got"]] == ["before 1.0", "c", "d"]
    assert results[2]["got"][0]["input"] == {"item": "e", "index": 0}
