"""The executions list (every run of the caller's workspaces), bulk retry/cancel and the
per-node statistics behind the canvas badges."""

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

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


def test_search_by_input_text_is_bounded_where_no_index_serves_it(api, flows, monkeypatch):
    from django.db import connection

    from runs import executions

    monkeypatch.setattr(executions, "SEARCH_WINDOW", 2)  # the newest two runs after the filters
    res = api.get("/api/v1/runs?q=ada@example").json()  # the oldest run's input
    indexed = connection.vendor == "postgresql"  # trigram index: every run, 3 characters or more
    assert [r["id"] for r in res["results"]] == ([flows["ok"]] if indexed else [])
    assert res.get("search_window") == (None if indexed else 2)
    narrowed = api.get(f"/api/v1/runs?q=ada@example&workflow={flows['double']}").json()
    assert [r["id"] for r in narrowed["results"]] == [flows["ok"]]  # the window follows the filters
    short = api.get("/api/v1/runs?q=bo").json()  # too short for a trigram: bounded everywhere
    assert [r["id"] for r in short["results"]] == [flows["failed"]] and short["search_window"] == 2
    assert "search_window" not in api.get(f"/api/v1/runs?q={flows['ok'][:8]}").json()


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


def _stats_from_rows(workflow_id, since):
    """The per-node statistics computed from every node row, in Python: what the endpoint
    must answer however it gets there."""
    out = {}
    for n in NodeExecution.objects.filter(run__workflow_id=workflow_id, run__created_at__gte=since).exclude(
        status="skipped"
    ):
        s = out.setdefault(n.node_id, {"runs": 0, "succeeded": 0, "failed": 0, "ms": []})
        s["runs"] += 1
        s["succeeded"] += n.status == "succeeded"
        s["failed"] += n.status == "failed"
        if n.status in ("succeeded", "failed") and n.started_at and n.completed_at:
            s["ms"].append((n.completed_at - n.started_at).total_seconds() * 1000)
    return {
        node_id: {
            "runs": s["runs"],
            "succeeded": s["succeeded"],
            "failed": s["failed"],
            "success_ratio": round(s["succeeded"] / (s["succeeded"] + s["failed"]), 4)
            if s["succeeded"] + s["failed"]
            else None,
            "avg_duration_ms": round(sum(s["ms"]) / len(s["ms"]), 1) if s["ms"] else None,
        }
        for node_id, s in out.items()
    }


def test_node_stats_match_the_node_rows_across_days_unfinished_runs_and_later_changes(api, flows):
    branch = workflow(
        api,
        [
            START,
            {
                "id": "check",
                "type": "logic.if",
                "config": {"condition": {"left": "{{ input.x }}", "op": "gt", "right": 3}},
            },
            {"id": "big", "type": "data.transform", "config": {"set": {"tier": "big"}}},
            {"id": "small", "type": "data.transform", "config": {"set": {"tier": "small"}}},
        ],
        [
            {"source": "start", "target": "check"},
            {"source": "check", "source_handle": "true", "target": "big"},
            {"source": "check", "source_handle": "false", "target": "small"},
        ],
        name="Brancher",
    )
    ids = [run(api, branch, {"x": x}) for x in (1, 5, 7, 2, 9)]
    waiting = workflow(api, [START, HOLD, DOUBLE], [{"source": "start", "target": "hold"}], name="W")
    run(api, waiting, {"x": 1}, wait=False)
    now = timezone.now()
    # known durations (whole milliseconds: SQLite's date arithmetic has no finer grain),
    # written after the runs finished
    for i, run_id in enumerate(ids):
        for k, n in enumerate(NodeExecution.objects.filter(run_id=run_id).order_by("order")):
            n.started_at = now.replace(microsecond=0) - timedelta(seconds=30)
            n.completed_at = n.started_at + timedelta(milliseconds=10 * (i + 1) + k)
            n.save(update_fields=["started_at", "completed_at"])
    # runs on earlier days, one run gone, one node failed after the fact
    WorkflowRun.objects.filter(pk=ids[0]).update(created_at=now - timedelta(days=3))
    WorkflowRun.objects.filter(pk=ids[1]).update(created_at=now - timedelta(days=1, hours=2))
    WorkflowRun.objects.filter(pk=ids[2]).delete()
    NodeExecution.objects.filter(run_id=ids[3], node_id="small").update(status="failed")

    def check(wid, since):
        query = "" if since is None else "?" + urlencode({"since": since.isoformat()})
        got = api.get(f"/api/v1/workflows/{wid}/node-stats{query}").json()["nodes"]
        start = since or now.replace(hour=0, minute=0, second=0, microsecond=0)
        want = _stats_from_rows(wid, start)
        for stats in want.values():  # SQLite's date arithmetic stops at milliseconds
            if stats["avg_duration_ms"] is not None:
                stats["avg_duration_ms"] = pytest.approx(stats["avg_duration_ms"], abs=1)
        assert got == want, since
        return got

    today = check(branch, None)
    assert today["check"]["runs"] == 2 and today["big"]["runs"] == 1 and today["small"]["failed"] == 1
    everything = check(branch, now - timedelta(days=30))  # part of that day, then whole days
    assert everything["start"]["runs"] == 4 and everything["check"]["success_ratio"] == 1.0
    check(branch, (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0))
    check(branch, now - timedelta(hours=1))
    check(branch, (now - timedelta(days=2)).astimezone(timezone.get_fixed_timezone(-300)))
    held = check(waiting, None)  # an unfinished run counts as it stands
    assert held["hold"] == {
        "runs": 1,
        "succeeded": 0,
        "failed": 0,
        "success_ratio": None,
        "avg_duration_ms": None,
    }
    assert "double" not in held
    check(flows["double"], now - timedelta(days=1))


