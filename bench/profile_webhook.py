"""Where a webhook run's CPU goes, in one process: cProfile over N `respond: on_completion`
requests to the peer's 6-node workflow (bench/compare_n8n.py), through Django's request
handler (no daphne, no network; the run is advanced on the request thread, which cProfile
sees), on a fresh SQLite database (or $DATABASE_URL). Prints, first without the profiler, the
CPU per run of this process and (PostgreSQL) of the database's server processes, the SQL
statements and round trips per run (deterministic: comparable on a loaded machine); then
the top costs by own time and by cumulative time, timed in CPU seconds (`--timer wall` for
elapsed time). Figures, no assertions.

    .venv/bin/python bench/profile_webhook.py [-n 300] [--top 10] [--sql] [--timer cpu|wall]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--sql", action="store_true", help="also list the SQL statements of one run")
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--dump", help="also write the profile to this file (pstats format)")
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="sy-profile-")
    os.environ.setdefault("SWITCHYARD_STATE_DIR", state)
    os.environ.setdefault("SQLITE_PATH", str(Path(state) / "profile.sqlite3"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOW_PRIVATE_OUTBOUND", "true")
    # As under `manage.py serve` (its web processes pool PostgreSQL connections).
    os.environ.setdefault("DB_POOL", "true")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from bench.compare_n8n import peer_workflow
    from workflows import services
    from workflows.triggers.activation import activate_workflow
    from workflows.triggers.endpoints import active_triggers

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(f"profiler-{os.getpid()}-{time.time_ns()}", password="x")
    workspace = services.ensure_personal_workspace(user=user)
    nodes, edges = peer_workflow()
    doc = {"schema": "switchyard.workflow/1", "name": "peer", "nodes": nodes, "edges": edges}
    workflow = services.create_workflow(user=user, workspace=workspace, document=doc)
    workflow = activate_workflow(workflow=workflow)
    path = "/hooks/" + active_triggers(workflow)[0]["url"].rsplit("/", 1)[1]
    client = Client()
    body = json.dumps({"name": "widget", "amount": 150, "qty": 2}).encode()

    def once():
        res = client.post(path, body, content_type="application/json")
        assert res.status_code == 200, res.content

    # cProfile sees one thread: the peer workflow's nodes are all pure, so its runs are
    # advanced on the request thread itself (`runs.runner.InlineRunner.submit`).
    for _ in range(30):  # warm-up: caches, connections, imports
        once()
    from django.db import connection

    sent: list[str] = []

    def count(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        once()
    statements = [s for sql in sent for s in sql.split(";\n") if s.strip()]
    print(f"SQL of one run: {len(statements)} statements in {len(sent)} round trips")
    if args.sql:
        for sql in statements:
            print("  " + " ".join(sql.split())[:150])
    server_cpu = _server_cpu(connection)
    cpu0, server0 = time.process_time(), server_cpu()
    for _ in range(args.n):
        once()
    cpu, server = time.process_time() - cpu0, server_cpu() - server0
    print(
        f"{args.n} runs without the profiler: {1000 * cpu / args.n:.2f} ms CPU/run in this process"
        + (
            f", {1000 * server / args.n:.2f} ms in the database server"
            if connection.vendor != "sqlite"
            else ""
        )
    )
    profiler = cProfile.Profile(time.process_time) if args.timer == "cpu" else cProfile.Profile()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    profiler.enable()
    for _ in range(args.n):
        once()
    profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_run = f"{1000 * cpu / args.n:.2f} ms CPU/run, {1000 * wall / args.n:.2f} ms wall/run"
    per_run += f"; profile timed in {args.timer} seconds"
    print(f"{args.n} runs: {per_run} (under the profiler; load average {os.getloadavg()[0]:.1f})")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
        print(f"\n--- top {args.top} by {key} ---")
        print(
            "\n".join(line for line in out.getvalue().splitlines() if line.strip())[-(args.top + 2) * 200 :]
        )
    return 0


def _server_cpu(connection):
    """CPU seconds so far of the PostgreSQL server processes serving this database (0 on
    SQLite): every backend connected to it, read from /proc (the server runs here)."""
    if connection.vendor != "postgresql":
        return lambda: 0.0
    tick = os.sysconf("SC_CLK_TCK")

    def total() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            pids = [row[0] for row in cursor.fetchall()]
        seconds = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds += (int(fields[11]) + int(fields[12])) / tick
        return seconds

    return total


if __name__ == "__main__":
    sys.exit(main())
