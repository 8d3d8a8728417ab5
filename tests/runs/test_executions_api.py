"""The executions list (every run of the caller's workspaces), bulk retry/cancel and the
per-node statistics behind the canvas badges."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from runs.models import NodeExecution, WorkflowRun
from workflows.engine.registry import registry
from workflows.models import Membership, Workspace

pytestmark = pytest.mark.usefixtures("inline_queue")

START = {"id": "start", "type": "trigger.manual"}
DOUBLE = {"id": "double", "type": "data.transform", "config": {"set": {"y": "{{ input.x * 2 }}"}}}
HOLD = {"id": "hold", "type": "flow.callback", "config": {"expires_in_s": 600}}


def workflow(api, nodes, edges, name="wf", workspace=None):
    doc = {"schema": "switchyard.workflow/1", "name": name, "nodes": nodes, "edges": edges}
    if workspace:
        doc["workspace"] = workspace
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def run(api, wid, input=None, wait=True):
    res = api.post(
        f"/api/v1/workflows/{wid}/execute",
        {"input": input or {}, "mode": "test", "wait": wait},
        format="json",
    )
    assert res.status_code in (200, 202), res.content
    return res.json().get("id") or res.json()["run_id"]


@pytest.fixture
def flows(api):
    """Two workflows: `double` (x * 2, fails with TEMPLATE_ERROR without x) and `hold`."""
    double = workflow(api, [START, DOUBLE], [{"source": "start", "target": "double"}], name="Doubler")
    hold = workflow(api, [START, HOLD], [{"source": "start", "target": "hold"}], name="Holder")
    ok = run(api, double, {"x": 2, "customer": "ada@example.com"})
    failed = run(api, double, {"customer": "bob@example.com"})
    waiting = run(api, hold, {"x": 1}, wait=False)
    return {"double": double, "hold": hold, "ok": ok, "failed": failed, "waiting": waiting}


def test_lists_every_workflows_runs_newest_first_with_failure_reason(api, flows):
    body = api.get("/api/v1/runs").json()
    assert body["count"] == 3
    rows = body["results"]
    assert [r["id"] for r in rows] == [flows["waiting"], flows["failed"], flows["ok"]]
    assert {r["workflow_name"] for r in rows} == {"Doubler", "Holder"}
    failed = next(r for r in rows if r["id"] == flows["failed"])
    assert failed["status"] == "failed"
    assert failed["failure"]["node_id"] == "double"
    assert failed["failure"]["category"] == "TEMPLATE_ERROR"
    assert "x" in failed["failure"]["message"]
    assert next(r for r in rows if r["id"] == flows["ok"])["failure"] is None


def test_filters_search_and_pagination(api, flows):
    def ids(query):
        res = api.get(f"/api/v1/runs?{query}")
        assert res.status_code == 200, res.content
        return {r["id"] for r in res.json()["results"]}

    assert ids(f"workflow={flows['hold']}") == {flows["waiting"]}
    assert ids("status=failed,waiting") == {flows["failed"], flows["waiting"]}
    assert ids("mode=live") == set()
    assert ids("trigger_type=trigger.manual") == {flows["ok"], flows["failed"], flows["waiting"]}
    assert ids("trigger_type=trigger.webhook") == set()
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert ids(f"since={tomorrow}") == set()
    assert len(ids(f"until={tomorrow}")) == 3
    assert ids("q=bob@example") == {flows["failed"]}
    assert ids(f"q={flows['ok']}") == {flows["ok"]}
    assert flows["ok"] in ids(f"q={flows['ok'][:8]}")
    page = api.get("/api/v1/runs?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    second = api.get("/api/v1/runs?page_size=2&page=2").json()
    assert [r["id"] for r in second["results"]] == [flows["ok"]]


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=exploded", "status"),
        ("mode=dry", "mode"),
        ("since=yesterday", "since"),
        ("until=2026-13-40", "until"),
        ("workflow=not-a-uuid", "workflow"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(api, query, field):
    res = api.get(f"/api/v1/runs?{query}")
    assert res.status_code == 400
    assert field in res.json()["error"]["details"]


def test_other_workspaces_runs_stay_invisible(api, bob_api, flows):
    assert bob_api.get("/api/v1/runs").json()["count"] == 0
    res = bob_api.post("/api/v1/runs/bulk-cancel", {"ids": [flows["waiting"]]}, format="json")
    assert res.json()["results"][0]["error"]["code"] == "NOT_FOUND"
    assert WorkflowRun.objects.get(pk=flows["waiting"]).status == "waiting"


def test_bulk_retry_from_failed_and_bulk_cancel(api, flows):
    res = api.post(
        "/api/v1/runs/bulk-retry", {"ids": [flows["failed"], flows["ok"]], "from": "failed"}, format="json"
    )
    assert res.status_code == 200, res.content
    results = {r["id"]: r for r in res.json()["results"]}
    assert results[flows["failed"]]["ok"] and results[flows["failed"]]["run_id"]
    # A completed run cannot be retried from its failed node: refused for that row only.
    assert not results[flows["ok"]]["ok"] and results[flows["ok"]]["error"]["code"] == "VALIDATION_ERROR"
    retried = WorkflowRun.objects.get(pk=results[flows["failed"]]["run_id"])
    assert str(retried.retry_of_id) == flows["failed"]

    res = api.post("/api/v1/runs/bulk-cancel", {"ids": [flows["waiting"]]}, format="json")
    assert res.status_code == 200 and res.json()["succeeded"] == 1
    assert WorkflowRun.objects.get(pk=flows["waiting"]).status == "cancelled"


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": ["nope"]}, {"ids": "x"}, {"ids": ["0" * 8] * 101}])
def test_bulk_bodies_are_checked(api, body):
    res = api.post("/api/v1/runs/bulk-retry", body, format="json")
    assert res.status_code == 400 and res.json()["error"]["code"] == "VALIDATION_ERROR"


def test_bulk_actions_need_a_writing_role(api, alice, bob, bob_api, flows):
    workspace = Workspace.objects.get(workflows__pk=flows["hold"])
    Membership.objects.create(workspace=workspace, user=bob, role="viewer")
    assert bob_api.get("/api/v1/runs").json()["count"] == 3
    res = bob_api.post("/api/v1/runs/bulk-cancel", {"ids": [flows["waiting"]]}, format="json")
    assert res.json()["results"][0]["error"]["code"] == "PERMISSION_DENIED"


def test_node_stats_count_today_success_ratio_and_mean_duration(api, flows):
    run(api, flows["double"], {"x": 5})
    stats = api.get(f"/api/v1/workflows/{flows['double']}/node-stats").json()
    double = stats["nodes"]["double"]
    assert double["runs"] == 3 and double["succeeded"] == 2 and double["failed"] == 1
    assert double["success_ratio"] == pytest.approx(2 / 3, abs=1e-3)
    assert double["avg_duration_ms"] is not None and double["avg_duration_ms"] >= 0
    assert stats["nodes"]["start"]["runs"] == 3
    # Yesterday's runs do not count today; `since` widens the window.
    WorkflowRun.objects.filter(pk=flows["ok"]).update(created_at=timezone.now() - timedelta(days=2))
    assert api.get(f"/api/v1/workflows/{flows['double']}/node-stats").json()["nodes"]["double"]["runs"] == 2
    since = (timezone.now() - timedelta(days=3)).date().isoformat()
    wide = api.get(f"/api/v1/workflows/{flows['double']}/node-stats?since={since}").json()
    assert wide["nodes"]["double"]["runs"] == 3


def test_node_stats_refuse_bad_since_and_foreign_workflows(api, bob_api, flows):
    res = api.get(f"/api/v1/workflows/{flows['double']}/node-stats?since=soon")
    assert res.status_code == 400 and "since" in res.json()["error"]["details"]
    assert bob_api.get(f"/api/v1/workflows/{flows['double']}/node-stats").status_code == 404


def test_a_nodes_recent_executions_across_runs(api, flows):
    res = api.get(f"/api/v1/workflows/{flows['double']}/nodes/double/executions")
    rows = res.json()["results"]
    assert [r["run_id"] for r in rows] == [flows["failed"], flows["ok"]]
    assert rows[0]["error"]["category"] == "TEMPLATE_ERROR" and rows[1]["output"]["y"] == 4
    failed_only = api.get(f"/api/v1/workflows/{flows['double']}/nodes/double/executions?status=failed")
    assert [r["run_id"] for r in failed_only.json()["results"]] == [flows["failed"]]
    assert (
        api.get(f"/api/v1/workflows/{flows['double']}/nodes/double/executions?status=odd").status_code == 400
    )
    assert NodeExecution.objects.filter(run_id=flows["ok"]).count() == 2


def test_the_executions_page_offers_every_trigger_type_as_a_filter(client, alice):
    """The trigger filter lists every registered trigger type, not a fixed few, so runs
    started by a queue message or a chat message can be found too."""
    client.force_login(alice)
    html = client.get("/runs").content.decode()
    boot = json.loads(
        re.search(r'<script id="executions-boot" type="application/json">(.*?)</script>', html, re.S)[1]
    )
    triggers = {t.type for t in registry.all() if t.is_trigger}
    assert {"trigger.queue", "trigger.chat", "trigger.webhook"} <= triggers
    assert triggers <= set(boot["trigger_types"])
