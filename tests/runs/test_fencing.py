"""Lease fencing: every store write of a run carries the holder's lease epoch, checked in
the same transaction; once another worker has taken the run over, the old holder writes
nothing, starts no further node and stops."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from runs import leases, services, timekeeping
from runs.models import NodeExecution, RunEvent, WorkflowRun
from runs.runner import LEASE_LOST
from runs.store import OrmStore
from runs.tasks import execute_run
from tests.connectors.api_server import ApiServer
from workflows.engine.store import LeaseLost, NodeState
from workflows.models import Workflow

from .test_run_api import START, workflow

pytestmark = pytest.mark.usefixtures("inline_queue")


def take_over(run_id, owner="another-worker") -> int:
    """What a worker does once the holder's lease has expired."""
    WorkflowRun.objects.filter(pk=run_id).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    epoch = leases.acquire(run_id, owner)
    assert epoch
    return epoch


def new_run(api, nodes, edges):
    wid = workflow(api, nodes, edges)
    return services.start_run(workflow=Workflow.objects.get(pk=wid), input={}, enqueue=False)


def held_run(api):
    """A new run whose lease "holder" holds, and the store fenced by that lease."""
    run_id = str(new_run(api, [START], []).pk)
    store = OrmStore()
    store.load_run(run_id)
    store.hold(run_id, "holder", leases.acquire(run_id, "holder"))
    return run_id, store


def callback_run(api, server) -> str:
    """A new run of start -> wait (flow.callback) -> after (POST `server`/after)."""
    server.route("POST", "/after", (200, {"ok": True}))
    run = new_run(
        api,
        [
            START,
            {"id": "wait", "type": "flow.callback", "config": {"expires_in_s": 600}},
            {
                "id": "after",
                "type": "http.request",
                "config": {"method": "POST", "url": server.url("/after")},
            },
        ],
        [{"source": "start", "target": "wait"}, {"source": "wait", "target": "after"}],
    )
    return str(run.pk)


def snapshot(run_id):
    return (
        sorted(NodeExecution.objects.filter(run_id=run_id).values_list("node_id", "status", "attempts")),
        WorkflowRun.objects.filter(pk=run_id).values_list("status", "lease_owner").get(),
        RunEvent.objects.filter(run_id=run_id).count(),
    )


def test_every_acquisition_increments_the_epoch(api):
    run = new_run(api, [START], [])
    first = leases.acquire(run.pk, "one")
    assert first == 1 and leases.acquire(run.pk, "two") == 0  # held: nobody else
    assert take_over(run.pk) == 2 and leases.epoch_of(run.pk, "another-worker") == 2
    assert leases.epoch_of(run.pk, "one") == 0


def test_a_write_after_a_takeover_stores_nothing_and_raises(api):
    run_id, store = held_run(api)
    with store.batch(run_id):
        store.save_nodes(run_id, [NodeState(node_id="start", status="running", attempts=1)])
    take_over(run_id)
    before = snapshot(run_id)
    with pytest.raises(LeaseLost):
        with store.batch(run_id):
            store.save_nodes(run_id, [NodeState(node_id="start", status="succeeded", attempts=1)])
            store.save_run(run_id, status="completed", output={"x": 1})
    assert snapshot(run_id) == before
    assert WorkflowRun.objects.get(pk=run_id).status != "completed"


def test_the_fence_renews_the_lease_of_the_holder(api):
    run = new_run(api, [START], [])
    run_id = str(run.pk)
    epoch = leases.acquire(run_id, "holder")
    WorkflowRun.objects.filter(pk=run_id).update(lease_expires_at=timezone.now() + dt.timedelta(seconds=1))
    store = OrmStore()
    store.load_run(run_id)
    store.hold(run_id, "holder", epoch)
    with store.batch(run_id):
        store.save_nodes(run_id, [NodeState(node_id="start", status="running", attempts=1)])
    expires = WorkflowRun.objects.get(pk=run_id).lease_expires_at
    assert expires > timezone.now() + dt.timedelta(seconds=5)


