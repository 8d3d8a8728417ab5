"""A web process stalled (SIGSTOP) mid-run for longer than its lease: a worker takes the
run over and finishes it; when the stalled process resumes (SIGCONT) it gets its late
answer but stores nothing and calls no further node (an HTTP request, a connector). A
callback that came before the stalled process parked its node resumes the worker."""

import os
import signal
import threading
import time
import urllib.request

import pytest

from .server import drop_server, make_server
from .target import Target

pytestmark = pytest.mark.slow


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


@pytest.fixture
def fast_lease_server(tmp_path):
    srv = make_server(tmp_path, RUN_LEASE_SECONDS=2, WAIT_INLINE_MAX_S=0.5)
    srv.start()
    yield srv
    drop_server(srv)


def _run_id(srv, raw):
    if srv.pg_db:
        return str(raw)
    return "-".join((raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:]))


def _hook_and_stop_holder(srv, wid, body, started):
    """Fire the on_completion webhook (the web process runs the run inline, leased to it),
    wait for `started()`, then SIGSTOP the lease holder. Returns (raw run id, run id, pid)."""

    def send():
        req = urllib.request.Request(
            body["triggers"][0]["url"],
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(req, timeout=60).read()
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    srv.wait_for(started)
    raw_id, owner = srv.wait_for(
        lambda: srv.sql(
            "SELECT id, lease_owner FROM runs_workflowrun WHERE workflow_id = ?",
            (wid if srv.pg_db else wid.replace("-", ""),),
        )
    )[0]
    web_pid = int(owner.split(":")[1])
    assert b"config.asgi:application" in open(f"/proc/{web_pid}/cmdline", "rb").read()  # the web process
    os.kill(web_pid, signal.SIGSTOP)
    return raw_id, _run_id(srv, raw_id), web_pid


def _stalled_workflow(srv, target, last):
    """hook (on_completion) -> first -> slow (its first call answers after 5 s) -> `last`,
    activated; returns (workflow id, activation answer)."""
    target.slow_first["/slow"] = 5
    wid = srv.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": "on_completion"}},
            {
                "id": "first",
                "type": "http.request",
                "config": {"method": "POST", "url": f"{target.url}/first"},
            },
            {
                "id": "slow",
                "type": "http.request",
                "config": {"method": "POST", "url": f"{target.url}/slow", "timeout_ms": 20000},
            },
            last,
        ],
        [
            {"source": "hook", "target": "first"},
            {"source": "first", "target": "slow"},
            {"source": "slow", "target": last["id"]},
        ],
    )
    code, body = srv.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    return wid, body


def _taken_over_then_resumed(srv, raw_id, run_id, web_pid) -> dict:
    """Wait until a worker has finished the run the stopped process held, resume that process
    (SIGCONT), give it time to get its late answer, and check it changed nothing: no node
    state, no event. Returns the run as the worker finished it."""
    try:
        # The lease runs out and the timekeeper hands the run to a worker, which finishes it.
        run = srv.wait_for(
            lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, timeout_s=60
        )
    finally:
        os.kill(web_pid, signal.SIGCONT)
    assert run["status"] == "completed", run
    before = {n["node_id"]: (n["status"], n["attempts"], n["completed_at"]) for n in run["nodes"]}
    events = srv.sql("SELECT COUNT(*) FROM runs_runevent WHERE run_id = ?", (raw_id,))[0][0]
    time.sleep(8)  # the resumed process gets its answer (5 s after it was sent, or later)
    after = srv.run(run_id)
    assert after["status"] == "completed"
    assert {n["node_id"]: (n["status"], n["attempts"], n["completed_at"]) for n in after["nodes"]} == before
    assert srv.sql("SELECT COUNT(*) FROM runs_runevent WHERE run_id = ?", (raw_id,))[0][0] == events
    assert os.path.exists(f"/proc/{web_pid}")  # the resumed process is still serving
    assert srv.sql("SELECT lease_epoch FROM runs_workflowrun WHERE id = ?", (raw_id,))[0][0] >= 2
    return after


def test_a_stalled_web_process_neither_writes_nor_calls_the_next_node_after_a_takeover(
    fast_lease_server, target
):
    srv = fast_lease_server
    wid, body = _stalled_workflow(
        srv,
        target,
        {"id": "next", "type": "http.request", "config": {"method": "POST", "url": f"{target.url}/next"}},
    )
    raw_id, run_id, web_pid = _hook_and_stop_holder(srv, wid, body, lambda: target.hits.get("/slow"))
    _taken_over_then_resumed(srv, raw_id, run_id, web_pid)
    assert target.hits["/first"] == 1  # succeeded before the stall: never again
    assert target.hits["/next"] == 1  # called by the worker only, never by the resumed process
    assert target.hits["/slow"] == 2  # the interrupted attempt was re-sent once, by the worker
    code, _ = srv.call("GET", f"/api/v1/runs/{run_id}", None)
    assert code == 200


