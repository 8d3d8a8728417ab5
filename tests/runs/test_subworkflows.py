"""flow.subworkflow through the product: the child is a run of its own, the parent waits
for it without holding a worker, and gets its output (or its failure)."""

import pytest

from runs.models import NodeExecution, WorkflowRun

pytestmark = pytest.mark.usefixtures("inline_queue")


def create(api, nodes, edges, name):
    res = api.post(
        "/api/v1/workflows/",
        {"schema": "switchyard.workflow/1", "name": name, "nodes": nodes, "edges": edges},
        format="json",
    )
    assert res.status_code == 201, res.content
    return res.json()["id"]


def child(api, code="result = {'double': input['n'] * 2}"):
    return create(
        api,
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "work", "type": "data.code", "config": {"code": code}},
        ],
        [{"source": "start", "target": "work"}],
        "child",
    )


def parent(api, child_id, wait=True):
    return create(
        api,
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "call",
                "type": "flow.subworkflow",
                "config": {"workflow": child_id, "input": {"n": "{{ input.n }}"}, "wait": wait},
            },
            {"id": "after", "type": "data.transform", "config": {"set": {"got": "{{ input.double }}"}}},
        ],
        [{"source": "start", "target": "call"}, {"source": "call", "target": "after"}],
        "parent",
    )


def test_parent_waits_for_the_child_run_and_uses_its_output(api):
    pid = parent(api, child(api))
    run = api.post(
        f"/api/v1/workflows/{pid}/execute", {"input": {"n": 21}, "wait": True}, format="json"
    ).json()
    assert run["status"] == "completed", run
    assert run["output"]["got"] == 42
    kid = WorkflowRun.objects.get(parent_run_id=run["id"])
    assert (
        kid.status == "completed" and kid.trigger_type == "flow.subworkflow" and kid.output == {"double": 42}
    )


def test_child_failure_fails_the_parent_node_with_its_category(api):
    pid = parent(api, child(api, code="result = 1 / 0"))
    run = api.post(
        f"/api/v1/workflows/{pid}/execute", {"input": {"n": 1}, "wait": True}, format="json"
    ).json()
    assert run["status"] == "failed"
    call = next(n for n in run["nodes"] if n["node_id"] == "call")
    assert call["error"]["category"] == "CODE_ERROR"


def test_fire_and_forget_child_returns_its_run_id(api):
    pid = parent(api, child(api), wait=False)
    run = api.post(
        f"/api/v1/workflows/{pid}/execute", {"input": {"n": 2}, "wait": True}, format="json"
    ).json()
    call = next(n for n in run["nodes"] if n["node_id"] == "call")
    assert WorkflowRun.objects.filter(pk=call["output"]["run_id"]).exists()


def self_calling(api, wait, settings_=None):
    """A workflow whose flow.subworkflow node starts the workflow itself."""
    wid = create(api, [{"id": "start", "type": "trigger.manual"}], [], "recursive")
    document = {
        "schema": "switchyard.workflow/1",
        "name": "recursive",
        "settings": settings_ or {},
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "again", "type": "flow.subworkflow", "config": {"workflow": wid, "wait": wait}},
        ],
        "edges": [{"source": "start", "target": "again"}],
    }
    res = api.put(f"/api/v1/workflows/{wid}", document, format="json")
    assert res.status_code == 200, res.content
    return wid


def _deepest(wid):
    runs = list(WorkflowRun.objects.filter(workflow_id=wid).order_by("depth"))
    return runs, runs[-1]


@pytest.mark.parametrize("wait", [True, False])
def test_a_workflow_calling_itself_stops_at_the_depth_limit(api, settings, wait):
    settings.SUBWORKFLOW_MAX_DEPTH = 3
    wid = self_calling(api, wait)
    api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}, "wait": True}, format="json")
    runs, deepest = _deepest(wid)
    assert [r.depth for r in runs] == [0, 1, 2, 3]
    node = NodeExecution.objects.get(run=deepest, node_id="again")
    assert node.status == "failed" and node.error["category"] == "LOOP_LIMIT"
    assert "nested more than 3 deep" in node.error["message"]


def test_child_runs_count_against_the_daily_run_limit(api, settings):
    settings.SUBWORKFLOW_MAX_DEPTH = 50
    wid = self_calling(api, wait=False, settings_={"max_runs_per_day": 4})
    api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}, "wait": True}, format="json")
    runs, deepest = _deepest(wid)
    assert len(runs) == 4
    node = NodeExecution.objects.get(run=deepest, node_id="again")
    assert node.status == "failed" and node.error["category"] == "RATE_LIMIT_ERROR"


def test_a_retry_after_the_child_failed_starts_a_new_child(api):
    """The node took its failed child's result: its retry starts a child of its own (the
    first child is not waited on again), and the failure of the last one fails the node."""
    unreachable = create(  # fails with CONNECTION_ERROR, which the parent node retries
        api,
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "work", "type": "http.request", "config": {"url": "http://127.0.0.1:1/"}},
        ],
        [{"source": "start", "target": "work"}],
        "child",
    )
    pid = create(
        api,
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "call",
                "type": "flow.subworkflow",
                "config": {"workflow": unreachable, "input": {}},
                "retry": {"max_attempts": 3, "initial_delay_ms": 1, "backoff": "fixed"},
            },
        ],
        [{"source": "start", "target": "call"}],
        "parent",
    )
    run = api.post(f"/api/v1/workflows/{pid}/execute", {"input": {}, "wait": True}, format="json").json()
    assert run["status"] == "failed", run
    kids = WorkflowRun.objects.filter(parent_run_id=run["id"])
    assert kids.count() == 3 and {k.status for k in kids} == {"failed"}
    assert all(k.parent_resumed_at is not None for k in kids)
    call = next(n for n in run["nodes"] if n["node_id"] == "call")
    assert call["attempts"] == 3