def test_a_holder_that_lost_the_run_mid_node_neither_stores_it_nor_calls_the_next_node(api):
    """While node `a` waits for its answer, another worker takes the run over (as after a
    stall longer than the lease). The old holder gets the answer but stores nothing and
    never calls `b`; the new holder re-runs the interrupted `a` and then `b`, once."""
    server = ApiServer()
    try:
        run = new_run(
            api,
            [
                START,
                {"id": "a", "type": "http.request", "config": {"url": server.url("/a")}},
                {"id": "b", "type": "http.request", "config": {"method": "POST", "url": server.url("/b")}},
            ],
            [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}],
        )
        hits = []

        def first_a(seen):
            hits.append("a")
            if hits.count("a") == 1:
                take_over(run.pk)
                connection.close()  # this server thread's own connection
            return 200, {"ok": True}

        server.route("GET", "/a", first_a)
        server.route("POST", "/b", lambda seen: (hits.append("b") or 200, {"ok": True}))
        assert execute_run(str(run.pk)) == LEASE_LOST
        assert hits == ["a"]  # b was never called
        nodes = dict(NodeExecution.objects.filter(run_id=run.pk).values_list("node_id", "status"))
        assert nodes["a"] == "running" and "b" not in nodes  # a's answer was not stored
        assert WorkflowRun.objects.get(pk=run.pk).lease_owner == "another-worker"

        leases.release(run.pk, "another-worker")  # the new holder: here, the queue's next try
        assert execute_run(str(run.pk)) == "completed"
        assert hits == ["a", "a", "b"]
        nodes = {n.node_id: n for n in NodeExecution.objects.filter(run_id=run.pk)}
        assert nodes["a"].attempts == 2 and nodes["b"].attempts == 1
    finally:
        server.close()


def test_a_connector_call_that_finishes_after_a_takeover_records_nothing(api, alice):
    """`connector.run`: the connector's API answers after another worker took the run over.
    The old holder neither completes the execution record nor counts it in the connector's
    statistics; the new holder re-runs the node and records its own execution."""
    from connectors.models import Connector, ConnectorExecution
    from tests.connectors.factories import make_connector, workspace_of

    server = ApiServer()
    try:
        calls = []
        run = None

        def answer(seen):
            calls.append(seen.path)
            if len(calls) == 1:
                take_over(run.pk)
                connection.close()
            return 200, {"ok": True}

        server.route("POST", "/c", answer)
        connector = make_connector(workspace_of(alice), {"method": "POST", "url": server.url("/c")}, name="c")
        run = new_run(
            api,
            [START, {"id": "call", "type": "connector.run", "config": {"connector": "c"}}],
            [{"source": "start", "target": "call"}],
        )
        assert execute_run(str(run.pk)) == LEASE_LOST
        stale = ConnectorExecution.objects.get(run=run)
        assert stale.status == "executing" and stale.output is None and stale.completed_at is None
        assert Connector.objects.get(pk=connector.pk).total_executions == 0

        leases.release(run.pk, "another-worker")
        assert execute_run(str(run.pk)) == "completed"
        done = ConnectorExecution.objects.filter(run=run).exclude(pk=stale.pk).get()
        assert done.status == "completed" and done.output["ok"] is True
        assert ConnectorExecution.objects.get(pk=stale.pk).status == "executing"
        assert Connector.objects.get(pk=connector.pk).total_executions == 1
        assert len(calls) == 2
        # The run is finished: the timekeeper closes the call its old holder never recorded.
        assert timekeeping.close_abandoned_executions() == 1
        stale.refresh_from_db()
        assert stale.status == "failed" and stale.completed_at is not None
        assert stale.error["message"].startswith("abandoned") and stale.error_category == "INTEGRATION_ERROR"
        assert ConnectorExecution.objects.get(pk=done.pk).status == "completed"
        assert timekeeping.close_abandoned_executions() == 0
    finally:
        server.close()


def test_every_write_made_for_a_run_outside_its_store_is_fenced(api, alice):
    """Callback tokens, child runs, provider execution records and integration operation
    records: written by a holder whose lease was taken over, none is stored."""
    from connectors.adapters.host import record_operation
    from connectors.adapters.lifecycle import OperationRecord
    from connectors.models import IntegrationOperation
    from runs.callbacks import create_callback
    from runs.engine_host import DjangoServices
    from runs.models import CorrelationToken
    from runs.store import lease_fence
    from workflows import fencing

    run = new_run(api, [START], [])
    run_id = str(run.pk)
    child = workflow(api, [START], [], name="child")
    epoch = leases.acquire(run_id, "holder")
    take_over(run_id)
    operation = OperationRecord(
        adapter="db",
        operation="query",
        credential_id=None,
        credential_name="x",
        endpoint="e",
        succeeded=True,
        duration_ms=1.0,
    )
    with fencing.holding(lease_fence(run_id, "holder", epoch)):
        with pytest.raises(LeaseLost):
            create_callback(run_id=run_id, node_id="wait", iteration=None, expires_in_s=None)
        with pytest.raises(LeaseLost):
            DjangoServices().start_child_run(
                parent_run_id=run_id, parent_node_id="sub", workflow_id=child, input={}, wait=True
            )
        record_operation(record=operation, workspace_id=run.workspace_id, run_id=run_id, node_id="db")
    assert not CorrelationToken.objects.filter(run_id=run_id).exists()
    assert not WorkflowRun.objects.filter(workflow_id=child).exists()
    assert not IntegrationOperation.objects.filter(run_id=run_id).exists()

    # the holder that has the lease writes them
    epoch = leases.epoch_of(run_id, "another-worker")
    with fencing.holding(lease_fence(run_id, "another-worker", epoch)):
        create_callback(run_id=run_id, node_id="wait", iteration=None, expires_in_s=None)
        record_operation(record=operation, workspace_id=run.workspace_id, run_id=run_id, node_id="db")
    assert CorrelationToken.objects.filter(run_id=run_id).count() == 1
    assert IntegrationOperation.objects.filter(run_id=run_id).count() == 1


