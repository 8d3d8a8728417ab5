"""Runs through the REST API: execute, detail shape, history filters, logs, retry, cancel."""

import json

import pytest

from connectors.models import Credential
from runs.models import ExecutionLog, NodeExecution, WorkflowRun
from workflows.models import Workspace

pytestmark = pytest.mark.usefixtures("inline_queue")


def workflow(api, nodes, edges, **extra):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": extra.pop("name", "wf"),
        "nodes": nodes,
        "edges": edges,
        **extra,
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def execute(api, wid, input=None, **body):
    return api.post(
        f"/api/v1/workflows/{wid}/execute", {"input": input or {}, "mode": "test", **body}, format="json"
    )


START = {"id": "start", "type": "trigger.manual"}


def test_execute_without_wait_returns_202_and_run_id(api):
    wid = workflow(api, [START], [])
    res = execute(api, wid)
    assert res.status_code == 202 and res.json()["run_id"]


def test_execute_with_wait_returns_the_run_detail(api):
    wid = workflow(
        api,
        [START, {"id": "t", "type": "data.transform", "config": {"set": {"y": "{{ input.x * 2 }}"}}}],
        [{"source": "start", "target": "t"}],
    )
    res = execute(api, wid, {"x": 21}, wait=True)
    assert res.status_code == 200, res.content
    run = res.json()
    assert run["status"] == "completed" and run["output"] == {"x": 21, "y": 42}
    assert run["mode"] == "test" and run["trigger_type"] == "trigger.manual"
    assert run["total_nodes"] == 2 and run["successful_nodes"] == 2 and run["failed_nodes"] == 0
    assert run["duration_ms"] is not None and run["started_at"] and run["completed_at"]
    nodes = {n["node_id"]: n for n in run["nodes"]}
    assert nodes["start"]["output"] == {"x": 21} and nodes["t"]["attempts"] == 1
    assert set(nodes["t"]) >= {
        "status",
        "attempts",
        "iteration",
        "input",
        "output",
        "error",
        "started_at",
        "completed_at",
        "duration_ms",
    }


def test_run_detail_lists_never_run_nodes_as_skipped(api):
    wid = workflow(
        api,
        [
            START,
            {"id": "check", "type": "logic.if", "config": {"condition": "{{ input.go }}"}},
            {"id": "yes", "type": "data.transform", "config": {"set": {"a": 1}}},
            {"id": "no", "type": "data.transform", "config": {"set": {"a": 2}}},
        ],
        [
            {"source": "start", "target": "check"},
            {"source": "check", "source_handle": "true", "target": "yes"},
            {"source": "check", "source_handle": "false", "target": "no"},
        ],
    )
    run = execute(api, wid, {"go": True}, wait=True).json()
    assert [n["node_id"] for n in run["nodes"]] == ["start", "check", "yes", "no"]
    assert {n["node_id"]: n["status"] for n in run["nodes"]}["no"] == "skipped"


def test_loop_body_nodes_appear_once_per_iteration(api):
    wid = workflow(
        api,
        [
            START,
            {"id": "each", "type": "logic.loop", "config": {"items": "{{ input.xs }}"}},
            {
                "id": "body",
                "type": "data.transform",
                "config": {"set": {"v": "{{ item }}"}, "keep_input": False},
            },
        ],
        [
            {"source": "start", "target": "each"},
            {"source": "each", "source_handle": "each", "target": "body"},
        ],
    )
    run = execute(api, wid, {"xs": ["a", "b", "c"]}, wait=True).json()
    body = [n for n in run["nodes"] if n["node_id"] == "body"]
    assert [n["iteration"] for n in body] == [0, 1, 2]
    assert [n["output"] for n in body] == [{"v": "a"}, {"v": "b"}, {"v": "c"}]


def test_run_history_filters_by_status_newest_first(api):
    wid = workflow(
        api,
        [START, {"id": "code", "type": "data.code", "config": {"code": "result = 1 / input['d']"}}],
        [{"source": "start", "target": "code"}],
    )
    ok = execute(api, wid, {"d": 1}, wait=True).json()["id"]
    bad = execute(api, wid, {"d": 0}, wait=True).json()["id"]
    all_runs = api.get(f"/api/v1/workflows/{wid}/runs").json()
    assert [r["id"] for r in all_runs["results"]] == [bad, ok]
    failed = api.get(f"/api/v1/workflows/{wid}/runs?status=failed").json()
    assert [r["id"] for r in failed["results"]] == [bad]


