"""A web process stalled (SIGSTOP) mid-run for longer than its lease: a worker takes the
run over and finishes it; when the stalled process resumes (SIGCONT) it gets its late
answer but stores nothing and calls no further node."""

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


def test_a_stalled_web_process_neither_writes_nor_calls_the_next_node_after_a_takeover(
    fast_lease_server, target
):
    srv = fast_lease_server
    target.slow_first["/slow"] = 5  # the first call answers after 5 s
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
            {"id": "next", "type": "http.request", "config": {"method": "POST", "url": f"{target.url}/next"}},
        ],
        [
            {"source": "hook", "target": "first"},
            {"source": "first", "target": "slow"},
            {"source": "slow", "target": "next"},
        ],
    )
    code, body = srv.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body

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
    srv.wait_for(lambda: target.hits.get("/slow"))
    raw_id, owner = srv.wait_for(
        lambda: srv.sql(
            "SELECT id, lease_owner FROM runs_workflowrun WHERE workflow_id = ?",
            (wid if srv.pg_db else wid.replace("-", ""),),
        )
    )[0]
    run_id = _run_id(srv, raw_id)
    web_pid = int(owner.split(":")[1])
    assert b"config.asgi:application" in open(f"/proc/{web_pid}/cmdline", "rb").read()  # the web process
    os.kill(web_pid, signal.SIGSTOP)
    try:
        # The lease runs out, the timekeeper hands the run to a worker, which re-runs the
        # interrupted `slow` (its second call answers at once) and then `next`.
        run = srv.wait_for(
            lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, timeout_s=60
        )
    finally:
        os.kill(web_pid, signal.SIGCONT)
    assert run["status"] == "completed", run
    before = {n["node_id"]: (n["status"], n["attempts"], n["completed_at"]) for n in run["nodes"]}
    events = srv.sql("SELECT COUNT(*) FROM runs_runevent WHERE run_id = ?", (raw_id,))[0][0]

    # The stalled process resumes: its first `slow` call answers (5 s after it was sent).
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        time.sleep(0.5)
    after = srv.run(run_id)
    assert after["status"] == "completed"
    assert {n["node_id"]: (n["status"], n["attempts"], n["completed_at"]) for n in after["nodes"]} == before
    assert srv.sql("SELECT COUNT(*) FROM runs_runevent WHERE run_id = ?", (raw_id,))[0][0] == events
    assert target.hits["/first"] == 1  # succeeded before the stall: never again
    assert target.hits["/next"] == 1  # called by the worker only, never by the resumed process
    assert target.hits["/slow"] == 2  # the interrupted attempt was re-sent once, by the worker
    assert os.path.exists(f"/proc/{web_pid}")  # the resumed process is still serving
    code, _ = srv.call("GET", f"/api/v1/runs/{run_id}", None)
    assert code == 200
    taken_over = srv.sql("SELECT lease_epoch FROM runs_workflowrun WHERE id = ?", (raw_id,))[0][0]
    assert taken_over >= 2
