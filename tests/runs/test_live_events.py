"""Websocket streams (SPEC §7): auth, snapshot on connect, then ordered events, none lost."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application
from runs.models import CorrelationToken, RunEvent

pytestmark = pytest.mark.usefixtures("inline_queue")


def connect(path):
    return WebsocketCommunicator(
        application, path, headers=[(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
    )


def create(api, nodes, edges):
    res = api.post(
        "/api/v1/workflows/",
        {"schema": "switchyard.workflow/1", "nodes": nodes, "edges": edges},
        format="json",
    )
    assert res.status_code == 201, res.content
    return res.json()["id"]


CALLBACK_FLOW = (
    [
        {"id": "start", "type": "trigger.manual"},
        {"id": "hold", "type": "flow.callback", "config": {"expires_in_s": 600}},
        {"id": "after", "type": "data.transform", "config": {"set": {"got": "{{ input.answer }}"}}},
    ],
    [{"source": "start", "target": "hold"}, {"source": "hold", "target": "after"}],
)


async def receive_until(comm, predicate, limit=50):
    seen = []
    for _ in range(limit):
        message = await comm.receive_json_from(timeout=5)
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"never saw the expected event in {seen}")


def test_run_stream_sends_snapshot_then_ordered_events_until_done(api, alice, client):
    wid = create(api, *CALLBACK_FLOW)
    run_id = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}}, format="json").json()["run_id"]
    assert api.get(f"/api/v1/runs/{run_id}").json()["status"] == "waiting"
    token = Token.objects.get(user=alice).key

    async def scenario():
        comm = connect(f"/ws/runs/{run_id}/?token={token}")
        connected, _ = await comm.connect()
        assert connected
        snapshot = await comm.receive_json_from(timeout=5)
        assert snapshot["type"] == "snapshot" and snapshot["run"]["status"] == "waiting"
        hold = next(n for n in snapshot["run"]["nodes"] if n["node_id"] == "hold")
        assert hold["status"] == "waiting" and hold["callback_url"]
        corr = await _callback_token(run_id)
        await _post_callback(client, corr, {"answer": 42})
        events = await receive_until(
            comm, lambda m: m.get("type") == "run.status" and m["status"] == "completed"
        )
        await comm.disconnect()
        return events

    events = async_to_sync(scenario)()
    nodes = [(e["node_id"], e["status"]) for e in events if e["type"] == "node.status"]
    assert (
        nodes.index(("hold", "succeeded"))
        < nodes.index(("after", "running"))
        < nodes.index(("after", "succeeded"))
    )
    assert all(
        {"run_id", "node_id", "status", "attempt", "duration_ms", "error"} <= set(e)
        for e in events
        if e["type"] == "node.status"
    )
    # state + events == a fresh fetch
    fresh = api.get(f"/api/v1/runs/{run_id}").json()
    final = {}
    for e in events:
        if e["type"] == "node.status":
            final[e["node_id"]] = e["status"]
    assert all(n["status"] == final.get(n["node_id"], n["status"]) for n in fresh["nodes"])
    assert fresh["status"] == "completed" and fresh["output"]["got"] == 42


def test_workflow_stream_sees_events_of_new_runs(api, alice):
    wid = create(api, [{"id": "start", "type": "trigger.manual"}], [])
    token = Token.objects.get(user=alice).key

    async def scenario():
        comm = connect(f"/ws/workflows/{wid}/?token={token}")
        assert (await comm.connect())[0]
        assert (await comm.receive_json_from(timeout=5))["type"] == "snapshot"
        await _execute(api, wid)
        events = await receive_until(
            comm, lambda m: m.get("type") == "run.status" and m["status"] == "completed"
        )
        await comm.disconnect()
        return events

    assert any(e["type"] == "node.status" and e["node_id"] == "start" for e in async_to_sync(scenario)())


@pytest.mark.parametrize("suffix", ["", "?token=not-a-token"])
def test_stream_refuses_anonymous_and_bad_tokens(api, suffix):
    wid = create(api, [{"id": "start", "type": "trigger.manual"}], [])

    async def scenario():
        comm = connect(f"/ws/workflows/{wid}/{suffix}")
        connected, code = await comm.connect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected and code == 4401


def test_stream_hides_other_workspaces(api, bob, bob_api):
    wid = create(api, [{"id": "start", "type": "trigger.manual"}], [])
    bob_api.get("/api/v1/workspaces/")
    token = Token.objects.get(user=bob).key

    async def scenario():
        comm = connect(f"/ws/workflows/{wid}/?token={token}")
        return await comm.connect()

    connected, code = async_to_sync(scenario)()
    assert not connected and code == 4404


# -- helpers that touch the database from async code ------------------------------------
from channels.db import database_sync_to_async  # noqa: E402


@database_sync_to_async
def _callback_token(run_id):
    return CorrelationToken.objects.get(run_id=run_id).token


@database_sync_to_async
def _post_callback(client, token, payload):
    res = client.post(f"/api/v1/callbacks/{token}", json.dumps(payload), content_type="application/json")
    assert res.status_code == 202, res.content


@database_sync_to_async
def _execute(api, wid):
    res = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}}, format="json")
    assert res.status_code == 202


def test_many_watchers_of_one_workflow_each_get_every_event_once_in_order(api, alice):
    wid = create(api, *CALLBACK_FLOW)
    token = Token.objects.get(user=alice).key

    async def scenario():
        comms = [connect(f"/ws/workflows/{wid}/?token={token}") for _ in range(5)]
        for comm in comms:
            assert (await comm.connect())[0]
            assert (await comm.receive_json_from(timeout=5))["type"] == "snapshot"
        await _execute(api, wid)
        seen = []
        for comm in comms:
            seen.append(
                await receive_until(
                    comm, lambda m: m.get("type") == "run.status" and m["status"] == "waiting"
                )
            )
            await comm.disconnect()
        return seen

    streams = async_to_sync(scenario)()
    seqs = [[e["seq"] for e in events] for events in streams]
    assert all(s == sorted(set(s)) for s in seqs)  # ordered, no repeats
    assert all(s == seqs[0] for s in seqs)  # everyone saw the same stream
    hold = [e["status"] for e in streams[0] if e.get("node_id") == "hold"]
    assert hold[0] == "running" and hold[-1] == "waiting"


def test_a_reconnecting_watcher_resumes_from_a_fresh_snapshot(api, alice, client):
    wid = create(api, *CALLBACK_FLOW)
    run_id = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}}, format="json").json()["run_id"]
    token = Token.objects.get(user=alice).key

    async def scenario():
        first = connect(f"/ws/workflows/{wid}/?token={token}")
        assert (await first.connect())[0]
        before = await first.receive_json_from(timeout=5)
        await first.disconnect()  # the page goes away while the run moves on
        await _post_callback(client, await _callback_token(run_id), {"answer": 7})
        await _wait_finished(run_id)
        again = connect(f"/ws/workflows/{wid}/?token={token}")
        assert (await again.connect())[0]
        after = await again.receive_json_from(timeout=5)
        await again.disconnect()
        return before, after

    before, after = async_to_sync(scenario)()
    states = lambda snap: {n["node_id"]: n["status"] for n in snap["latest_run"]["nodes"]}  # noqa: E731
    assert before["latest_run"]["id"] == run_id and states(before)["hold"] == "waiting"
    assert after["latest_run"]["status"] == "completed" and states(after) == {
        "start": "succeeded",
        "hold": "succeeded",
        "after": "succeeded",
    }
    assert after["seq"] > before["seq"]


@database_sync_to_async
def _wait_finished(run_id):
    from runs.runner import wait_for_run

    assert wait_for_run(run_id, 10) is not None


@database_sync_to_async
def _store_event(event_id, run_id, workflow_id, node_id):
    """An event stored with a chosen id: what a transaction that took its id early and
    committed late (after higher ids of other runs) leaves behind on PostgreSQL."""
    from runs.models import RunEvent

    payload = {"type": "node.status", "run_id": run_id, "node_id": node_id, "status": "succeeded"}
    RunEvent.objects.create(id=event_id, run_id=run_id, workflow_id=workflow_id, payload=payload)


@database_sync_to_async
def _newest_event_id():
    from runs.models import RunEvent

    return RunEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_an_event_committed_after_higher_ids_reaches_every_watcher_once(api, alice):
    wid = create(api, *CALLBACK_FLOW)
    run_id = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}}, format="json").json()["run_id"]
    token = Token.objects.get(user=alice).key

    async def next_probe(comm):
        while True:
            message = await comm.receive_json_from(timeout=5)
            if message.get("node_id", "").startswith("probe"):
                return message

    async def scenario():
        early = connect(f"/ws/workflows/{wid}/?token={token}")
        assert (await early.connect())[0]
        assert (await early.receive_json_from(timeout=5))["type"] == "snapshot"
        base = await _newest_event_id()
        # 1,500 ids were handed out meanwhile; the one after `base` commits last.
        await _store_event(base + 1500, run_id, wid, "probe-first")
        first = await next_probe(early)
        late = connect(f"/ws/workflows/{wid}/?token={token}")  # a page opened in between
        assert (await late.connect())[0]
        snapshot = await late.receive_json_from(timeout=5)
        await _store_event(base + 1, run_id, wid, "probe-late")
        got = [first, await next_probe(early), await next_probe(late)]
        await early.disconnect()
        await late.disconnect()
        return snapshot, got

    snapshot, (first, early_late, late_late) = async_to_sync(scenario)()
    assert snapshot["type"] == "snapshot"
    assert first["node_id"] == "probe-first"
    # the early page gets the late event after the first; the page opened in between has the
    # first in its snapshot's time and gets the late one, not the first again
    assert early_late["node_id"] == "probe-late" and late_late["node_id"] == "probe-late"


def test_two_hundred_watchers_each_get_every_event_of_several_runs_in_order(api, alice):
    wid = create(
        api,
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "a", "type": "data.transform", "config": {"set": {"a": 1}}},
            {"id": "b", "type": "data.transform", "config": {"set": {"b": 2}}},
        ],
        [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}],
    )
    token = Token.objects.get(user=alice).key
    runs = 3

    async def scenario():
        comms = [connect(f"/ws/workflows/{wid}/?token={token}") for _ in range(200)]
        for comm in comms:
            assert (await comm.connect(timeout=30))[0]  # a loaded machine answers slowly
            assert (await comm.receive_json_from(timeout=10))["type"] == "snapshot"
        for _ in range(runs):
            await _execute(api, wid)
        streams = []
        for comm in comms:
            events = []
            while sum(e.get("type") == "run.status" and e["status"] == "completed" for e in events) < runs:
                events.append(await comm.receive_json_from(timeout=10))
            streams.append(events)
            await comm.disconnect()
        return streams

    streams = async_to_sync(scenario)()
    stored = list(RunEvent.objects.filter(workflow_id=wid).order_by("id").values_list("id", flat=True))
    assert len(stored) == runs * 8  # per run: 3 nodes running and succeeded, the run running and done
    for events in streams:
        assert [e["seq"] for e in events] == stored  # every event, once, in order
    per_run = {}
    for e in streams[0]:
        if e["type"] == "node.status":
            per_run.setdefault(e["run_id"], []).append((e["node_id"], e["status"]))
    assert len(per_run) == runs
    assert all(
        [s for s in seq if s[1] == "succeeded"]
        == [("start", "succeeded"), ("a", "succeeded"), ("b", "succeeded")]
        for seq in per_run.values()
    )
