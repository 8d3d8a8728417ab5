"""On PostgreSQL, a run answered on completion and advanced on the request's own thread (every
node pure) is written in one transaction: its row, inserted once and already in its final
state, leads the one batch of its node rows, events (one INSERT) and logs. It stores exactly what the
step-by-step path stores (statuses, counts, ordered events, day statistics), and when that
batch fails the run is stored all the same and a worker finishes it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from runs.models import NodeDayStat, NodeExecution, WorkflowRun
from tests.runs.test_inline_runs import event_types, hook_workflow
from tests.runs.test_readyz import on_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), on_postgresql]

RUN_INSERT = 'INSERT INTO "runs_workflowrun"'


def run_writes(queries) -> list[str]:
    """The statements sent that write a run row (a batch is one multi-statement text)."""
    return [q["sql"] for q in queries if RUN_INSERT in q["sql"] or 'UPDATE "runs_workflowrun"' in q["sql"]]


def test_the_run_row_is_written_once_in_final_state_with_its_nodes_in_one_round_trip(api, client):
    wid, path = hook_workflow(api)
    with CaptureQueriesContext(connection) as sent:
        res = client.post(path, b'{"n": 20}', content_type="application/json")
    assert res.status_code == 200 and res.json() == {"a": 21, "b": 42}

    writes = run_writes(sent.captured_queries)
    assert len(writes) == 1, writes  # one round trip writes the run
    batch = writes[0]
    assert batch.count(RUN_INSERT) == 1 and 'UPDATE "runs_workflowrun"' not in batch
    assert batch.index(RUN_INSERT) < batch.index('INSERT INTO "runs_nodeexecution"')
    assert batch.count('INSERT INTO "runs_runevent"') == 1  # its events, in order, in one INSERT

    run = WorkflowRun.objects.get(workflow_id=wid)
    assert run.status == "completed" and run.output == {"a": 21, "b": 42} and run.error is None
    assert (run.successful_nodes, run.failed_nodes, run.total_nodes) == (3, 0, 3)
    assert run.lease_owner == "" and run.lease_expires_at is None
    assert run.started_at <= run.completed_at
    nodes = list(NodeExecution.objects.filter(run=run))
    assert {n.node_id: n.status for n in nodes} == {"hook": "succeeded", "a": "succeeded", "b": "succeeded"}
    assert all(run.started_at <= n.started_at <= n.completed_at <= run.completed_at for n in nodes)
    events = event_types(run.pk)
    assert events[0] == ("run.status", None, "running") and events[-1] == ("run.status", None, "completed")
    assert [e for e in events if e[0] == "run.status"] == [
        ("run.status", None, "running"),
        ("run.status", None, "completed"),
    ]
    # the day statistics count a run inserted finished as they count one updated to finished
    stats = {s.node_id: (s.runs, s.succeeded, s.failed) for s in NodeDayStat.objects.filter(workflow_id=wid)}
    assert stats == {"hook": (1, 1, 0), "a": (1, 1, 0), "b": (1, 1, 0)}
    assert NodeDayStat.objects.filter(workflow_id=wid, day=timezone.now().date()).count() == 3


def test_a_run_that_fails_a_node_is_written_once_with_its_failure(api, client):
    wid, path = hook_workflow(api)
    # `input.body.n + 1` cannot add a text: the node fails, the run fails
    res = client.post(path, b'{"n": "x"}', content_type="application/json")
    assert res.status_code >= 400
    run = WorkflowRun.objects.get(workflow_id=wid)
    assert run.status == "failed" and run.error["node"] == "a"
    assert (run.successful_nodes, run.failed_nodes) == (1, 1)
    stats = {s.node_id: (s.runs, s.succeeded, s.failed) for s in NodeDayStat.objects.filter(workflow_id=wid)}
    assert stats == {"hook": (1, 1, 0), "a": (1, 0, 1)}


@pytest.fixture
def first_node_batch_fails():
    """The database refuses the first statement that inserts node rows (a real error in the
    batch, once); the ones after it pass."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE test_batch_fails_once")
        cursor.execute(
            "CREATE FUNCTION test_batch_fails_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF nextval('test_batch_fails_once') = 1 THEN RAISE EXCEPTION 'the batch fails'; END IF; "
            "RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_batch_fails_once AFTER INSERT ON runs_nodeexecution "
            "FOR EACH STATEMENT EXECUTE FUNCTION test_batch_fails_once()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_batch_fails_once ON runs_nodeexecution")
        cursor.execute("DROP FUNCTION IF EXISTS test_batch_fails_once()")
        cursor.execute("DROP SEQUENCE IF EXISTS test_batch_fails_once")


def test_when_that_batch_fails_the_run_is_stored_anyway_and_a_worker_finishes_it(
    api, client, inline_queue, first_node_batch_fails
):
    wid, path = hook_workflow(api)
    res = client.post(path, b'{"n": 20}', content_type="application/json")
    assert res.status_code == 200 and res.json() == {"a": 21, "b": 42}
    run = WorkflowRun.objects.get(workflow_id=wid)
    assert run.status == "completed" and (run.successful_nodes, run.failed_nodes) == (3, 0)
    assert NodeExecution.objects.filter(run=run, status="succeeded").count() == 3
    events = event_types(run.pk)
    assert events[-1] == ("run.status", None, "completed")
    stats = {s.node_id: s.runs for s in NodeDayStat.objects.filter(workflow_id=wid)}
    assert stats == {"hook": 1, "a": 1, "b": 1}
