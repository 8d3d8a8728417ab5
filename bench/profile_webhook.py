"""Where a webhook run's CPU goes, in one process: cProfile over N `respond: on_completion`
requests to the peer's 6-node workflow (bench/compare_n8n.py), through Django's request
handler (no daphne, no network; the run's pool work done on the request thread, which cProfile
sees), on a fresh SQLite database (or $DATABASE_URL). Prints the
CPU per run and the top costs by own time and by cumulative time. Figures, no assertions.

    .venv/bin/python bench/profile_webhook.py [-n 300] [--top 10] [--sql]
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
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="sy-profile-")
    os.environ.setdefault("SWITCHYARD_STATE_DIR", state)
    os.environ.setdefault("SQLITE_PATH", str(Path(state) / "profile.sqlite3"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOW_PRIVATE_OUTBOUND", "true")
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

    user = get_user_model().objects.create_user("profiler", password="x")
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

    # cProfile sees one thread: the in-process run pool's work is done on the request thread
    # (the same code, minus the hand-over), so the profile covers request and run alike.
    from concurrent.futures import Future

    from runs.runner import inline

    def submit_here(run, owner):
        future = Future()
        future.set_result(inline._advance(run, owner))
        return future

    inline.submit = submit_here

    for _ in range(30):  # warm-up: caches, connections, imports
        once()
    if args.sql:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            once()
        print(f"--- the SQL of one run: {len(queries)} statements ---")
        for query in queries:
            print("  " + " ".join(query["sql"].split())[:150])
    profiler = cProfile.Profile()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    profiler.enable()
    for _ in range(args.n):
        once()
    profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_run = f"{1000 * cpu / args.n:.2f} ms CPU/run, {1000 * wall / args.n:.2f} ms wall/run"
    print(f"{args.n} runs: {per_run} (under the profiler; load average {os.getloadavg()[0]:.1f})")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(args.top)
        print(f"\n--- top {args.top} by {key} ---")
        print(
            "\n".join(line for line in out.getvalue().splitlines() if line.strip())[-(args.top + 2) * 200 :]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
