"""Engine benchmarks through the whole product stack. Prints figures; asserts no timings.

    .venv/bin/python bench/engine.py [--setup sqlite|postgres|both] [--quick]

For each setup — `sqlite` (embedded: SQLite + Django-Q ORM broker + in-memory channel
layer) and `postgres` (PostgreSQL + Redis broker/channel layer, from $BENCH_DATABASE_URL /
$BENCH_REDIS_URL, default postgres://postgres@127.0.0.1:5432/test and
redis://127.0.0.1:6379/0) — it creates a fresh, migrated, demo-loaded database with the
e2e harness (`bench/_harness.py`), measures, and drops it (temp dirs are removed too).

1. Engine overhead per node, full stack. A child process (`--inproc`, Django set up on the
   bench database, no server running) creates the workflows, then per run calls
   `runs.services.start_run(..., enqueue=False)` and times `runs.tasks.execute_run(run_id)`
   (lease, heartbeat, OrmStore: every node's input/output saved, events, logs). Workflows:
   a 100-node chain of `data.transform`, and trigger -> 50 parallel transforms ->
   `logic.merge` -> sink (53 nodes). Figure: median over the repeats of wall time / node
   count (µs/node), with min-max spread; the same documents on the in-memory store
   (bench/engine_core.py's `measure`) for comparison. `--profile` (with `--inproc`) also prints
   a cProfile of one chain run to stderr.
2. Latency of a 3-node workflow (trigger -> transform -> transform) through a real
   `manage.py serve` (2 workers): sequential POST /execute {"wait": true}; reports the
   client-side round trip (the waiting request executes the queued run in the web process
   when no worker took it yet, see runs.runner.wait_for_run) and,
   from the returned run, created_at->started_at (queue), started_at->completed_at
   (execution) and created_at->completed_at; p50/p95/p99.
3. Sustained throughput: N POST /execute {"wait": false} of the same workflow from a pool
   of 16 client threads (keep-alive connections), then wait (SQL count) until all are
   terminal; runs/s = completed runs / (first POST -> last completed_at), and how many did
   not complete (failed POSTs included).

Noise: nproc, os.getloadavg() before and after each measurement, repeat spreads. Other work
on the machine skews every figure; compare load averages before reading much into them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import Server, drop_server, make_server  # noqa: E402
from bench.engine_core import SCHEMA, chain_doc  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TERMINAL = ("completed", "partial", "failed", "cancelled")
TARGETS = {"overhead": 2000.0, "p50": {"sqlite": 100.0, "postgres": 30.0}, "rps": {"postgres": 150.0}}


def fan_doc(width: int) -> dict:
    """trigger -> `width` parallel transforms -> logic.merge -> transform sink."""
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [
        {"id": f"p{i}", "type": "data.transform", "config": {"set": {f"k{i}": f"{{{{ input.seed + {i} }}}}"}}}
        for i in range(width)
    ]
    nodes += [
        {"id": "join", "type": "logic.merge"},
        {"id": "end", "type": "data.transform", "config": {"set": {"done": "{{ input.k0 }}"}}},
    ]
    edges = [{"source": "start", "target": f"p{i}"} for i in range(width)]
    edges += [{"source": f"p{i}", "target": "join"} for i in range(width)] + [
        {"source": "join", "target": "end"}
    ]
    return {"schema": SCHEMA, "name": f"bench fan {width}", "nodes": nodes, "edges": edges}


def docs() -> dict[str, dict]:
    return {
        "100-node chain": {**chain_doc(100, "transform"), "name": "bench chain 100"},
        "50-wide fan-out/in": fan_doc(50),
    }


def three_nodes() -> dict:
    return {
        "schema": SCHEMA,
        "name": "bench 3 nodes",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "a", "type": "data.transform", "config": {"set": {"a": "{{ input.seed + 1 }}"}}},
            {"id": "b", "type": "data.transform", "config": {"set": {"b": "{{ input.a * 2 }}"}}},
        ],
        "edges": [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}],
    }


def pct(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def spread(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def ts(value) -> datetime:
    """A timestamp from the API (ISO string) or either database (datetime or SQLite text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- 1. in-process, full stack (child process with Django set up) -------------------------


def inproc_main(repeat: int, profile: bool) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from runs.services import start_run
    from runs.tasks import execute_run
    from workflows.models import Workspace
    from workflows.services import create_workflow

    user = get_user_model().objects.get(username="demo")
    workspace = Workspace.objects.filter(memberships__user=user).first()
    result = {}
    for label, doc in docs().items():
        workflow = create_workflow(user=user, workspace=workspace, document=doc)
        count, samples, starts = len(doc["nodes"]), [], []
        profiler = None
        for i in range(repeat + 1):  # the first run warms caches and is not counted
            t0 = time.perf_counter()
            run = start_run(workflow=workflow, input={"seed": 1}, mode="test", enqueue=False)
            t1 = time.perf_counter()
            if profile and i == 1 and label.endswith("chain"):
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            status = execute_run(str(run.id))
            elapsed = time.perf_counter() - t1
            if profiler:
                profiler.disable()
                import pstats

                for key in ("tottime", "cumulative"):
                    pstats.Stats(profiler, stream=sys.stderr).sort_stats(key).print_stats(25)
                profiler = None
            if status != "completed":
                raise SystemExit(f"{label}: run {run.id} ended {status}")
            if i:
                samples.append(elapsed / count * 1e6)
                starts.append((t1 - t0) * 1e3)
        result[label] = {
            "nodes": count,
            "us_per_node": spread(samples),
            "start_run_ms": statistics.median(starts),
        }
    print(json.dumps(result))


def in_memory_figures(repeat: int) -> dict[str, float]:
    from bench.engine_core import make_registry, measure

    registry = make_registry()
    return {label: measure(doc, registry, repeat) for label, doc in docs().items()}


def full_stack(server: Server, repeat: int) -> dict:
    env = {**server.env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, __file__, "--inproc", "--repeat", str(repeat)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode:
        raise RuntimeError(f"in-process bench failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- 2, 3. through the real server --------------------------------------------------------


class Client:
    """One keep-alive HTTP connection per thread."""

    def __init__(self, server: Server):
        self.server, self.local = server, threading.local()

    def call(self, method: str, path: str, body=None, timeout: float = 60) -> tuple[int, dict]:
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.server.port, timeout=timeout
                )
            try:
                conn.request(
                    method,
                    path,
                    body=None if body is None else json.dumps(body),
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": f"Token {self.server.token}",
                    },
                )
                resp = conn.getresponse()
                return resp.status, json.loads(resp.read() or b"null")
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def latency(server: Server, workflow_id: str, count: int, warmup: int = 20) -> dict:
    client = Client(server)
    rows = []
    for i in range(warmup + count):
        t0 = time.perf_counter()
        code, run = client.call(
            "POST",
            f"/api/v1/workflows/{workflow_id}/execute",
            {"input": {"seed": i}, "wait": True, "timeout_s": 60},
        )
        e2e = (time.perf_counter() - t0) * 1e3
        if code != 200 or run.get("status") != "completed":
            raise RuntimeError(f"execute answered {code}: {str(run)[:500]}\n{server.logs()}")
        if i >= warmup:
            created, started, done = ts(run["created_at"]), ts(run["started_at"]), ts(run["completed_at"])
            rows.append(
                (
                    e2e,
                    (started - created).total_seconds() * 1e3,
                    (done - started).total_seconds() * 1e3,
                    (done - created).total_seconds() * 1e3,
                )
            )
    names = (
        "client POST wait=true",
        "queue created->started",
        "exec started->completed",
        "created->completed",
    )
    return {name: pct([r[k] for r in rows]) for k, name in enumerate(names)}


class RunCounter:
    """Counts a workflow's runs by status straight from the server's database, on one
    connection opened up front (a saturated server must not starve the measurement)."""

    def __init__(self, server: Server, workflow_id: str):
        if server.pg_db:
            import psycopg

            self.conn = psycopg.connect(server.env["DATABASE_URL"].split("?")[0], autocommit=True)
            self.wf, self.mark = workflow_id, "%s"
        else:
            import sqlite3

            self.conn = sqlite3.connect(server.env["SQLITE_PATH"], timeout=30)
            self.wf, self.mark = uuid.UUID(workflow_id).hex, "?"  # SQLite stores UUIDs as hex

    def __call__(self) -> tuple[dict[str, int], datetime | None]:
        rows = self.conn.execute(
            "SELECT status, COUNT(*), MAX(completed_at) FROM runs_workflowrun "
            f"WHERE workflow_id = {self.mark} GROUP BY status",
            (self.wf,),
        ).fetchall()
        if not self.conn.__class__.__module__.startswith("psycopg"):
            self.conn.commit()  # end the read transaction: see new commits next time
        last = [ts(r[2]) for r in rows if r[2] is not None]
        return {r[0]: r[1] for r in rows}, max(last) if last else None


def throughput(
    server: Server, workflow_id: str, count: int, threads: int = 16, timeout_s: float = 900
) -> dict:
    client, counter = Client(server), RunCounter(server, workflow_id)
    errors: list[str] = []

    def post(i: int) -> None:
        try:
            code, body = client.call(
                "POST", f"/api/v1/workflows/{workflow_id}/execute", {"input": {"seed": i}}
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            code, body = 0, repr(exc)
        if code != 202:
            errors.append(f"{code} {str(body)[:160]}")

    first_post = datetime.now(UTC)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(count)))
    posted_s = time.perf_counter() - t0
    deadline = time.monotonic() + timeout_s
    while True:
        counts, last = counter()
        if sum(counts.get(s, 0) for s in TERMINAL) >= sum(counts.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    client_s = time.perf_counter() - t0
    counter.conn.close()
    done = counts.get("completed", 0)
    span = (last - first_post).total_seconds() if last else float("nan")
    return {
        "runs": count,
        "posted_in_s": posted_s,
        "span_s": span,
        "rps": done / span,
        "client_rps": done / client_s,
        "counts": counts,
        "post_errors": len(errors),
        "not_completed": count - done,
        "error_sample": sorted(set(errors))[:2],
    }


# -- driver -------------------------------------------------------------------------------


def setup_env(setup: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    if setup == "postgres":
        env.update(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL)
    return env


def bench_setup(setup: str, n: dict, mem: dict) -> dict:
    print(
        f"\n=== {setup}: "
        + (
            "SQLite + Django-Q ORM broker"
            if setup == "sqlite"
            else f"PostgreSQL + Redis ({PG_URL}, {REDIS_URL})"
        )
        + " ===",
        flush=True,
    )
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix=f"bench-{setup}-") as tmp:
        server = make_server(Path(tmp), base_env=setup_env(setup))
        try:
            before = load()
            out["overhead"] = full_stack(server, n["repeat"])
            print(
                f"1. engine overhead per node, full stack (execute_run, ORM store), {n['repeat']} runs "
                f"after 1 warm-up [load {before} -> {load()}]"
            )
            for label, r in out["overhead"].items():
                s = r["us_per_node"]
                print(
                    f"   {label:20s} {r['nodes']:3d} nodes  median {s['median']:7.0f} µs/node  "
                    f"(min {s['min']:.0f}, max {s['max']:.0f})  in-memory {mem[label]:5.0f} µs/node  "
                    f"start_run {r['start_run_ms']:.1f} ms  target <= {TARGETS['overhead']:.0f}"
                )
            server.start()
            doc = {k: v for k, v in three_nodes().items() if k != "schema"}
            wf = server.create_workflow(**doc)
            before = load()
            out["latency"] = latency(server, wf, n["latency"])
            print(
                f"2. latency, 3-node workflow, {n['latency']} sequential runs (+20 warm-up) "
                f"[load {before} -> {load()}]   target p50 <= {TARGETS['p50'][setup]:.0f} ms"
            )
            for name, (p50, p95, p99) in out["latency"].items():
                print(f"   {name:26s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms")
            before = load()
            out["throughput"] = t = throughput(
                server, server.create_workflow(**doc), n["runs"]
            )  # own run list
            target = TARGETS["rps"].get(setup)
            print(
                f"3. throughput, {t['runs']} runs of the 3-node workflow, 16 client threads "
                f"[load {before} -> {load()}]" + (f"   target >= {target:.0f} runs/s" if target else "")
            )
            print(
                f"   {t['rps']:.1f} runs/s (first POST -> last completed_at {t['span_s']:.2f} s; all "
                f"POSTs sent in "
                f"{t['posted_in_s']:.2f} s = {t['runs'] / t['posted_in_s']:.0f}/s; client-observed "
                f"{t['client_rps']:.1f} runs/s)"
            )
            print(
                f"   statuses {t['counts']}  not completed: {t['not_completed']}  POST errors: "
                f"{t['post_errors']} "
                f"{t['error_sample'] or ''}"
            )
            if t["post_errors"] and server.log_path:
                causes = [ln for ln in server.log_path.read_text().splitlines() if "OperationalError" in ln]
                print(
                    f"   server log, {len(causes)} OperationalError lines, e.g.: "
                    f"{causes[-1][:200] if causes else '-'}"
                )
        finally:
            drop_server(server)
    return out


def table(results: dict, mem: dict) -> None:
    print(f"\n=== summary (nproc {os.cpu_count()}, load {load()}) ===")
    print(f"{'setup':9s} {'figure':40s} {'value':>12s} {'target':>10s}")
    for label, us in mem.items():
        print(f"{'memory':9s} {'overhead ' + label:40s} {us:9.0f} µs {'<= 2000':>10s}")
    for setup, r in results.items():
        for label, o in r.get("overhead", {}).items():
            print(
                f"{setup:9s} {'overhead ' + label:40s} {o['us_per_node']['median']:9.0f} µs {'<= 2000':>10s}"
            )
        if "latency" in r:
            for name in ("client POST wait=true", "created->completed"):
                p50, p95, p99 = r["latency"][name]
                tgt = f"<= {TARGETS['p50'][setup]:.0f}" if name.startswith("client") else ""
                print(
                    f"{setup:9s} {'p50/p95/p99 ' + name:40s} {p50:4.0f}/{p95:3.0f}/{p99:3.0f} ms {tgt:>10s}"
                )
        if "throughput" in r:
            t = r["throughput"]
            tgt = f">= {TARGETS['rps'][setup]:.0f}" if setup in TARGETS["rps"] else ""
            label = f"runs/s ({t['runs']} runs, {t['not_completed']} not completed)"
            print(f"{setup:9s} {label:40s} {t['rps']:9.1f}/s {tgt:>10s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--inproc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="with --inproc: cProfile one chain run")
    parser.add_argument("--repeat", type=int, default=None, help="runs per in-process measurement")
    args = parser.parse_args()
    n = (
        {"repeat": 3, "latency": 50, "runs": 200}
        if args.quick
        else {"repeat": 9, "latency": 500, "runs": 2000}
    )
    if args.repeat:
        n["repeat"] = args.repeat
    if args.inproc:
        return inproc_main(n["repeat"], args.profile)
    started = time.monotonic()
    print(
        f"bench/engine.py  nproc {os.cpu_count()}  load {load()}  python {sys.version.split()[0]}  "
        f"{'quick' if args.quick else 'full'} counts {n}"
    )
    mem = in_memory_figures(n["repeat"])
    results = {}
    for setup in ("sqlite", "postgres") if args.setup == "both" else (args.setup,):
        results[setup] = bench_setup(setup, n, mem)
    table(results, mem)
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
