"""Live events and run history at volume, through a real `manage.py serve`. Prints figures;
asserts no timings.

    .venv/bin/python bench/live_events.py [--setup sqlite|postgres|both] [--runs N] [--history N]

For each setup — `sqlite` (embedded: SQLite, Django-Q ORM broker, in-memory channel
layer) and `postgres` (PostgreSQL + Redis from $BENCH_DATABASE_URL / $BENCH_REDIS_URL) —
a fresh database and its own `serve` (bench/_harness.py), then:

1. Node finished -> event received. 1, 20 and 200 websocket clients watch one workflow
   (`/ws/workflows/<id>/`); `--runs` runs of a 5-node chain (trigger, then two pairs of
   `logic.wait` 0.1 s + `data.transform`) execute one after the other. For every
   `node.status` event of a finished node that every client receives, the latency is the
   client's receive time minus the node's `completed_at` as stored (the same clock: one
   machine). Figures: p50/p99/max over all (client, event) pairs, and events lost (must be
   0; a client's events are counted once it has the last run's final event, or after 30 s).
   The clients share one asyncio process: with 200 of them, part of the figure is
   the client's own work.
2. History at volume: `--history` runs (default 100,000; 3 node rows each) bulk-inserted
   over 30 days (bench/_fixtures.py), then each read is timed 20 times over HTTP (client
   latency, p50/p95): the executions list (first page, a filter, a deep page, search by
   input text (rare and common) and by run-id prefix) and node-stats (today, and 30 days:
   every run). A search marked "newest N" looked through the newest N runs only (SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import Server, drop_server, make_server  # noqa: E402
from bench.engine import PG_URL, REDIS_URL, setup_env  # noqa: E402

WATCHERS = (1, 20, 200)


def chain() -> tuple[list, list]:
    nodes = [{"id": "start", "type": "trigger.manual"}]
    for i in (1, 2):
        nodes.append({"id": f"wait{i}", "type": "logic.wait", "config": {"duration_s": 0.1}})
        nodes.append({"id": f"step{i}", "type": "data.transform", "config": {"set": {f"s{i}": i}}})
    ids = [n["id"] for n in nodes]
    return nodes, [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def watch(server: Server, workflow_id: str, clients: int, runs: int) -> dict:
    import websockets

    url = server.base.replace("http", "ws") + f"/ws/workflows/{workflow_id}/?token={server.token}"
    received: list[list[tuple[float, dict]]] = [[] for _ in range(clients)]
    sockets = []
    for _ in range(clients):
        # No client keepalive: on a loaded machine its 20 s pong deadline closes healthy sockets.
        ws = await websockets.connect(
            url, origin=server.base, max_size=None, open_timeout=30, ping_interval=None
        )
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot", snapshot
        sockets.append(ws)

    async def reader(i, ws):
        async for raw in ws:
            received[i].append((time.time(), json.loads(raw)))

    readers = [asyncio.ensure_future(reader(i, ws)) for i, ws in enumerate(sockets)]
    run_ids = []
    for _ in range(runs):
        code, body = await asyncio.to_thread(
            server.call, "POST", f"/api/v1/workflows/{workflow_id}/execute", {"input": {}, "wait": True}
        )
        assert code == 200 and body["status"] == "completed", body
        run_ids.append(body["id"])
    last = run_ids[-1]

    def has_last(events):
        return any(
            m.get("type") == "run.status" and m.get("run_id") == last and m.get("status") == "completed"
            for _, m in events
        )

    # Late is not lost: wait (up to 30 s) until every client has the last run's final event.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(has_last(events) for events in received):
        await asyncio.sleep(0.1)
    # A connection that ended early (server or keepalive closed it) is not an event lost by
    # the server: a page reconnects and resumes from a snapshot. Counted apart.
    closed = [ws.close_code for ws in sockets if ws.close_code is not None]
    for r in readers:
        r.cancel()
    for ws in sockets:
        await ws.close()
    finished = {}
    for run_id in run_ids:
        for node_id, completed in server.sql(
            "SELECT node_id, completed_at FROM runs_nodeexecution WHERE run_id = ? AND status = 'succeeded'",
            (run_id if server.pg_db else run_id.replace("-", ""),),
        ):
            stamp = completed if isinstance(completed, datetime) else datetime.fromisoformat(str(completed))
            if stamp.tzinfo is None:
                from datetime import UTC

                stamp = stamp.replace(tzinfo=UTC)
            finished[(run_id, node_id)] = stamp.timestamp()
    latencies, lost, short = [], 0, 0
    for events in received:
        got = {}
        for at, msg in events:
            if msg.get("type") == "node.status" and msg.get("status") == "succeeded":
                got.setdefault((msg["run_id"], msg["node_id"]), at)
        missing = 0
        for key, done_at in finished.items():
            if key in got:
                latencies.append((got[key] - done_at) * 1000)
            else:
                missing += 1
        lost += missing
        short += bool(missing)
    return {
        "closed": f"{len(closed)} {sorted(set(closed))}" if closed else "0",
        "short": short,
        "clients": clients,
        "events": len(finished),
        "samples": len(latencies),
        "lost": lost,
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
        "max": max(latencies),
    }


def timed(server: Server, path: str, repeat: int = 20) -> dict:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        code, body = server.call("GET", path, timeout=120)
        times.append((time.perf_counter() - t0) * 1000)
        assert code == 200, (path, code, body)
    return {"p50": statistics.median(times), "p95": pct(times, 0.95), "body": body}


def history(server: Server, count: int) -> list[tuple[str, dict]]:
    nodes = [{"id": "start", "type": "trigger.manual"}] + [
        {"id": n, "type": "data.transform", "config": {"set": {n: 1}}} for n in ("enrich", "deliver")
    ]
    edges = [{"source": "start", "target": "enrich"}, {"source": "enrich", "target": "deliver"}]
    flows = [server.create_workflow(nodes, edges, name=f"History {i}") for i in (1, 2)]
    t0 = time.monotonic()
    code = f"from bench._fixtures import bulk_runs; bulk_runs({flows!r}, {count})"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=server.env,
        cwd=ROOT,
        check=True,
        timeout=3600,
    )
    print(f"    inserted {count:,} runs ({3 * count:,} node rows) in {time.monotonic() - t0:.0f} s")
    stored = server.sql("SELECT COUNT(*) FROM runs_workflowrun")[0][0]
    rid = server.sql("SELECT id FROM runs_workflowrun ORDER BY created_at LIMIT 1 OFFSET 500")[0][0]
    prefix = str(rid).replace("-", "")[:8] if not server.pg_db else str(rid)[:8]
    deep = max(1, min(100, count // 50))
    reads = [
        ("executions, first page", "/api/v1/runs"),
        ("executions, status=failed", "/api/v1/runs?status=failed"),
        ("executions, workflow + mode=live", f"/api/v1/runs?workflow={flows[0]}&mode=live"),
        (f"executions, page {deep}", f"/api/v1/runs?page={deep}"),
        ("executions, q=input text", "/api/v1/runs?q=user4242@"),
        ("executions, q=text in every input", "/api/v1/runs?q=example.com"),
        ("executions, q=run-id prefix", f"/api/v1/runs?q={prefix}"),
        ("node-stats, today", f"/api/v1/workflows/{flows[0]}/node-stats"),
        (
            "node-stats, 30 days (all runs)",
            f"/api/v1/workflows/{flows[0]}/node-stats?since=2000-01-01",
        ),
    ]
    out = []
    for label, path in reads:
        res = timed(server, path)
        body = res.pop("body")
        if "count" in body:
            res["rows"] = body["count"]
            if body.get("search_window"):
                label += f" (newest {body['search_window']:,})"
        elif "nodes" in body:
            res["rows"] = sum(n["runs"] for n in body["nodes"].values())
        out.append((label, res))
    print(f"    runs stored: {stored:,}")
    return out


def bench_setup(setup: str, runs: int, count: int, live: bool = True) -> None:
    env = setup_env(setup)
    print(f"\n== {setup} ({'PostgreSQL + Redis' if setup == 'postgres' else 'SQLite, in-memory layer'})")
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        server = make_server(Path(tmp), base_env=env)
        try:
            server.start()
            wid = server.create_workflow(*chain(), name="Live events")
            print("  node finished -> event received (ms), one workflow:")
            print(
                f"    {'watchers':>8} {'events':>7} {'samples':>8} {'lost':>5} "
                f"{'p50':>7} {'p99':>7} {'max':>7}  clients short / closed early; load"
            )
            for clients in WATCHERS if live else ():
                before = loadavg()
                r = asyncio.run(watch(server, wid, clients, runs))
                print(
                    f"    {r['clients']:>8} {r['events']:>7} {r['samples']:>8} {r['lost']:>5} "
                    f"{r['p50']:>7.1f} {r['p99']:>7.1f} {r['max']:>7.1f}  {r['short']} / {r['closed']}; "
                    f"{before} -> {loadavg()}"
                )
            if count:
                print("  history reads over HTTP (ms, 20 each):")
                for label, r in history(server, count):
                    print(
                        f"    {label:<46} p50 {r['p50']:>7.1f}  p95 {r['p95']:>7.1f}  "
                        f"rows {r.get('rows', '-'):>7}"
                    )
        finally:
            server.stop()
            drop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--no-live", action="store_true", help="skip the websocket part")
    args = parser.parse_args()
    print(f"nproc {os.cpu_count()}, load {loadavg()}; postgres {PG_URL}, redis {REDIS_URL}")
    for setup in ("sqlite", "postgres") if args.setup == "both" else (args.setup,):
        bench_setup(setup, args.runs, args.history, live=not args.no_live)


if __name__ == "__main__":
    main()
