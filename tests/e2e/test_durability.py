"""Durability against real processes: a worker killed with SIGKILL mid-run, every process
restarted while a run waits, and `serve` stopping with no orphans."""

import os
import signal
import time

import pytest

from .server import drop_server, make_server
from .target import Target

pytestmark = pytest.mark.slow

START = {"id": "start", "type": "trigger.manual"}


@pytest.fixture
def target():
    t = Target()
    yield t
    t.close()


@pytest.fixture
def fast_lease_server(tmp_path):
    """Leases expire after 2 s so a dead worker's run is handed back quickly; waits longer
    than 0.5 s park the run instead of sleeping in the worker."""
    srv = make_server(tmp_path, RUN_LEASE_SECONDS=2, WAIT_INLINE_MAX_S=0.5)
    srv.start()
    yield srv
    drop_server(srv)


def test_worker_killed_mid_run_is_resumed_without_rerunning_succeeded_nodes(fast_lease_server, target):
    srv = fast_lease_server
    target.slow_first["/slow"] = 6
    wid = srv.create_workflow(
        [
            START,
            {"id": "first", "type": "http.request", "config": {"url": f"{target.url}/first"}},
            {
                "id": "slow",
                "type": "http.request",
                "config": {"url": f"{target.url}/slow", "timeout_ms": 20000},
            },
            {"id": "done", "type": "data.transform", "config": {"set": {"finished": True}}},
        ],
        [
            {"source": "start", "target": "first"},
            {"source": "first", "target": "slow"},
            {"source": "slow", "target": "done"},
        ],
    )
    run_id = srv.execute(wid)
    srv.wait_for(lambda: target.hits.get("/slow"))
    owner = srv.wait_for(
        lambda: (
            srv.sql(
                "SELECT lease_owner FROM runs_workflowrun WHERE id = ?",
                (run_id if srv.pg_db else run_id.replace("-", ""),),
            )
            or [("",)]
        )[0][0]
    )
    worker_pid = int(owner.split(":")[1])
    os.kill(worker_pid, signal.SIGKILL)

    run = srv.wait_for(
        lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, timeout_s=60
    )
    nodes = {n["node_id"]: n for n in run["nodes"]}
    assert run["status"] == "completed", run
    assert nodes["done"]["output"]["finished"] is True
    assert target.hits["/first"] == 1 and nodes["first"]["attempts"] == 1  # not executed again
    assert target.hits["/slow"] == 2  # the interrupted node ran again on another worker
    assert nodes["slow"]["output"]["body"]["call"] == 2


def test_waiting_run_survives_a_restart_of_every_process(fast_lease_server):
    srv = fast_lease_server
    wid = srv.create_workflow(
        [
            START,
            {"id": "pause", "type": "logic.wait", "config": {"duration_s": 3}},
            {"id": "after", "type": "data.transform", "config": {"set": {"woke": True}}},
        ],
        [{"source": "start", "target": "pause"}, {"source": "pause", "target": "after"}],
    )
    run_id = srv.execute(wid, {"k": 1})
    srv.wait_for(lambda: srv.run(run_id)["status"] == "waiting")
    srv.stop()  # web, workers and timekeeper all gone while the run waits
    time.sleep(4)
    srv.start()
    run = srv.wait_for(
        lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, timeout_s=30
    )
    assert run["status"] == "completed", run
    assert run["output"] == {"k": 1, "woke": True}
    assert run["duration_ms"] >= 2900


def test_cancel_stops_a_running_run(server, target):
    target.slow_first["/hang"] = 8
    wid = server.create_workflow(
        [
            START,
            {
                "id": "call",
                "type": "http.request",
                "config": {"url": f"{target.url}/hang", "timeout_ms": 20000},
            },
            {"id": "after", "type": "data.transform", "config": {"set": {"x": 1}}},
        ],
        [{"source": "start", "target": "call"}, {"source": "call", "target": "after"}],
    )
    run_id = server.execute(wid)
    server.wait_for(lambda: target.hits.get("/hang"))
    started = time.monotonic()
    code, run = server.call("POST", f"/api/v1/runs/{run_id}/cancel", {})
    assert code == 200
    run = server.wait_for(lambda: (r := server.run(run_id))["status"] == "cancelled" and r, timeout_s=10)
    assert time.monotonic() - started < 5  # did not wait for the 8 s call
    nodes = {n["node_id"]: n for n in run["nodes"]}
    assert nodes["call"]["error"]["category"] == "CANCELLED"
    assert nodes["after"]["status"] == "skipped"


