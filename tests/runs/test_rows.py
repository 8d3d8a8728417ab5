"""The hot path's prepared SQL (`runs.rows`) stores and reads rows exactly as the ORM does,
on SQLite and PostgreSQL: every value of every column, JSON, UUIDs and times included."""

import pytest
from django.db import connection

from runs import rows
from runs.intake import active_trigger
from runs.models import WorkflowRun
from tests.runs.test_readyz import on_postgresql
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
    outputs += [{"over 64 bits": [2**70, -(2**80)], "float": 1e16}]
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


# ------------------------------------------------------------- rows written with a batch


def owed_run(api):
    from workflows.models import Workflow

    wid = api.post("/api/v1/workflows/", WEBHOOK, format="json").json()["id"]
    workflow = Workflow.objects.get(pk=wid)
    return rows.create_deferred(
        WorkflowRun,
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.versions.first(),
        input={"n": 1},
        trigger_node="hook",
    )


def stored(run) -> bool:
    return WorkflowRun.objects.filter(pk=run.pk).exists()


def test_a_deferred_row_is_written_with_its_changes_by_the_next_batch_or_at_the_end(api):
    if connection.vendor != "postgresql":  # no batches: written at once
        with rows.deferred():
            run = owed_run(api)
            assert rows.owed(run.pk) is None and stored(run)
        return
    with rows.deferred():
        run = owed_run(api)
        assert rows.owed(run.pk) is not None
        run.status = "running"  # a change before it is written is written with it
        with rows.batched():
            rows.execute('UPDATE "runs_workflowrun" SET "trigger_node" = %s WHERE "id" = %s', ["b", run.pk])
        assert rows.owed(run.pk) is None
    written = WorkflowRun.objects.get(pk=run.pk)
    assert (written.status, written.trigger_node) == ("running", "b")  # the row led the batch
    with rows.deferred():
        unsent = owed_run(api)
        assert rows.owed(unsent.pk) is not None
    assert stored(unsent)  # no batch took it: written when the block ends


@on_postgresql
def test_a_statement_run_on_its_own_finds_the_deferred_row_already_written(api):
    with rows.deferred():
        run = owed_run(api)
        assert stored(run)  # a read on its own: what is owed goes first
        with rows.batched():
            assert stored(run)  # also from inside a batch that the row leads
    assert WorkflowRun.objects.filter(pk=run.pk).count() == 1


@on_postgresql
def test_a_deferred_row_whose_batch_fails_is_written_as_created_when_the_block_ends(api):
    with pytest.raises(RuntimeError), rows.deferred():
        run = owed_run(api)
        with rows.batched():
            run.status = "completed"
            raise RuntimeError("the batch is never sent")
    assert WorkflowRun.objects.get(pk=run.pk).status == "pending"  # what the failed batch changed is void