def test_a_holder_that_lost_the_lease_logs_nothing_it_did_not_store(api, caplog):
    """The run's log lines also go to the process log (LOG_FORMAT=json): only once stored
    (on PostgreSQL a batch's statements are collected first and the lease check runs when
    they are sent, after the lines were handed over)."""
    import logging

    from workflows.engine.store import LogEntry

    caplog.set_level(logging.DEBUG, logger="switchyard.run")
    run_id, store = held_run(api)
    with store.batch(run_id):
        store.append_logs(run_id, [LogEntry(level="info", message="stored line", node_id="start")])
    take_over(run_id)
    with pytest.raises(LeaseLost):
        with store.batch(run_id):
            store.save_nodes(run_id, [NodeState(node_id="start", status="succeeded", attempts=1)])
            store.append_logs(run_id, [LogEntry(level="info", message="stale line", node_id="start")])
    lines = [r.getMessage() for r in caplog.records if r.name == "switchyard.run"]
    assert lines == ["stored line"]


def test_a_callback_that_came_before_the_holder_lost_the_run_resumes_the_new_holder_once(api):
    """`http.request` with `wait_for_callback`: the remote calls the callback URL back
    before it answers, and by the time it answers another worker has taken the run over.
    The new holder is resumed by that callback: it does not send the request again, and the
    node resumes (and the next node runs) exactly once."""
    from runs.models import CallbackReceipt, CorrelationToken

    server = ApiServer()
    try:
        run = new_run(
            api,
            [
                START,
                {
                    "id": "call",
                    "type": "http.request",
                    "config": {
                        "method": "POST",
                        "url": server.url("/job"),
                        "body": {"reply_to": "{{ callback.token }}"},
                        "wait_for_callback": True,
                    },
                },
                {
                    "id": "after",
                    "type": "http.request",
                    "config": {"method": "POST", "url": server.url("/after")},
                },
            ],
            [{"source": "start", "target": "call"}, {"source": "call", "target": "after"}],
        )

        def job(seen):
            if len(server.requests_to("/job")) > 1:
                return 200, {"accepted": "again"}
            answer = api.post(f"/api/v1/callbacks/{seen.json()['reply_to']}", {"done": 1}, format="json")
            assert answer.status_code == 202
            take_over(run.pk)
            connection.close()
            return 200, {"accepted": True}

        server.route("POST", "/job", job)
        server.route("POST", "/after", (200, {"ok": True}))
        assert execute_run(str(run.pk)) == LEASE_LOST
        assert NodeExecution.objects.get(run=run, node_id="call").status == "running"  # not parked

        leases.release(run.pk, "another-worker")
        assert execute_run(str(run.pk)) == "completed"
        nodes = {n.node_id: n for n in NodeExecution.objects.filter(run_id=run.pk)}
        assert nodes["call"].status == "succeeded" and nodes["call"].output["callback"] == {"done": 1}
        assert nodes["after"].attempts == 1
        assert len(server.requests_to("/job")) == 1 and len(server.requests_to("/after")) == 1
        assert list(CallbackReceipt.objects.filter(run=run).values_list("outcome", flat=True)) == ["early"]
        token = CorrelationToken.objects.get(run=run)
        assert token.used_at is not None and token.consumed_at is not None
        assert execute_run(str(run.pk)).startswith("skipped")  # finished: nothing resumes again
    finally:
        server.close()