def test_per_day_totals_go_with_a_deleted_workflow_and_with_pruned_runs(api, flows, settings):
    from runs.models import NodeDayStat
    from runs.timekeeping import prune_finished_runs

    double, hold = flows["double"], flows["hold"]
    assert NodeDayStat.objects.filter(workflow_id=double, runs__gt=0).exists()
    assert api.delete(f"/api/v1/workflows/{double}").status_code == 204
    assert not NodeDayStat.objects.filter(workflow_id=double).exists()

    # Runs past retention are pruned: the days they leave at nothing are removed, today's
    # totals of runs still kept stay.
    kept = run(api, hold, {"x": 2}, wait=False)
    old = workflow(api, [START, DOUBLE], [{"source": "start", "target": "double"}], name="Old")
    [run(api, old, {"x": 1}) for _ in range(2)]
    recent = run(api, old, {"x": 3})
    long_ago = timezone.now() - timedelta(days=settings.RUN_RETENTION_DAYS + 5)
    WorkflowRun.objects.filter(workflow_id=old).exclude(pk=recent).update(
        created_at=long_ago, completed_at=long_ago
    )
    assert NodeDayStat.objects.filter(workflow_id=old, day=long_ago.date(), runs=2).count() == 2
    prune_finished_runs()
    assert [str(pk) for pk in WorkflowRun.objects.filter(workflow_id=old).values_list("pk", flat=True)] == [
        recent
    ]
    assert not NodeDayStat.objects.filter(workflow_id=old, day=long_ago.date()).exists()
    assert NodeDayStat.objects.filter(workflow_id=old, day=timezone.now().date(), runs=1).count() == 2
    assert WorkflowRun.objects.filter(pk=kept).exists()


def _runs_table_reads(cursor) -> tuple[int, int]:
    """This transaction's sequential scans of the runs table and rows they read (PostgreSQL's
    per-transaction counters, counted before they are reported anywhere)."""
    cursor.execute(
        "SELECT COALESCE(seq_scan, 0), COALESCE(seq_tup_read, 0) FROM pg_stat_xact_user_tables "
        "WHERE relname = 'runs_workflowrun'"
    )
    return cursor.fetchone() or (0, 0)


def test_writing_a_runs_node_rows_reads_no_other_run(api, flows):
    """Storing a run's node rows (the statistics triggers look its run up) costs the same with
    one stored run as with thousands: each row's run is found by its key, the runs table is
    never read through. Checked on PostgreSQL, where those triggers run per statement."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("per-statement statistics triggers are PostgreSQL's (SQLite's are per row)")
    finished = [run(api, flows["double"], {"x": x}) for x in range(5)]
    target = WorkflowRun.objects.get(pk=finished[0])
    with transaction.atomic(), connection.cursor() as cursor:
        scans_before = _runs_table_reads(cursor)
        NodeExecution.objects.bulk_create(
            [
                NodeExecution(run=target, node_id=f"extra{i}", node_type="data.transform", status="succeeded")
                for i in range(6)
            ]
        )
        NodeExecution.objects.filter(run=target, node_id__startswith="extra").update(status="failed")
        NodeExecution.objects.filter(run=target, node_id__startswith="extra").delete()
        assert _runs_table_reads(cursor) == scans_before
