"""Nested loops through the host: run detail, node executions, logs and stored events tell
(outer, inner) iterations apart with `iteration_path`, and a run parked mid-way through a
nested loop resumes from the database where it stopped."""

import json

import pytest

from runs.models import NodeExecution, RunEvent

pytestmark = pytest.mark.usefixtures("inline_queue")

START = {"id": "start", "type": "trigger.manual"}


def transform(node_id, set_):
    return {"id": node_id, "type": "data.transform", "config": {"set": set_, "keep_input": False}}


def nested_workflow(api, body, *, body_edges=(), last=None):
    """outer loop over input.rows -> inner loop over each row -> `body` nodes; the inner
    loop's `done` feeds `total`, the outer body's end."""
    first = body[0]["id"]
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "nested",
        "nodes": [
            START,
            {"id": "outer", "type": "logic.loop", "config": {"items": "{{ input.rows }}"}},
            {"id": "inner", "type": "logic.loop", "config": {"items": "{{ item }}", "concurrency": 2}},
            *body,
            transform("total", {"got": "{{ input.results }}"}),
            {"id": "flat", "type": "logic.loop", "config": {"items": "{{ input.rows }}"}},
            transform("row", {"size": "{{ item | length }}"}),
        ],
        "edges": [
            {"source": "start", "target": "outer"},
            {"source": "outer", "source_handle": "each", "target": "inner"},
            {"source": "inner", "source_handle": "each", "target": first},
            *body_edges,
            {"source": "inner", "source_handle": "done", "target": "total"},
            {"source": "start", "target": "flat"},
            {"source": "flat", "source_handle": "each", "target": "row"},
        ],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def execute(api, wid, rows, wait=True):
    res = api.post(
        f"/api/v1/workflows/{wid}/execute",
        {"input": {"rows": rows}, "mode": "test", "wait": wait},
        format="json",
    )
    assert res.status_code in (200, 202), res.content
    return res.json()


LINE = transform("line", {"v": "{{ nodes.outer.index }}/{{ index }}:{{ item }}"})


def test_run_detail_lists_one_entry_per_outer_and_inner_iteration(api):
    wid = nested_workflow(api, [LINE])
    run = execute(api, wid, [["a", "b"], [], ["c"]])
    assert run["status"] == "completed", run["error"]
    line = [n for n in run["nodes"] if n["node_id"] == "line"]
    assert [n["iteration_path"] for n in line] == [[0, 0], [0, 1], [2, 0]]
    assert [n["iteration"] for n in line] == [0, 1, 0]  # the innermost index, as for one loop
    assert [n["output"] for n in line] == [{"v": "0/0:a"}, {"v": "0/1:b"}, {"v": "2/0:c"}]
    inner = [n for n in run["nodes"] if n["node_id"] == "inner"]
    assert [(n["iteration"], n["iteration_path"], len(n["output"]["results"])) for n in inner] == [
        (0, [0], 2),
        (1, [1], 0),
        (2, [2], 1),
    ]
    outer = next(n for n in run["nodes"] if n["node_id"] == "outer")
    assert outer["iteration"] is None and outer["iteration_path"] is None
    assert outer["output"]["results"] == [
        {"got": [{"v": "0/0:a"}, {"v": "0/1:b"}]},
        {"got": []},
        {"got": [{"v": "2/0:c"}]},
    ]
    # a single-level loop keeps its shape: `iteration` the item index, the path just [index]
    row = [n for n in run["nodes"] if n["node_id"] == "row"]
    assert [(n["iteration"], n["iteration_path"]) for n in row] == [(0, [0]), (1, [1]), (2, [2])]


def test_node_executions_logs_and_events_tell_iterations_apart(api):
    wid = nested_workflow(api, [LINE])
    run = execute(api, wid, [["a"], ["b", "c"]])
    listed = api.get(f"/api/v1/workflows/{wid}/nodes/line/executions").json()["results"]
    assert sorted((e["iteration_path"], e["output"]["v"]) for e in listed) == [
        ([0, 0], "0/0:a"),
        ([1, 0], "1/0:b"),
        ([1, 1], "1/1:c"),
    ]
    logs = api.get(f"/api/v1/runs/{run['id']}/logs?node=line").json()
    entries = logs["results"] if isinstance(logs, dict) else logs
    assert {tuple(e["iteration_path"]) for e in entries} == {(0, 0), (1, 0), (1, 1)}
    events = [
        p
        for p in RunEvent.objects.filter(run_id=run["id"]).order_by("id").values_list("payload", flat=True)
        if p.get("node_id") == "line" and p["status"] == "succeeded"
    ]
    assert sorted((e["iteration"], e["iteration_path"]) for e in events) == [
        (0, [0, 0]),
        (0, [1, 0]),
        (1, [1, 1]),
    ]


def post_callback(client, run_id, payload):
    """Answer one callback the run waits on (the highest inner index first); returns the
    (outer, inner) path it was for."""
    row = (
        NodeExecution.objects.filter(run_id=run_id, node_id="hold", status="waiting")
        .order_by("-outer_iterations", "-iteration")
        .first()
    )
    token = row.wait["data"]["token"]
    res = client.post(f"/api/v1/callbacks/{token}", json.dumps(payload), content_type="application/json")
    assert res.status_code in (200, 202), res.content
    return row.iteration_path


