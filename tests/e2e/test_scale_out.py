"""Scale-out on the scaled setup: two worker clusters (`serve --web 0`, as on two machines) and a
web-only `serve --no-workers` share one PostgreSQL and one Redis. Both clusters take runs;
one is killed outright (SIGKILL to its whole process group) under load; every run still
completes, and no node whose success was stored runs again (a local target counts the calls)."""

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .server import ROOT, drop_server, make_server

SCALED = os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SCALED,
        reason="scale-out is about the scaled setup (several worker clusters on one PostgreSQL and one "
        "Redis): run with DATABASE_URL=postgres://… and REDIS_URL=redis://…",
    ),
]

RUNS = 40
NODES = ("a", "b", "c")


class CountingTarget:
    """Answers POST /<n>/<node> after `delay_s`; remembers every call in arrival order."""

    def __init__(self, delay_s: float):
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                _, n, node = self.path.split("/")
                with target.lock:
                    target.calls.append((n, node))
                time.sleep(delay_s)
                body = b'{"ok": true}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def start_cluster(srv, name: str) -> subprocess.Popen:
    log = open(srv.state_dir / f"{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--web", "0", "--workers", "2"],
        env=srv.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed as a whole, like a machine
    )


def cluster_of(pid: int, clusters: dict[str, subprocess.Popen]) -> str | None:
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None
    return next((name for name, proc in clusters.items() if proc.pid == group), None)


def test_two_worker_clusters_share_the_work_and_losing_one_loses_nothing(tmp_path):
    srv = make_server(tmp_path, RUN_LEASE_SECONDS=3, WAIT_INLINE_MAX_S=0.5, RUN_ORPHAN_SECONDS=20)
    target = CountingTarget(delay_s=0.3)
    clusters: dict[str, subprocess.Popen] = {}
    try:
        srv.start(serve_args=["--no-workers", "--web", "1"])
        clusters = {name: start_cluster(srv, name) for name in ("one", "two")}
        wid = srv.create_workflow(
            [
                {"id": "start", "type": "trigger.manual"},
                *(
                    {
                        "id": node,
                        "type": "http.request",
                        "config": {"method": "POST", "url": f"{target.url}/{{{{ trigger.n }}}}/{node}"},
                    }
                    for node in NODES
                ),
            ],
            [{"source": s, "target": t} for s, t in zip(("start", *NODES), NODES, strict=False)],
        )
        runs = {srv.execute(wid, {"n": i}): str(i) for i in range(RUNS)}

        # Both clusters hold runs (leases name the worker's pid); then kill one outright.
        seen: dict[str, set[str]] = {"one": set(), "two": set()}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (seen["one"] and seen["two"]):
            for run_id, owner in srv.sql(
                "SELECT id, lease_owner FROM runs_workflowrun WHERE lease_owner <> '' AND status = 'running'"
            ):
                name = cluster_of(int(owner.split(":")[1]), clusters)
                if name:
                    seen[name].add(str(run_id))
            time.sleep(0.05)
        assert seen["one"] and seen["two"], f"the clusters did not share the work: {seen}\n{srv.logs()}"
        os.killpg(clusters["one"].pid, signal.SIGKILL)
        clusters["one"].wait()
        killed_at = len(target.calls)

        def all_finished():
            rows = srv.sql("SELECT status, count(*) FROM runs_workflowrun GROUP BY status")
            return dict(rows).get("completed") == RUNS and dict(rows)

        try:
            srv.wait_for(all_finished, timeout_s=180, interval_s=0.5)
        except AssertionError:
            rows = srv.sql("SELECT status, lease_owner, count(*) FROM runs_workflowrun GROUP BY 1, 2")
            raise AssertionError(f"not every run completed: {rows}") from None
        assert killed_at < RUNS * len(NODES), "the kill came after all the work was done"

        for run_id, n in runs.items():
            run = srv.run(run_id)
            assert run["status"] == "completed", run
            assert [node["status"] for node in run["nodes"]] == ["succeeded"] * (len(NODES) + 1), run
            order = [NODES.index(node) for m, node in target.calls if m == n]
            # every node called; a node is called again only while it was the one running
            # (its success not yet stored); never one whose successor had already started
            assert sorted(set(order)) == list(range(len(NODES))), (n, order)
            assert order == sorted(order), f"run {n} re-ran a node after its successor started: {order}"
            assert len(order) - len(NODES) <= 1, (n, order)
        repeated = len(target.calls) - RUNS * len(NODES)
        print(
            f"scale-out: {RUNS} runs, {len(seen['one'])} held by the killed cluster, "
            f"{repeated} in-flight calls repeated"
        )
    finally:
        for proc in clusters.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        target.server.shutdown()
        drop_server(srv)
