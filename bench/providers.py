"""Provider nodes: our overhead per provider call, and how many waiting provider nodes one
worker holds. Prints figures; asserts nothing.

    .venv/bin/python bench/providers.py [--calls 30] [--waiting 2000] [--setup sqlite|postgres]

A real `serve` (1 web process, 1 worker process, its own throwaway database) and the fake
Make / Zapier servers of the test suite (they follow those providers' published docs) on
127.0.0.1. In the same run:

1. Poll: N runs of `start -> provider.make (wait poll, interval 0.01 s)` against a scenario
   done at the first poll, each executed with `wait: true` (the API's own path), versus N
   bare calls of the same two requests (`POST /scenarios/{id}/run`, then
   `GET /scenarios/{id}/executions/{executionId}`) with `requests`. Overhead per provider
   call = our median run latency − the bare median − the 10 ms poll interval.
2. Callback: N runs of `start -> provider.zapier (wait callback)` whose fake Zap posts the
   callback at once, versus N bare "POST the hook, receive its callback" round trips on a
   small local listener.
3. Waiting: W runs parked on a Zapier callback that never comes (W = --waiting; 10,000 is
   the target; the default keeps the machine usable), then the latency of a fresh trivial
   run while they wait (a waiting node holds no worker), the worker cluster's processes,
   threads, threads running and CPU over 5 s, its RSS, the rows they cost per table and the
   database size, then all W callbacks delivered and the resume throughput (runs/s until
   every run finished).
Noise: load average printed before and after; the fake servers, the client and our
server share the machine's 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import drop_server, make_server  # noqa: E402
from tests.providers.fakes import FakeMake, FakeZapier  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def ms(samples: list[float]) -> str:
    s = sorted(samples)
    return f"p50 {statistics.median(s) * 1000:.1f} ms (min {s[0] * 1000:.1f}, max {s[-1] * 1000:.1f})"


def setup(srv, make: FakeMake, zapier: FakeZapier) -> None:
    srv.call(
        "POST",
        "/api/v1/credentials/",
        {"name": "make_token", "kind": "custom", "data": {"token": make.TOKEN}},
    )
    for body in (
        {
            "name": "Make",
            "provider": "make",
            "base_url": make.base,
            "credential": "make_token",
            "settings": {"team_id": make.TEAM},
        },
        {"name": "Zapier", "provider": "zapier", "base_url": zapier.hook_url()},
        {"name": "Never", "provider": "zapier", "base_url": zapier.hook_url("never")},
    ):
        code, answer = srv.call("POST", "/api/v1/providers/connections/", body)
        assert code == 201, answer


def timed_runs(srv, wid: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        code, run = srv.call(
            "POST", f"/api/v1/workflows/{wid}/execute", {"input": {}, "wait": True, "timeout_s": 60}
        )
        out.append(time.perf_counter() - started)
        assert code == 200 and run["status"] == "completed", run
    return out


def bare_poll(make: FakeMake, n: int) -> list[float]:
    session, out = requests.Session(), []
    headers = {"Authorization": f"Token {make.TOKEN}"}
    for _ in range(n):
        started = time.perf_counter()
        eid = session.post(
            f"{make.base}/scenarios/101/run", json={"data": {}, "responsive": False}, headers=headers
        ).json()["executionId"]
        assert (
            session.get(f"{make.base}/scenarios/101/executions/{eid}", headers=headers).json()["status"]
            == "SUCCESS"
        )
        out.append(time.perf_counter() - started)
    return out


def bare_callback(zapier: FakeZapier, n: int) -> list[float]:
    arrived = threading.Event()

    class Listener(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            arrived.set()

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{listener.server_address[1]}/cb"
    session, out = requests.Session(), []
    for _ in range(n):
        arrived.clear()
        started = time.perf_counter()
        session.post(zapier.hook_url(), json={"callback_url": url})
        arrived.wait(10)
        out.append(time.perf_counter() - started)
    listener.shutdown()
    return out


def worker_pids(srv) -> list[int]:
    """The worker cluster's processes (the `serve --worker-cluster` parent and its children)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"--worker-cluster" in cmd or b"qcluster" in cmd:
                env = Path(f"/proc/{pid}/environ").read_bytes()
                if f"Q_CLUSTER_NAME={srv.env['Q_CLUSTER_NAME']}".encode() in env:
                    found.append(int(pid))
        except OSError:
            continue
    return found


