"""The hot path's prepared SQL (`runs.rows`) stores and reads rows exactly as the ORM does,
on SQLite and PostgreSQL: every value of every column, JSON, UUIDs and times included."""

import pytest
from django.db import connection

from runs import rows
from runs.intake import active_trigger
from runs.models import WorkflowRun
from workflows.models import TriggerEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK = {
    "schema": "switchyard.workflow/1",
    "name": "rows",
    "nodes": [{"id": "hook", "type": "trigger.webhook", "config": {"method": "POST"}}],
    "edges": [],
}


def concrete(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_a_run_created_and_read_with_prepared_sql_is_what_the_orm_stores_and_reads(api):
    from workflows.models import Workflow

    wid = api.post("/api/v1/workflows/", WEBHOOK, format="json").json()["id"]
    workflow = Workflow.objects.get(pk=wid)
    text = "it's 100% %s; -- \\ 'quoted' \u00e9\u4e2d"
    run = rows.create(
        WorkflowRun,
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.versions.first(),
        input={"text": text, "n": [1, 2.5, None, True]},
        trigger_node="hook",
        idempotency_key=text,
    )
    stored = WorkflowRun.objects.get(pk=run.pk)
    assert concrete(stored) == concrete(run)
    assert stored.input["text"] == text and stored.created_at is not None
    key = WorkflowRun._meta.pk.get_db_prep_value(run.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.columns(WorkflowRun, 'r')} FROM runs_workflowrun r WHERE r.id = %s", [key]
        )
        read = rows.instance(WorkflowRun, cursor.fetchone())
    assert concrete(read) == concrete(stored)


def test_a_token_finds_its_endpoint_and_workflow_as_the_orm_reads_them(api):
    wid = api.post("/api/v1/workflows/", WEBHOOK, format="json").json()["id"]
    assert api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").status_code == 200
    endpoint = TriggerEndpoint.objects.select_related("workflow").get(workflow_id=wid)
    found = active_trigger(endpoint.token)
    assert concrete(found.endpoint) == concrete(endpoint)
    assert concrete(found.workflow) == concrete(endpoint.workflow)
    assert found.node["id"] == "hook"
    assert active_trigger(endpoint.token + "x") is None


def test_node_rows_inserted_together_keep_their_order_and_every_value(api):
    from django.utils import timezone

    from runs.models import NodeExecution
    from runs.store import NODE_COLUMNS
    from workflows.models import Workflow

    wid = api.post("/api/v1/workflows/", WEBHOOK, format="json").json()["id"]
    workflow = Workflow.objects.get(pk=wid)
    run = rows.create(
        WorkflowRun, workspace_id=workflow.workspace_id, workflow=workflow, version=workflow.versions.first()
    )
    now = timezone.now()
    outputs = ["text with 'quotes' and %s", None, [1, {"a": None}], {"nested": {"x": "\u00e9"}}, 0, True, ""]
    values = [
        (run.pk, f"n{i}", i if i % 2 else None, "1.2" if i == 3 else "", "data.transform", i)
        + ("succeeded", 1, {"in": i}, out, None, ["main"], None, [], now, None, None)
        for i, out in enumerate(outputs)
    ]
    rows.insert(NodeExecution, NODE_COLUMNS, values)
    stored = list(NodeExecution.objects.filter(run=run).order_by("id"))
    assert [r.node_id for r in stored] == [f"n{i}" for i in range(len(outputs))]
    assert [r.output for r in stored] == outputs
    assert [(r.iteration, r.outer_iterations, r.order) for r in stored] == [
        (i if i % 2 else None, "1.2" if i == 3 else "", i) for i in range(len(outputs))
    ]
    assert all(r.started_at == now and r.completed_at is None and r.handles == ["main"] for r in stored)