def test_a_run_parked_inside_a_nested_loop_resumes_from_the_store(api, client):
    hold = {"id": "hold", "type": "flow.callback", "config": {"expires_in_s": 600}}
    line = transform("line", {"v": "{{ nodes.outer.item[index] }}={{ input.answer }}"})
    wid = nested_workflow(api, [hold, line], body_edges=[{"source": "hold", "target": "line"}])
    # inner concurrency 2: both iterations of a row wait at once; each callback is a resume
    run_id = execute(api, wid, [["a", "b"], ["c"]], wait=False)["run_id"]
    answered = []
    for _ in range(3):
        detail = api.get(f"/api/v1/runs/{run_id}").json()
        assert detail["status"] == "waiting"
        waiting = [
            n["iteration_path"]
            for n in detail["nodes"]
            if n["node_id"] == "hold" and n["status"] == "waiting"
        ]
        assert waiting and all(len(p) == 2 for p in waiting)
        path = post_callback(client, run_id, {"answer": len(answered)})
        answered.append(path)
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["status"] == "completed", detail["error"]
    assert sorted(answered) == [[0, 0], [0, 1], [1, 0]]
    want = {tuple(p): f"{'abc'[p[0] * 2 + p[1]]}={i}" for i, p in enumerate(answered)}
    got = {tuple(n["iteration_path"]): n["output"]["v"] for n in detail["nodes"] if n["node_id"] == "line"}
    assert got == want
    results = next(n for n in detail["nodes"] if n["node_id"] == "outer")["output"]["results"]
    assert results == [
        {"got": [{"v": want[(0, 0)]}, {"v": want[(0, 1)]}]},
        {"got": [{"v": want[(1, 0)]}]},
    ]
    assert all(n["attempts"] == 1 for n in detail["nodes"] if n["node_id"] in ("hold", "line"))


def test_node_executions_list_orders_outer_iterations_as_numbers(api):
    # eleven outer iterations: "10" sorts before "2" as text
    wid = nested_workflow(api, [LINE])
    execute(api, wid, [[f"r{i}"] for i in range(11)])
    listed = api.get(f"/api/v1/workflows/{wid}/nodes/line/executions").json()["results"]
    assert [e["iteration_path"] for e in listed] == [[i, 0] for i in reversed(range(11))]


def test_callbacks_of_a_nested_loop_are_told_apart_by_iteration_path(api, client):
    """Two outer iterations wait at once on the same inner index: each instance gets its own
    token, and the run detail's receipts name the full path."""
    hold = {"id": "hold", "type": "flow.callback", "config": {"expires_in_s": 600}}
    wid = nested_workflow(api, [hold])
    doc = api.get(f"/api/v1/workflows/{wid}").json()
    outer = next(n for n in doc["nodes"] if n["id"] == "outer")
    outer["config"]["concurrency"] = 2
    res = api.put(f"/api/v1/workflows/{wid}", doc, format="json")
    assert res.status_code == 200, res.content
    run_id = execute(api, wid, [["a"], ["b"]], wait=False)["run_id"]
    waiting = NodeExecution.objects.filter(run_id=run_id, node_id="hold", status="waiting")
    tokens = {tuple(row.iteration_path): row.wait["data"]["token"] for row in waiting}
    assert set(tokens) == {(0, 0), (1, 0)}
    assert tokens[(0, 0)] != tokens[(1, 0)]
    for path in [(1, 0), (0, 0)]:
        res = client.post(
            f"/api/v1/callbacks/{tokens[path]}",
            json.dumps({"for": list(path)}),
            content_type="application/json",
        )
        assert res.status_code in (200, 202), res.content
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["status"] == "completed", detail["error"]
    got = {tuple(n["iteration_path"]): n["output"] for n in detail["nodes"] if n["node_id"] == "hold"}
    assert got == {(0, 0): {"for": [0, 0]}, (1, 0): {"for": [1, 0]}}
    receipts = [(r["iteration"], r["iteration_path"], r["outcome"]) for r in detail["callbacks"]]
    assert receipts == [(0, [1, 0], "accepted"), (0, [0, 0], "accepted")]


def test_child_runs_of_a_nested_loop_are_one_per_instance_and_name_their_path(api):
    echo = api.post(
        "/api/v1/workflows/",
        {
            "schema": "switchyard.workflow/1",
            "name": "echo",
            "nodes": [{"id": "start", "type": "trigger.manual"}, transform("echo", {"v": "{{ input.v }}"})],
            "edges": [{"source": "start", "target": "echo"}],
        },
        format="json",
    ).json()["id"]
    call = {
        "id": "call",
        "type": "flow.subworkflow",
        "config": {"workflow": echo, "input": {"v": "{{ item }}"}},
    }
    wid = nested_workflow(api, [call])
    run = execute(api, wid, [["a"], ["b", "c"]])
    assert run["status"] == "completed", run["error"]
    got = {tuple(n["iteration_path"]): n["output"] for n in run["nodes"] if n["node_id"] == "call"}
    assert got == {(0, 0): {"v": "a"}, (1, 0): {"v": "b"}, (1, 1): {"v": "c"}}
    detail = api.get(f"/api/v1/runs/{run['id']}").json()
    children = sorted((c["iteration_path"], c["node_id"]) for c in detail["children"])
    assert children == [([0, 0], "call"), ([1, 0], "call"), ([1, 1], "call")]
    assert len({c["id"] for c in detail["children"]}) == 3