def worker_stats(srv) -> dict:
    """RSS, threads, threads running right now, CPU seconds, summed over the worker processes
    (Django-Q forks its workers from the cluster process, so they are found by environment)."""
    stats = {"processes": 0, "rss_mb": 0.0, "threads": 0, "running": 0, "cpu_s": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in worker_pids(srv):
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        stats["processes"] += 1
        for line in status:
            if line.startswith("VmRSS:"):
                stats["rss_mb"] += int(line.split()[1]) / 1024
        stats["threads"] += len(tasks)
        stats["cpu_s"] += (int(fields[11]) + int(fields[12])) / tick
        for task in tasks:
            try:
                state = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            stats["running"] += state == "R"
    return stats


def worker_rss_mb(srv) -> float:
    return worker_stats(srv)["rss_mb"]


def idle_cpu(srv, seconds: float = 5.0) -> tuple[float, int]:
    """Worker CPU use (% of one core) over `seconds`, and the most threads seen running."""
    before, busiest = worker_stats(srv), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busiest = max(busiest, worker_stats(srv)["running"])
        time.sleep(0.25)
    after = worker_stats(srv)
    return 100 * (after["cpu_s"] - before["cpu_s"]) / seconds, busiest


def table_rows(srv) -> str:
    tables = (
        "runs_workflowrun",
        "runs_nodeexecution",
        "runs_correlationtoken",
        "runs_executionlog",
        "runs_runevent",
        "providers_providerexecution",
        "connectors_credentialaccess",
    )
    counts = []
    for table in tables:
        try:
            counts.append(f"{table.split('_', 1)[1]} {srv.sql(f'SELECT COUNT(*) FROM {table}')[0][0]}")
        except Exception:  # noqa: BLE001 - a table another version names otherwise
            continue
    if srv.pg_db:
        size = srv.sql("SELECT pg_database_size(current_database())")[0][0]
    else:
        size = Path(srv.env["SQLITE_PATH"]).stat().st_size
    return f"{', '.join(counts)}; database {size / 2**20:.0f} MiB"


def waiting(srv, zapier: FakeZapier, count: int) -> None:
    zapier.hooks["never"] = {"delay_s": 10**6, "before_answer": False, "fail": False}
    wid = srv.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "zap", "type": "provider.zapier", "config": {"connection": "Never", "data": {}}},
        ],
        [{"source": "start", "target": "zap"}],
    )
    quick = srv.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "t", "type": "data.transform", "config": {"set": {"a": 1}}},
        ],
        [{"source": "start", "target": "t"}],
    )
    rss_before = worker_rss_mb(srv)
    rows_before = table_rows(srv)
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(lambda _: srv.execute(wid), range(count)))
    fired = time.perf_counter() - started

    def parked() -> int:
        return srv.sql("SELECT COUNT(*) FROM runs_workflowrun WHERE status = 'waiting'")[0][0]

    while parked() < count and time.perf_counter() - started < 1800:
        time.sleep(1)
    all_parked = time.perf_counter() - started
    print(
        f"  {count} runs started in {fired:.1f} s ({count / fired:.0f}/s); "
        f"all {parked()} parked after {all_parked:.1f} s"
    )
    probe = timed_runs(srv, quick, 10)
    tokens = [t for (t,) in srv.sql("SELECT token FROM runs_correlationtoken WHERE used_at IS NULL")]
    rows = srv.sql("SELECT COUNT(*) FROM runs_nodeexecution WHERE status = 'waiting'")[0][0]
    leases = srv.sql("SELECT COUNT(*) FROM runs_workflowrun WHERE lease_owner != ''")[0][0]
    cpu, busiest = idle_cpu(srv)
    stats = worker_stats(srv)
    print(
        f"  while {rows} provider nodes wait: a fresh run takes {ms(probe)}; leases held: {leases}\n"
        f"  worker cluster: {stats['processes']} processes, {stats['threads']} threads, "
        f"at most {busiest} running over 5 s, {cpu:.1f} % of a core; "
        f"RSS {stats['rss_mb']:.0f} MiB (was {rss_before:.0f} before the runs)\n"
        f"  rows before: {rows_before}\n  rows now:    {table_rows(srv)}"
    )
    session = requests.Session()
    completed_before = srv.sql(
        "SELECT COUNT(*) FROM runs_workflowrun WHERE status = 'completed' AND workflow_id = ?",
        (wid if srv.pg_db else wid.replace("-", ""),),
    )[0][0]
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda t: session.post(f"{srv.base}/api/v1/callbacks/{t}", json={"ok": 1}).status_code, tokens
            )
        )
    posted = time.perf_counter() - started

    def done() -> int:  # runs of this workflow finished since the callbacks went out
        return (
            srv.sql(
                "SELECT COUNT(*) FROM runs_workflowrun WHERE status = 'completed' AND workflow_id = ?",
                (wid if srv.pg_db else wid.replace("-", ""),),
            )[0][0]
            - completed_before
        )

    while done() < len(tokens) and time.perf_counter() - started < 1800:
        time.sleep(1)
    took = time.perf_counter() - started
    print(
        f"  {codes.count(202)} callbacks accepted in {posted:.1f} s ({len(tokens) / posted:.0f}/s); "
        f"{done()} runs completed {took:.1f} s after the first callback: resume throughput "
        f"{done() / took:.0f} runs/s (1 worker process)"
    )
    assert run_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--waiting", type=int, default=2000)
    parser.add_argument("--setup", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    base_env = dict(os.environ)
    base_env.pop("DATABASE_URL", None)
    if args.setup == "postgres":
        base_env["DATABASE_URL"] = PG_URL
    make, zapier = FakeMake(), FakeZapier()
    make.scenarios["101"]["polls"] = 0
    zapier.hooks["orders"]["delay_s"] = 0.001
    srv = make_server(Path(tempfile.mkdtemp(prefix="bench-providers-")), base_env=base_env, LOG_LEVEL="ERROR")
    print(f"bench/providers.py: setup {args.setup}, {args.calls} calls per side, load {load()}")
    try:
        srv.start(timeout_s=300, serve_args=["--web", "1", "--workers", "1"])
        setup(srv, make, zapier)
        poll_wid = srv.create_workflow(
            [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "make",
                    "type": "provider.make",
                    "config": {
                        "connection": "Make",
                        "workflow": "101",
                        "data": {},
                        "poll": {"interval_s": 0.01},
                    },
                },
            ],
            [{"source": "start", "target": "make"}],
        )
        cb_wid = srv.create_workflow(
            [
                {"id": "start", "type": "trigger.manual"},
                {"id": "zap", "type": "provider.zapier", "config": {"connection": "Zapier", "data": {}}},
            ],
            [{"source": "start", "target": "zap"}],
        )
        timed_runs(srv, poll_wid, 3)
        timed_runs(srv, cb_wid, 3)  # warm-up
        ours_poll, bare_p = timed_runs(srv, poll_wid, args.calls), bare_poll(make, args.calls)
        ours_cb, bare_c = timed_runs(srv, cb_wid, args.calls), bare_callback(zapier, args.calls)
        over_poll = statistics.median(ours_poll) - statistics.median(bare_p) - 0.01
        over_cb = statistics.median(ours_cb) - statistics.median(bare_c)
        print("1. execute + poll (Make):")
        print(f"  bare POST run + GET execution: {ms(bare_p)}")
        print(f"  workflow run with provider.make (execute wait=true): {ms(ours_poll)}")
        print(
            f"  our overhead per provider call: {over_poll * 1000:.1f} ms "
            "(run, nodes, audit, records, poll wait)"
        )
        print("2. execute + callback (Zapier):")
        print(f"  bare POST hook + receive callback: {ms(bare_c)}")
        print(f"  workflow run with provider.zapier (park, callback, resume): {ms(ours_cb)}")
        print(f"  our overhead per provider call: {over_cb * 1000:.1f} ms")
        print(f"3. {args.waiting} provider nodes waiting on one worker process:")
        waiting(srv, zapier, args.waiting)
    finally:
        drop_server(srv)
        make.close()
        zapier.close()
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