def _group_alive(pgid: int) -> list[int]:
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    with open(f"/proc/{entry}/stat") as f:
                        if f.read().split(")")[-1].split()[0] != "Z":
                            alive.append(int(entry))
            except (ProcessLookupError, PermissionError, FileNotFoundError):
                pass
    return alive


def test_serve_stops_web_and_workers_on_sigterm_with_no_orphans(tmp_path):
    srv = make_server(tmp_path)
    srv.start()
    try:
        pgid = os.getpgid(srv.proc.pid)
        assert len(_group_alive(pgid)) >= 4  # serve, daphne, qcluster (+ its workers), timekeeper
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group_alive(pgid) == []
    finally:
        drop_server(srv)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def test_serve_and_worker_cluster_killed_outright_leave_no_orphans(tmp_path):
    """SIGKILL gives no process a chance to clean up: every child of `serve`, and every
    process the worker cluster forked (sentinel, monitor, pusher, workers), must still go."""
    srv = make_server(tmp_path)
    srv.start()
    try:
        pgid = os.getpgid(srv.proc.pid)
        cluster = next(
            p
            for p in _children(srv.proc.pid)
            if b"--worker-cluster" in open(f"/proc/{p}/cmdline", "rb").read()
        )
        # the cluster's sentinel, and what it forks: monitor, pusher, 2 workers
        srv.wait_for(lambda: _children(cluster) and sum(len(_children(p)) for p in _children(cluster)) >= 4)
        os.kill(cluster, signal.SIGKILL)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group_alive(pgid) == []
    finally:
        srv.proc = None
        drop_server(srv)


def test_web_process_killed_while_executing_an_on_completion_run_loses_nothing(fast_lease_server, target):
    """An on_completion webhook run executes in the web process, leased to it. Kill that
    process mid-run (serve stops everything when its web server dies), start again: the
    expired lease hands the run to a worker, which finishes it without re-running the
    node that had already succeeded."""
    import threading
    import urllib.request

    srv = fast_lease_server
    target.slow_first["/slow"] = 6
    wid = srv.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": "on_completion"}},
            {"id": "first", "type": "http.request", "config": {"url": f"{target.url}/first"}},
            {
                "id": "slow",
                "type": "http.request",
                "config": {"url": f"{target.url}/slow", "timeout_ms": 20000},
            },
            {"id": "done", "type": "data.transform", "config": {"set": {"finished": True}}},
        ],
        [
            {"source": "hook", "target": "first"},
            {"source": "first", "target": "slow"},
            {"source": "slow", "target": "done"},
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
            urllib.request.urlopen(req, timeout=30).read()
        except OSError:
            pass  # the web process dies under this request

    threading.Thread(target=send, daemon=True).start()
    srv.wait_for(lambda: target.hits.get("/slow"))
    run_id, owner = srv.wait_for(
        lambda: srv.sql(
            "SELECT id, lease_owner FROM runs_workflowrun WHERE workflow_id = ?",
            (wid if srv.pg_db else wid.replace("-", ""),),
        )
    )[0]
    web_pid = int(owner.split(":")[1])
    # executed by the web process (daphne, run as config.web_server)
    assert b"config.web_server" in open(f"/proc/{web_pid}/cmdline", "rb").read()
    os.kill(web_pid, signal.SIGKILL)
    srv.proc.wait(timeout=30)  # serve notices and stops the rest
    srv.start()
    run_id = (
        str(run_id)
        if srv.pg_db
        else "-".join((run_id[:8], run_id[8:12], run_id[12:16], run_id[16:20], run_id[20:]))
    )
    run = srv.wait_for(
        lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, timeout_s=60
    )
    nodes = {n["node_id"]: n for n in run["nodes"]}
    assert run["status"] == "completed", run
    assert nodes["done"]["output"]["finished"] is True
    assert target.hits["/first"] == 1 and nodes["first"]["attempts"] == 1
    assert target.hits["/slow"] == 2