def test_logs_are_ordered_and_filterable_by_node_and_level(api):
    wid = workflow(
        api,
        [START, {"id": "t", "type": "data.transform", "config": {"set": {"a": 1}}}],
        [{"source": "start", "target": "t"}],
    )
    run_id = execute(api, wid, wait=True).json()["id"]
    logs = api.get(f"/api/v1/runs/{run_id}/logs").json()
    assert logs and all({"timestamp", "level", "node_id", "message", "data"} <= set(e) for e in logs)
    assert [e["timestamp"] for e in logs] == sorted(e["timestamp"] for e in logs)
    only_t = api.get(f"/api/v1/runs/{run_id}/logs?node=t").json()
    assert only_t and all(e["node_id"] == "t" for e in only_t)
    assert api.get(f"/api/v1/runs/{run_id}/logs?level=error").json() == []


def test_retry_from_failed_reuses_succeeded_outputs(api, httpserver):
    calls = []
    httpserver.expect_request("/count").respond_with_handler(
        lambda req: (
            calls.append(1),
            __import__("werkzeug").Response(json.dumps({"n": len(calls)}), content_type="application/json"),
        )[1]
    )
    wid = workflow(
        api,
        [
            START,
            {"id": "fetch", "type": "http.request", "config": {"url": httpserver.url_for("/count")}},
            {
                "id": "check",
                "type": "data.code",
                "config": {"code": "assert input['flag'], 'flag off'\nresult = input"},
            },
        ],
        [
            {"source": "start", "target": "fetch"},
            {
                "source": "fetch",
                "target": "check",
                "mapping": {"flag": "{{ trigger.flag }}", "n": "{{ source.body.n }}"},
            },
        ],
    )
    first = execute(api, wid, {"flag": False}, wait=True).json()
    assert first["status"] == "failed" and len(calls) == 1
    res = api.post(f"/api/v1/runs/{first['id']}/retry", {"from": "failed"}, format="json")
    assert res.status_code == 201, res.content
    again = WorkflowRun.objects.get(pk=res.json()["id"])
    assert again.retry_of_id is not None and len(calls) == 1  # fetch was not called again
    assert NodeExecution.objects.get(run=again, node_id="fetch").output["body"] == {"n": 1}


def test_retry_from_start_runs_everything_again(api, httpserver):
    httpserver.expect_request("/ok").respond_with_json({"ok": True})
    wid = workflow(
        api,
        [START, {"id": "fetch", "type": "http.request", "config": {"url": httpserver.url_for("/ok")}}],
        [{"source": "start", "target": "fetch"}],
    )
    first = execute(api, wid, wait=True).json()
    res = api.post(f"/api/v1/runs/{first['id']}/retry", {"from": "start"}, format="json")
    assert res.status_code == 201
    assert WorkflowRun.objects.get(pk=res.json()["id"]).status == "completed"
    assert len(httpserver.log) == 2


def test_retry_with_bad_from_is_a_400_naming_the_field(api):
    wid = workflow(api, [START], [])
    run_id = execute(api, wid, wait=True).json()["id"]
    res = api.post(f"/api/v1/runs/{run_id}/retry", {"from": "middle"}, format="json")
    assert res.status_code == 400 and "from" in res.json()["error"]["message"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"mode": "dry"}, "mode"),
        ({"wait": "yes"}, "wait"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 301}, "timeout_s"),
        ({"mode": "live"}, "mode"),
    ],
)
def test_execute_rejects_bad_parameters_with_json_errors(api, body, field):
    wid = workflow(api, [START], [])
    res = api.post(f"/api/v1/workflows/{wid}/execute", body, format="json")
    assert res.status_code in (400, 409)
    assert field in res.json()["error"]["details"]


def test_secret_values_are_masked_in_stored_run_data_and_logs(api, httpserver, alice):
    httpserver.expect_request("/echo").respond_with_handler(
        lambda req: __import__("werkzeug").Response(
            json.dumps({"auth": req.headers.get("Authorization")}), content_type="application/json"
        )
    )
    api.get("/api/v1/workspaces/")  # alice's first use creates her workspace
    ws = Workspace.objects.get(memberships__user=alice)
    cred = Credential(workspace=ws, name="api_token", kind="bearer")
    cred.data = {"token": "sk-live-very-secret-123"}
    cred.save()
    wid = workflow(
        api,
        [
            START,
            {
                "id": "call",
                "type": "http.request",
                "config": {
                    "url": httpserver.url_for("/echo"),
                    "auth": {"type": "bearer", "token": "{{ workspace.api_token }}"},
                },
            },
        ],
        [{"source": "start", "target": "call"}],
    )
    run = execute(api, wid, wait=True).json()
    assert run["status"] == "completed", run
    assert run["nodes"][1]["output"]["body"]["auth"] == "Bearer ***"
    stored = json.dumps(
        [
            list(NodeExecution.objects.values()),
            list(ExecutionLog.objects.values_list("message", "data")),
            list(WorkflowRun.objects.values("output", "error")),
        ],
        default=str,
    )
    assert "sk-live-very-secret-123" not in stored
    assert cred.accesses.count() == 1