def test_a_waiting_callback_node_taken_over_after_its_callback_came_resumes_once(api):
    """`flow.callback`: the holder created the node's token (the node `running`, its wait
    not yet stored) when the callback came, and then lost the run. The worker that takes
    it over resumes the node with that payload, once, and runs the next node once."""
    from runs.callbacks import create_callback, receive_callback
    from runs.models import CorrelationToken
    from runs.store import lease_fence
    from workflows import fencing

    server = ApiServer()
    try:
        run_id = callback_run(api, server)
        store = OrmStore()
        store.load_run(run_id)
        epoch = leases.acquire(run_id, "holder")
        store.hold(run_id, "holder", epoch)
        with store.batch(run_id):  # what the holder stored before its node thread registered the token
            store.save_nodes(
                run_id,
                [
                    NodeState(node_id="start", status="succeeded", attempts=1, output={}),
                    NodeState(node_id="wait", status="running", attempts=1, input={}),
                ],
            )
        with fencing.holding(lease_fence(run_id, "holder", epoch)):
            token = create_callback(run_id=run_id, node_id="wait", iteration=None, expires_in_s=600)["token"]
        assert receive_callback(token=token, payload={"early": True}).outcome == "early"
        take_over(run_id)
        leases.release(run_id, "another-worker")

        assert execute_run(run_id) == "completed"
        nodes = {n.node_id: n for n in NodeExecution.objects.filter(run_id=run_id)}
        assert nodes["wait"].output == {"early": True} and nodes["after"].attempts == 1
        assert len(server.requests_to("/after")) == 1
        assert CorrelationToken.objects.filter(run_id=run_id).count() == 1  # no second token to wait on
        assert CorrelationToken.objects.get(run_id=run_id).consumed_at is not None
    finally:
        server.close()


def test_a_child_that_failed_before_the_holder_lost_the_run_is_not_started_again(api):
    """`flow.subworkflow`: the child run fails before its parent node parked, and by then
    another worker has taken the parent over. The new holder re-runs the node: it gets that
    child's failure (the node fails with it), and does not start the child a second time."""
    server = ApiServer()
    try:
        parent = None

        def fail(seen):
            if len(server.requests_to("/fail")) == 1:
                take_over(parent.pk)
                connection.close()
            return 500, {"error": "down"}

        server.route("POST", "/fail", fail)
        server.route("POST", "/after", (200, {"ok": True}))
        child = workflow(
            api,
            [
                START,
                {
                    "id": "work",
                    "type": "http.request",
                    "config": {"method": "POST", "url": server.url("/fail")},
                },
            ],
            [{"source": "start", "target": "work"}],
            name="child",
        )
        parent = new_run(
            api,
            [
                START,
                {"id": "sub", "type": "flow.subworkflow", "config": {"workflow": child}},
                {
                    "id": "after",
                    "type": "http.request",
                    "config": {"method": "POST", "url": server.url("/after")},
                },
            ],
            [{"source": "start", "target": "sub"}, {"source": "sub", "target": "after"}],
        )
        assert execute_run(str(parent.pk)) == LEASE_LOST
        assert list(WorkflowRun.objects.filter(workflow_id=child).values_list("status", flat=True)) == [
            "failed"
        ]

        leases.release(parent.pk, "another-worker")
        assert execute_run(str(parent.pk)) == "failed"
        assert WorkflowRun.objects.filter(workflow_id=child).count() == 1  # not started again
        assert len(server.requests_to("/fail")) == 1 and not server.requests_to("/after")
        sub = NodeExecution.objects.get(run=parent, node_id="sub")
        assert sub.status == "failed" and sub.error["details"]["child_run_id"] == str(
            WorkflowRun.objects.get(workflow_id=child).pk
        )
    finally:
        server.close()


def test_a_holder_that_lost_the_run_while_resuming_a_callback_node_consumes_nothing(api):
    """The callback came while the node waited; the worker that took the run to resume it
    lost the lease before storing the resume. Its batch stores nothing, the payload stays
    unconsumed, and the next holder resumes the node with it, once."""
    from runs.callbacks import receive_callback
    from runs.models import CorrelationToken

    server = ApiServer()
    try:
        run_id = callback_run(api, server)
        assert execute_run(run_id) == "waiting"
        token = CorrelationToken.objects.get(run_id=run_id).token
        epoch = leases.acquire(run_id, "holder")  # the worker woken by the callback
        assert receive_callback(token=token, payload={"n": 1}).outcome == "accepted"
        store = OrmStore()
        snap = store.load_run(run_id)
        waiting = snap.nodes[("wait", None)]
        assert waiting.wait["resume"] == {"n": 1}
        store.hold(run_id, "holder", epoch)
        take_over(run_id)
        with pytest.raises(LeaseLost):
            with store.batch(run_id):
                store.save_nodes(run_id, [dataclasses.replace(waiting, status="running")])
        assert CorrelationToken.objects.get(run_id=run_id).consumed_at is None
        assert NodeExecution.objects.get(run_id=run_id, node_id="wait").status == "waiting"

        leases.release(run_id, "another-worker")
        assert execute_run(run_id) == "completed"
        nodes = {n.node_id: n for n in NodeExecution.objects.filter(run_id=run_id)}
        assert nodes["wait"].output == {"n": 1} and nodes["after"].attempts == 1
        assert len(server.requests_to("/after")) == 1
        assert CorrelationToken.objects.get(run_id=run_id).consumed_at is not None
    finally:
        server.close()
