"""Runs a web request waits for are executed in the web process: a webhook with
`respond: on_completion`, and `wait_for_run` on a queued run no worker took yet. No queue
consumer runs in these tests (no `inline_queue`): an answer proves the run was executed in
process. The stored run, its nodes and its ordered events are as complete as a worker's."""

import pytest
from django.conf import settings as django_settings

from runs import runner, services, tasks
from runs.models import NodeExecution, RunEvent, WorkflowRun
from runs.store import OrmStore
from tests.connectors.api_server import ApiServer

pytestmark = pytest.mark.django_db(transaction=True)


def hook_workflow(api, respond="on_completion", extra=None):
    nodes = [
        {"id": "hook", "type": "trigger.webhook", "config": {"method": "POST", "respond": respond}},
        {
            "id": "a",
            "type": "data.transform",
            "config": {"set": {"a": "{{ input.body.n + 1 }}"}, "keep_input": False},
        },
        {"id": "b", "type": "data.transform", "config": {"set": {"b": "{{ input.a * 2 }}"}}},
    ]
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "inline",
        "nodes": nodes,
        "edges": [{"source": "hook", "target": "a"}, {"source": "a", "target": "b"}],
        **(extra or {}),
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    wid = res.json()["id"]
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    assert res.status_code == 200, res.content
    return wid, res.json()["triggers"][0]["url"].split("testserver", 1)[1]


def event_types(run_id):
    return [
        (e["type"], e.get("node_id"), e["status"])
        for e in RunEvent.objects.filter(run_id=run_id).order_by("id").values_list("payload", flat=True)
    ]


def test_on_completion_webhook_runs_in_the_web_process_and_stores_everything(api, client):
    wid, path = hook_workflow(api)
    res = client.post(path, b'{"n": 20}', content_type="application/json")
    assert res.status_code == 200, res.content
    assert res.json() == {"a": 21, "b": 42}
    run = WorkflowRun.objects.get(workflow_id=wid)
    assert run.status == "completed" and run.output == {"a": 21, "b": 42}
    assert run.lease_owner == "" and run.lease_expires_at is None
    assert (run.successful_nodes, run.failed_nodes) == (3, 0)
    nodes = {n.node_id: n for n in NodeExecution.objects.filter(run=run)}
    assert {k: n.status for k, n in nodes.items()} == {
        "hook": "succeeded",
        "a": "succeeded",
        "b": "succeeded",
    }
    assert nodes["b"].input == {"a": 21} and nodes["b"].output == {"a": 21, "b": 42}
    events = event_types(run.pk)
    assert events[0] == ("run.status", None, "running") and events[-1] == ("run.status", None, "completed")
    for node in ("hook", "a", "b"):
        assert events.index(("node.status", node, "running")) < events.index(
            ("node.status", node, "succeeded")
        )
    assert run.logs.filter(message__startswith="run completed").exists()


def test_the_runs_span_covers_its_nodes_even_when_they_are_stored_in_one_batch(api, client):
    """Pure nodes are stored with the run's first flush; the run's started_at is still when
    it began, so its duration is never shorter than a node's."""
    wid, path = hook_workflow(api)
    assert client.post(path, b'{"n": 1}', content_type="application/json").status_code == 200
    run = WorkflowRun.objects.get(workflow_id=wid)
    nodes = list(NodeExecution.objects.filter(run=run))
    assert run.started_at <= min(n.started_at for n in nodes)
    assert run.completed_at >= max(n.completed_at for n in nodes)


def _hook(api, nodes):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "inline fail",
        "nodes": nodes,
        "edges": [{"source": nodes[0]["id"], "target": nodes[1]["id"]}],
    }
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    url = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").json()["triggers"][0]["url"]
    return wid, url.split("testserver", 1)[1]


@pytest.fixture
def api_server():
    server = ApiServer()
    yield server
    server.close()


def test_a_run_failed_by_a_service_it_called_answers_502_naming_the_run(api, client, api_server):
    api_server.route("GET", "/down", (503, {"error": "maintenance"}))
    hook = {"id": "hook", "type": "trigger.webhook", "config": {"respond": "on_completion"}}
    call = {"id": "call", "type": "http.request", "config": {"url": api_server.url("/down")}}
    wid, path = _hook(api, [hook, call])
    res = client.post(path, b"{}", content_type="application/json")
    assert res.status_code == 502, res.content
    body = res.json()
    assert body["error"]["code"] == "RUN_FAILED"
    assert body["error"]["details"]["run_id"] == str(WorkflowRun.objects.get(workflow_id=wid).pk)


