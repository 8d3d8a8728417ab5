"""A worker that dies after a provider node's remote call and before the node parks: the
attempt re-run by the next worker finds the call recorded and does not start the remote
workflow again. The fault is direct: the write that parks the node fails as it would if
the worker's process or database connection went away at that point."""

import pytest
from django.db import DatabaseError

from providers.models import ProviderExecution
from runs import tasks
from runs.engine_host import scheduler
from runs.models import CallbackReceipt, WorkflowRun
from runs.services import start_run
from workflows.models import Workflow

from .test_provider_nodes import chain, make_node, node, wait_for_run


@pytest.fixture
def dies_before_parking(monkeypatch):
    """The first time a node is written `waiting` (parked), the write fails."""
    store = scheduler().store
    original = store.save_nodes
    fired = []

    def save_nodes(run_id, states):
        if not fired and any(s.status == "waiting" for s in states):
            fired.append([s.node_id for s in states if s.status == "waiting"])
            raise DatabaseError("the worker died before the node parked")
        return original(run_id, states)

    monkeypatch.setattr(store, "save_nodes", save_nodes)
    return fired


def _run(api, wid, data):
    run = start_run(workflow=Workflow.objects.get(pk=wid), input=data, enqueue=False)
    with pytest.raises(DatabaseError):
        tasks.execute_run(str(run.pk))  # the first worker: calls Make, dies before parking
    return run


@pytest.mark.usefixtures("inline_queue")
def test_poll_node_rerun_after_a_dead_worker_polls_the_execution_it_started(
    api, settings, fake_make, make_connection, dies_before_parking
):
    settings.WAIT_INLINE_MAX_S = 5
    wid = chain(api, make_node(wait="poll", poll={"interval_s": 0.05, "max_attempts": 10}))
    run = _run(api, wid, {"order": "K-1"})
    assert dies_before_parking == [["make"]]
    assert len([r for r in fake_make.requests if r["path"].endswith("/run")]) == 1
    assert WorkflowRun.objects.get(pk=run.pk).status == "running"

    tasks.execute_run(str(run.pk))  # the next worker (the timekeeper hands the run back)
    done = wait_for_run(api, run.pk)
    assert done["status"] == "completed", [n["error"] for n in done["nodes"]]
    out = node(done, "make")["output"]
    assert out["status"] == "succeeded" and out["data"]["echo"] == {"order": "K-1"}
    runs_started = [r for r in fake_make.requests if r["path"].endswith("/run")]
    assert len(runs_started) == 1  # not fired twice
    assert runs_started[0]["headers"]["X-Switchyard-Ref"]  # our reference travels with the call
    logs = api.get(f"/api/v1/runs/{run.pk}/logs", {"node": "make"}).json()
    assert any("not sent again" in e["message"] for e in logs)


def test_callback_node_rerun_after_a_dead_worker_waits_on_the_token_it_sent(
    api, fake_make, make_connection, callbacks_live, dies_before_parking
):
    fake_make.callback_delay_s = 1.0
    wid = chain(api, make_node(wait="callback"))
    run = _run(api, wid, {"order": "K-2"})
    tasks.execute_run(str(run.pk))
    done = wait_for_run(api, run.pk)
    assert done["status"] == "completed", [n["error"] for n in done["nodes"]]
    assert node(done, "make")["output"]["data"]["outputs"]["echo"] == {"order": "K-2"}
    assert len([r for r in fake_make.requests if r["path"].endswith("/run")]) == 1
    [receipt] = CallbackReceipt.objects.filter(run_id=run.pk)
    assert receipt.outcome in ("accepted", "early")


@pytest.mark.usefixtures("inline_queue")
def test_a_retry_after_a_failed_call_starts_the_remote_again(api, fake_make, make_connection):
    """Only a call not seen to fail is reused: the retry policy still retries failures."""
    fake_make.scenarios["101"]["isActive"] = False
    wid = chain(api, make_node(wait="none"))
    run = start_run(workflow=Workflow.objects.get(pk=wid), input={}, enqueue=False)
    tasks.execute_run(str(run.pk))
    assert WorkflowRun.objects.get(pk=run.pk).status == "failed"
    fake_make.scenarios["101"]["isActive"] = True
    again = api.post(f"/api/v1/runs/{run.pk}/retry", {"from": "failed"}, format="json")
    assert again.status_code in (200, 201, 202), again.content
    retried = wait_for_run(api, again.json().get("id") or again.json()["run_id"])
    assert retried["status"] == "completed"
    assert node(retried, "make")["output"]["status"] == "accepted"


@pytest.mark.usefixtures("inline_queue")
def test_each_instance_of_a_provider_node_in_a_nested_loop_makes_its_own_call(
    api, fake_make, make_connection
):
    """Two instances with the same inner index ((0, 0) and (1, 0)) are different calls: the
    second is not taken for a re-run of the first."""
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "nested provider",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "outer", "type": "logic.loop", "config": {"items": "{{ input.rows }}"}},
            {"id": "inner", "type": "logic.loop", "config": {"items": "{{ item }}"}},
            make_node(wait="none", data={"order": "{{ item }}"}),
        ],
        "edges": [
            {"source": "start", "target": "outer"},
            {"source": "outer", "source_handle": "each", "target": "inner"},
            {"source": "inner", "source_handle": "each", "target": "make"},
        ],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    run = api.post(
        f"/api/v1/workflows/{res.json()['id']}/execute",
        {"input": {"rows": [["A"], ["B"]]}, "mode": "test", "wait": True},
        format="json",
    ).json()
    assert run["status"] == "completed", run
    sent = [r["body"]["data"]["order"] for r in fake_make.requests if r["path"].endswith("/run")]
    assert sorted(sent) == ["A", "B"]
    records = ProviderExecution.objects.filter(run_id=run["id"], node_id="make")
    assert sorted(r.iteration_path for r in records) == [[0, 0], [1, 0]]
    made = [n for n in run["nodes"] if n["node_id"] == "make"]
    assert sorted(n["iteration_path"] for n in made) == [[0, 0], [1, 0]]
    assert not any("not sent again" in str(n.get("warnings")) for n in made)