def test_other_user_cannot_see_or_touch_runs(api, bob_api):
    wid = workflow(api, [START], [])
    run_id = execute(api, wid, wait=True).json()["id"]
    for method, path in [
        ("get", f"/api/v1/runs/{run_id}"),
        ("get", f"/api/v1/runs/{run_id}/logs"),
        ("post", f"/api/v1/runs/{run_id}/retry"),
        ("post", f"/api/v1/runs/{run_id}/cancel"),
        ("post", f"/api/v1/workflows/{wid}/execute"),
        ("get", f"/api/v1/workflows/{wid}/runs"),
    ]:
        assert getattr(bob_api, method)(path, {}, format="json").status_code == 404, path
    assert bob_api.get("/api/v1/runs").json()["count"] == 0


def test_unknown_callback_token_is_404(client):
    res = client.post("/api/v1/callbacks/" + "x" * 43, {}, content_type="application/json")
    assert res.status_code == 404 and res.json()["error"]["code"] == "NOT_FOUND"


def test_stored_payloads_are_capped_with_a_visible_marker(api, settings):
    settings.MAX_STORED_PAYLOAD_BYTES = 1000
    wid = workflow(
        api,
        [
            START,
            {"id": "big", "type": "data.code", "config": {"code": "result = {'s': 'x' * 5000}"}},
            {
                "id": "size",
                "type": "data.transform",
                "config": {"set": {"n": "{{ input.s | length }}"}, "keep_input": False},
            },
        ],
        [{"source": "start", "target": "big"}, {"source": "big", "target": "size"}],
    )
    run = execute(api, wid, wait=True).json()
    nodes = {n["node_id"]: n for n in run["nodes"]}
    assert nodes["big"]["output"]["_switchyard_truncated"] is True
    assert nodes["size"]["output"] == {"n": 5000}  # the full value flowed on


def test_execute_wait_answers_408_with_run_id_when_not_in_time(api, settings):
    settings.WAIT_INLINE_MAX_S = 0.1  # the 5 s wait parks the run instead of holding the worker
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    wid = workflow(
        api,
        [START, {"id": "pause", "type": "logic.wait", "config": {"duration_s": 5}}],
        [{"source": "start", "target": "pause"}],
    )
    res = execute(api, wid, wait=True, timeout_s=0.5)
    assert res.status_code == 408 and res.json()["run_id"]
    assert api.get(f"/api/v1/runs/{res.json()['run_id']}").json()["status"] == "waiting"


def test_cancel_of_a_parked_run_finishes_it_cancelled(api, settings):
    settings.WAIT_INLINE_MAX_S = 0.1
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    wid = workflow(
        api,
        [
            START,
            {"id": "pause", "type": "logic.wait", "config": {"duration_s": 60}},
            {"id": "after", "type": "data.transform", "config": {"set": {"x": 1}}},
        ],
        [{"source": "start", "target": "pause"}, {"source": "pause", "target": "after"}],
    )
    run_id = execute(api, wid).json()["run_id"]
    res = api.post(f"/api/v1/runs/{run_id}/cancel", {}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "cancelled"
    nodes = {n["node_id"]: n["status"] for n in res.json()["nodes"]}
    assert nodes["after"] == "skipped"


def test_cancel_of_a_queued_run_finishes_it_cancelled_before_any_node_runs(api):
    from runs import services
    from workflows.models import Workflow

    wid = workflow(
        api,
        [START, {"id": "t", "type": "data.transform", "config": {"set": {"x": 1}}}],
        [{"source": "start", "target": "t"}],
    )
    run = services.start_run(workflow=Workflow.objects.get(pk=wid), input={}, enqueue=False)
    res = api.post(f"/api/v1/runs/{run.pk}/cancel", {}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "cancelled"
    assert {n["node_id"]: n["status"] for n in res.json()["nodes"]} == {"start": "skipped", "t": "skipped"}