def test_a_failed_inline_run_answers_422_with_the_stored_error(api, client):
    nodes = [
        {"id": "hook", "type": "trigger.webhook", "config": {"respond": "on_completion"}},
        {"id": "boom", "type": "data.transform", "config": {"set": {"x": "{{ input.body.missing.deeper }}"}}},
    ]
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "inline fail",
        "nodes": nodes,
        "edges": [{"source": "hook", "target": "boom"}],
    }
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    path = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").json()["triggers"][0]["url"]
    res = client.post(path.split("testserver", 1)[1], b"{}", content_type="application/json")
    assert res.status_code == 422  # the request's data did not make it through: never a 500
    assert res.json()["error"]["code"] == "RUN_FAILED"
    body = res.json()
    run = WorkflowRun.objects.get(workflow_id=wid)
    assert run.status == "failed" and body["error"]["details"]["run_id"] == str(run.pk)
    assert event_types(run.pk)[-1] == ("run.status", None, "failed")


def test_with_no_free_slot_the_webhook_uses_the_queue(api, client, inline_queue, settings):
    settings.INLINE_RUNS = 0
    _, path = hook_workflow(api)
    res = client.post(path, b'{"n": 1}', content_type="application/json")
    assert res.status_code == 200 and res.json() == {"a": 2, "b": 4}


def test_wait_for_run_takes_a_queued_run_and_the_queued_task_skips_it(api, alice):
    from workflows.models import Workflow

    wid, _ = hook_workflow(api, respond="immediately")
    run = services.start_run(workflow=Workflow.objects.get(pk=wid), input={"body": {"n": 4}})
    assert WorkflowRun.objects.get(pk=run.pk).status == "pending"  # queued, no worker here
    finished = runner.wait_for_run(run.pk, 30)
    assert finished is not None and finished.status == "completed" and finished.output == {"a": 5, "b": 10}
    assert tasks.execute_run(str(run.pk)).startswith("skipped")


def test_a_finished_run_records_no_further_status_or_event(api):
    """`save_run` on a run that is already finished changes nothing (batched or not)."""
    from workflows.models import Workflow

    wid, _ = hook_workflow(api, respond="immediately")
    run = services.start_run(workflow=Workflow.objects.get(pk=wid), input={"body": {"n": 1}}, enqueue=False)
    tasks.execute_run(str(run.pk))
    before = event_types(run.pk)
    store = OrmStore()
    with store.batch(str(run.pk)):
        store.save_run(
            str(run.pk), status="failed", error={"category": "X", "message": "late", "details": {}}
        )
    store.save_run(str(run.pk), status="running")
    run.refresh_from_db()
    assert run.status == "completed" and run.error is None
    assert event_types(run.pk) == before


def test_inline_slots_are_given_back(api, client):
    """More requests than slots, one after another, are all answered in process (a slot
    not given back would send the rest to the queue, which no one consumes here)."""
    _, path = hook_workflow(api)
    for n in range(django_settings.INLINE_RUNS + 2):
        res = client.post(path, b'{"n": %d}' % n, content_type="application/json")
        assert res.status_code == 200 and res.json() == {"a": n + 1, "b": 2 * n + 2}


def test_a_run_of_pure_nodes_is_advanced_on_the_waiting_thread(api):
    """No hand-off to a pool thread for a run whose nodes are all pure: `submit` returns
    it done; a run with another node type still goes to the pool."""
    from runs import leases
    from workflows.models import Workflow

    wid, _ = hook_workflow(api)
    pure = runner.InlineRunner()
    assert pure.reserve()
    owner = leases.new_owner()
    run = services.start_run(
        workflow=Workflow.objects.get(pk=wid), input={"body": {"n": 3}}, enqueue=False, lease_owner=owner
    )
    future = pure.submit(run, owner)
    assert future.done() and future.result().status == "completed"
    assert pure._pool is None and pure._busy == 0
    assert WorkflowRun.objects.get(pk=run.pk).output == {"a": 4, "b": 8}

    doc = {
        "schema": "switchyard.workflow/1",
        "name": "with a wait",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "pause", "type": "logic.wait", "config": {"duration_s": 0.01}},
        ],
        "edges": [{"source": "start", "target": "pause"}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    other = runner.InlineRunner()
    assert other.reserve()
    run = services.start_run(
        workflow=Workflow.objects.get(pk=res.json()["id"]), input={}, enqueue=False, lease_owner=owner
    )
    assert other.submit(run, owner).result(timeout=30).status == "completed"
    assert other._pool is not None
