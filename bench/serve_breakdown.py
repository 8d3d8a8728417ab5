"""Where a webhook run's CPU goes across the whole server: a real `manage.py serve` (daphne,
Django-Q, timekeeper), the peer's 6-node workflow (bench/compare_n8n.py) answering on
completion, N requests at concurrency C; then the CPU per run of each process group (the web
processes, the workers, the timekeeper, the database server, Redis, this load client) and,
on PostgreSQL, what the database did per run (transactions, rows written, index and
sequential scans per table and index). With --floor, the same load against `/healthz` (the
web stack's cost per request without a run). With --respond immediately, the webhook answers
202 at once and Django-Q's workers run the workflow: the figures are taken once every run has
finished, and runs/s counts completed runs. Figures, no assertions; compare CPU per run
rather than runs/s on a busy machine.

    .venv/bin/python bench/serve_breakdown.py [--setup postgres|sqlite] [-c 16] [-n 2000] [--floor]
        [--respond on_completion|immediately] [--serve-arg=--workers --serve-arg=4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import drop_server, make_server  # noqa: E402
from bench._load import drive, load, stat_fields  # noqa: E402
from bench.compare_n8n import peer_workflow  # noqa: E402
from bench.engine import RunCounter, setup_env  # noqa: E402
from bench.webhooks import activate, wait_terminal  # noqa: E402

GROUPS = (
    ("web (daphne)", "config.web_server"),
    ("workers (Django-Q)", "--worker-cluster"),
    ("timekeeper", "timekeeper"),
    ("queue consumers", "queue_triggers"),
    ("serve (parent)", "manage.py serve"),
    ("PostgreSQL", "postgres:"),
    ("Redis", "redis-server"),
)


def processes() -> dict[int, tuple[str, float]]:
    """pid -> (command line, its own CPU seconds so far, reaped children not included)."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for pid, fields in stat_fields():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[pid] = (cmd, (int(fields[11]) + int(fields[12])) / tick)
    return out


def group_of(pid: int, cmd: str) -> str:
    if pid == os.getpid():
        return "load client (this script)"
    for name, marker in GROUPS:
        if marker in cmd:
            return name
    return ""


def cpu_by_group(before: dict, after: dict) -> dict[str, float]:
    groups: dict[str, float] = {}
    for pid, (cmd, cpu) in after.items():
        name = group_of(pid, cmd)
        if name:
            groups[name] = groups.get(name, 0.0) + cpu - before.get(pid, (cmd, 0.0))[1]
    return groups


def pg_counters(server) -> dict:
    (db,) = server.sql(
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, sessions "
        "FROM pg_stat_database WHERE datname = current_database()"
    )
    tables = server.sql(
        "SELECT relname, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), COALESCE(idx_tup_fetch, 0), "
        "n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
    )
    indexes = server.sql("SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes")
    return {"db": db, "tables": {r[0]: r[1:] for r in tables}, "indexes": {r[0]: r[1:] for r in indexes}}


def per_run(before: tuple, after: tuple, n: int) -> list[float]:
    return [(b - a) / n for a, b in zip(before, after, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("--floor", action="store_true", help="also measure GET /healthz")
    parser.add_argument("--respond", choices=("on_completion", "immediately"), default="on_completion")
    parser.add_argument("--serve-arg", action="append", default=[], help="passed to `manage.py serve`")
    args = parser.parse_args()
    n, c = args.requests, args.concurrency
    print(
        f"bench/serve_breakdown.py  nproc {os.cpu_count()}  load {load()}  setup {args.setup}  {n} x c={c}"
        f"  respond {args.respond}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
        server = make_server(Path(tmp), base_env=setup_env(args.setup))
        try:
            server.start(serve_args=args.serve_arg)
            nodes, edges = peer_workflow()
            nodes[0]["config"]["respond"] = args.respond
            wid, path = activate(server, nodes, edges, "peer-bench breakdown")
            counter = RunCounter(server, wid)
            drive(server.port, path, 300, c)  # warm-up
            warm, _ = wait_terminal(counter, 300, 300)
            time.sleep(1)  # the statistics collector catches up
            pg_before = pg_counters(server) if server.pg_db else None
            before, started = processes(), time.monotonic()
            result = drive(server.port, path, n, c)
            counts, _ = wait_terminal(counter, sum(warm.values()) + result.ok, 900)
            after, wall = processes(), time.monotonic() - started
            counter.conn.close()
            time.sleep(1)
            pg_after = pg_counters(server) if server.pg_db else None
            p50, p95, p99 = result.pct()
            done = counts.get("completed", 0) - warm.get("completed", 0)
            print(
                f"\n{result.ok}/{n} answered 2xx ({result.rps:.1f}/s), p50 {p50:.1f} p95 {p95:.1f} "
                f"p99 {p99:.1f} ms; {done} runs completed, {done / wall:.1f} runs/s  [load {load()}]"
            )
            groups = cpu_by_group(before, after)
            print("\nCPU per run, by process group:")
            for name, cpu in sorted(groups.items(), key=lambda kv: -kv[1]):
                print(f"  {cpu * 1000 / n:7.2f} ms  {name}")
            print(f"  {sum(groups.values()) * 1000 / n:7.2f} ms  all of them")
            if pg_before and pg_after:
                commits, rollbacks, ins, upd, dele, sessions = per_run(pg_before["db"], pg_after["db"], n)
                print(
                    f"\nPostgreSQL per run: {commits:.2f} transactions ({rollbacks:.2f} rolled back), "
                    f"{ins:.1f} rows inserted, {upd:.1f} updated, {dele:.1f} deleted, "
                    f"{sessions:.3f} new connections"
                )
                print(
                    "  per table, per run: seq scans / rows read, index scans / rows fetched, ins, upd (HOT)"
                )
                for table, now in sorted(pg_after["tables"].items()):
                    was = pg_before["tables"].get(table, (0,) * len(now))
                    seq, seq_read, idx, idx_fetch, ins, upd, hot = per_run(was, now, n)
                    if max(seq, idx, ins, upd) >= 0.01:
                        print(
                            f"  {table:32s} {seq:5.2f} / {seq_read:8.1f}  {idx:6.2f} / {idx_fetch:7.1f}  "
                            f"{ins:5.2f}  {upd:5.2f} ({hot:.2f})"
                        )
                print("  busiest indexes, per run: scans, entries read")
                moved = []
                for index, now in pg_after["indexes"].items():
                    was = pg_before["indexes"].get(index, (0, 0))
                    scans, read = per_run(was, now, n)
                    moved.append((read, scans, index))
                for read, scans, index in sorted(moved, reverse=True)[:8]:
                    print(f"  {index:48s} {scans:6.2f} {read:8.1f}")
            if args.floor:
                drive(server.port, "/healthz", 300, c, method="GET")
                before = processes()
                floor = drive(server.port, "/healthz", n, c, method="GET")
                after = processes()
                web = cpu_by_group(before, after).get("web (daphne)", 0.0)
                print(
                    f"\nfloor: GET /healthz {floor.rps:.0f}/s, web CPU {web * 1000 / n:.2f} ms per request "
                    "(daphne + Django's handler and middleware, no run)"
                )
        finally:
            drop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