def test_a_callback_that_came_before_a_stalled_process_parked_resumes_the_worker_that_took_over(
    fast_lease_server,
):
    """`http.request` with `wait_for_callback`: the remote calls the callback URL back at
    once, before it answers the request, and the web process running the run is stopped
    while it still waits for that answer (the callback is stored, the node not yet parked).
    The worker that takes the run over is resumed by that stored callback: it neither sends
    the request again nor waits for a second callback; the node resumes once, the next
    node runs once, and the resumed process writes nothing."""
    from tests.connectors.api_server import ApiServer

    srv = fast_lease_server
    api = ApiServer()
    called_back = []

    def job(seen):
        if not called_back:
            req = urllib.request.Request(
                seen.json()["reply_to"],
                data=b'{"result": "done early"}',
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                called_back.append(resp.status)
            time.sleep(6)  # the answer comes long after the callback (and the lease)
        return 200, {"accepted": True}

    api.route("POST", "/job", job)
    api.route("POST", "/after", (200, {"ok": True}))
    try:
        wid = srv.create_workflow(
            [
                {"id": "hook", "type": "trigger.webhook", "config": {"respond": "on_completion"}},
                {
                    "id": "call",
                    "type": "http.request",
                    "config": {
                        "method": "POST",
                        "url": api.url("/job"),
                        "body": {"reply_to": "{{ callback.url }}"},
                        "timeout_ms": 20000,
                        "wait_for_callback": True,
                    },
                },
                {
                    "id": "after",
                    "type": "http.request",
                    "config": {"method": "POST", "url": api.url("/after")},
                },
            ],
            [{"source": "hook", "target": "call"}, {"source": "call", "target": "after"}],
        )
        code, body = srv.call("POST", f"/api/v1/workflows/{wid}/activate", {})
        assert code == 200, body
        raw_id, run_id, web_pid = _hook_and_stop_holder(srv, wid, body, lambda: called_back)
        assert called_back == [202]  # accepted (early: the node has not parked yet)
        after = _taken_over_then_resumed(srv, raw_id, run_id, web_pid)
        nodes = {n["node_id"]: n for n in after["nodes"]}
        assert nodes["call"]["output"]["callback"] == {"result": "done early"}
        assert len(api.requests_to("/job")) == 1  # the remote already answered: not sent again
        assert len(api.requests_to("/after")) == 1
        assert [c["outcome"] for c in after["callbacks"]] == ["early"]
        tokens = srv.sql(
            "SELECT COUNT(*), COUNT(used_at), COUNT(consumed_at) FROM runs_correlationtoken WHERE run_id = ?",
            (raw_id,),
        )[0]
        assert tuple(tokens) == (1, 1, 1)
    finally:
        api.close()


def test_a_stalled_web_process_does_not_call_the_connector_a_worker_took_over(fast_lease_server, target):
    """The node after the stall is `connector.run` (a saved connector calling a real local
    API): only the worker that took the run over calls it, once; the resumed process calls
    nothing and records no connector execution; the connector's statistics count one call."""
    from tests.connectors.api_server import ApiServer

    srv = fast_lease_server
    api = ApiServer()
    api.route("POST", "/c", (200, {"ok": True}))
    try:
        code, connector = srv.call(
            "POST",
            "/api/v1/connectors/",
            {"name": "notify", "config": {"method": "POST", "url": api.url("/c")}},
        )
        assert code == 201, connector
        wid, body = _stalled_workflow(
            srv, target, {"id": "call", "type": "connector.run", "config": {"connector": "notify"}}
        )
        raw_id, run_id, web_pid = _hook_and_stop_holder(srv, wid, body, lambda: target.hits.get("/slow"))
        _taken_over_then_resumed(srv, raw_id, run_id, web_pid)
        assert target.hits["/first"] == 1 and target.hits["/slow"] == 2
        assert len(api.requests_to("/c")) == 1  # by the worker only
        executions = srv.sql("SELECT status FROM connectors_connectorexecution WHERE run_id = ?", (raw_id,))
        assert executions == [("completed",)]
        code, stored = srv.call("GET", f"/api/v1/connectors/{connector['id']}/", None)
        assert code == 200
        assert stored["statistics"]["total_executions"] == 1
        assert stored["statistics"]["successful_executions"] == 1
        assert stored["statistics"]["failed_executions"] == 0
        code, listed = srv.call("GET", f"/api/v1/connectors/{connector['id']}/executions/", None)
        assert code == 200 and len(listed["results"]) == 1, listed
    finally:
        api.close()
