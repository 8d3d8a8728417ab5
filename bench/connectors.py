"""Connector executor overhead against bare HTTP calls. Prints figures; asserts nothing.

    .venv/bin/python bench/connectors.py [--setup sqlite|postgres|both] [--quick] [--repeat N] [--profile]

For each setup — `sqlite` (a throwaway SQLite file) and `postgres` (a throwaway database on
$BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test) — the e2e harness
(`bench/_harness.py`) creates a fresh migrated database, then a child process with Django
set up on it (`--inproc`) starts a threaded HTTP/1.1 keep-alive server on 127.0.0.1 and
measures, in the same run and interleaved per repeat:

1. Single step: N executions of a one-step connector (GET with a bearer token from a
   workspace credential) through `connectors.services.execute_connector` — the code path of
   `POST /api/v1/connectors/{id}/execute {"wait": true}`: the ConnectorExecution row, the
   credential resolution with its CredentialAccess audit row, the request, masking, the
   stored steps/output and the statistics update — versus N bare `requests.Session().get()`
   calls (`.json()` read) against the same server. Figures: µs per call for each, the ratio
   (target <= 1.3x) and the overhead per call (executor − bare).
2. Three-step chain (each step reads the previous step's response in its URL): per
   execution versus three bare calls; overhead per step = (chain − 3 × bare) / 3.

Each figure is the median over the repeats, with min and max; every repeat runs N calls
after a warm-up. `--profile` prints a cProfile of single-step executions to stderr.
Noise: the load average is printed before and after; other work on the machine skews
every figure, and both sides share one process with the HTTP server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import drop_server, make_server  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
TARGET_RATIO = 1.3
TOKEN = "bench-token-0b6e1f"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def spread(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


# -- the local API ------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API would offer
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    body = json.dumps({"id": 42, "n": 1, "name": "Ada Lovelace", "plan": "pro"}).encode()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


def start_api() -> tuple[ThreadingHTTPServer, str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


# -- in the child: Django set up on the bench database ------------------------------------


def inproc_main(calls: int, repeat: int, profile: bool) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import requests
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from connectors.models import ConnectorExecution, CredentialAccess
    from connectors.services import create_connector, create_credential, execute_connector
    from workflows.services import ensure_personal_workspace

    settings.ALLOW_PRIVATE_OUTBOUND = True
    httpd, base = start_api()
    user = get_user_model().objects.create_user("bench-connectors", password="x")
    workspace = ensure_personal_workspace(user=user)
    create_credential(workspace=workspace, name="api_token", kind="bearer", data={"token": TOKEN})
    auth = {"type": "bearer", "token": "{{ workspace.api_token }}"}
    single = create_connector(
        workspace=workspace,
        name="bench single",
        timeout_ms=5000,
        config={"url": f"{base}/users", "queryParams": {"i": "{{ input.i }}"}, "auth": auth},
    )
    chain = create_connector(
        workspace=workspace,
        name="bench chain",
        timeout_ms=5000,
        config={
            "steps": [
                {"name": "a", "url": f"{base}/users", "queryParams": {"i": "{{ input.i }}"}, "auth": auth},
                {"name": "b", "url": f"{base}/users/{{{{ steps.a.id }}}}", "auth": auth},
                {"name": "c", "url": f"{base}/users/{{{{ steps.b.id }}}}/plan", "auth": auth},
            ]
        },
    )
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def bare(n: int, per: int) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            for _ in range(per):
                session.get(f"{base}/users", params={"i": i}, headers=headers, timeout=5).json()
        return (time.perf_counter() - t0) / n * 1e6

    def executor(connector, n: int) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            execution = execute_connector(connector=connector, input={"i": i}, user=user)
            if execution.status != "completed":
                raise SystemExit(
                    f"{connector.name}: execution {execution.pk} ended {execution.status}: {execution.error}"
                )
        return (time.perf_counter() - t0) / n * 1e6

    warm = max(20, calls // 20)
    bare(warm, 1)
    executor(single, warm)
    executor(chain, warm)
    samples: dict[str, list[float]] = {"bare": [], "single": [], "bare3": [], "chain": []}
    for _ in range(repeat):  # interleaved so drift hits both sides alike
        samples["bare"].append(bare(calls, 1))
        samples["single"].append(executor(single, calls))
        samples["bare3"].append(bare(calls // 3, 3))
        samples["chain"].append(executor(chain, calls // 3))
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        executor(single, calls)
        profiler.disable()
        for key in ("tottime", "cumulative"):
            pstats.Stats(profiler, stream=sys.stderr).sort_stats(key).print_stats(30)
    single.refresh_from_db()
    result = {
        "figures": {k: spread(v) for k, v in samples.items()},
        "ratios": [s / b for s, b in zip(samples["single"], samples["bare"], strict=True)],
        "chain_overhead_per_step": [
            (c - b3) / 3 for c, b3 in zip(samples["chain"], samples["bare3"], strict=True)
        ],
        "single_overhead": [s - b for s, b in zip(samples["single"], samples["bare"], strict=True)],
        "records": ConnectorExecution.objects.count(),
        "audit_rows": CredentialAccess.objects.count(),
        "statistics": single.total_executions,
    }
    httpd.shutdown()
    print(json.dumps(result))


# -- driver ---------------------------------------------------------------------------------


def setup_env(setup: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    if setup == "postgres":
        env["DATABASE_URL"] = PG_URL
    return env


def bench_setup(setup: str, calls: int, repeat: int, profile: bool) -> dict:
    print(
        f"\n=== {setup}: "
        + ("throwaway SQLite file" if setup == "sqlite" else f"throwaway database on {PG_URL}")
        + " ===",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix=f"bench-connectors-{setup}-") as tmp:
        server = make_server(Path(tmp), base_env=setup_env(setup))  # migrated database; not started
        try:
            env = {**server.env, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_LEVEL": "WARNING"}
            before = load()
            args = [sys.executable, __file__, "--inproc", "--calls", str(calls), "--repeat", str(repeat)]
            out = subprocess.run(
                args + (["--profile"] if profile else []),
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=3600,
            )
            if profile:
                sys.stderr.write(out.stderr)
            if out.returncode:
                raise RuntimeError(f"in-process bench failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            drop_server(server)
    f = r["figures"]
    ratio, chain_step, overhead = (
        spread(r["ratios"]),
        spread(r["chain_overhead_per_step"]),
        spread(r["single_overhead"]),
    )
    print(
        f"{repeat} repeats of {calls} calls (chain: {calls // 3} executions) [load {before} -> {load()}]; "
        f"{r['records']} execution records, {r['audit_rows']} audit rows, statistics count {r['statistics']}"
    )
    print(f"   {'figure':44s} {'median':>10s} {'min':>10s} {'max':>10s}")
    rows = [
        ("bare requests.Session GET (µs/call)", f["bare"]),
        ("connector, 1 step, executor (µs/execution)", f["single"]),
        ("  overhead per call (µs)", overhead),
        ("3 bare GETs (µs)", f["bare3"]),
        ("connector, 3 steps, executor (µs/execution)", f["chain"]),
        ("  overhead per step (µs)", chain_step),
    ]
    for label, s in rows:
        print(f"   {label:44s} {s['median']:10.0f} {s['min']:10.0f} {s['max']:10.0f}")
    print(
        f"   {'ratio executor / bare, 1 step':44s} {ratio['median']:10.2f} {ratio['min']:10.2f} "
        f"{ratio['max']:10.2f}"
        f"   target <= {TARGET_RATIO}"
    )
    return {
        "ratio": ratio,
        "overhead": overhead,
        "chain_step": chain_step,
        "bare": f["bare"],
        "single": f["single"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per figure")
    parser.add_argument("--calls", type=int, default=None, help="calls per repeat (default 1000; quick 150)")
    parser.add_argument("--profile", action="store_true", help="cProfile single-step executions (stderr)")
    parser.add_argument("--inproc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    calls = args.calls or (150 if args.quick else 1000)
    repeat = args.repeat or (2 if args.quick else 5)
    if args.inproc:
        return inproc_main(calls, repeat, args.profile)
    started = time.monotonic()
    print(
        f"bench/connectors.py  nproc {os.cpu_count()}  load {load()}  python {sys.version.split()[0]}  "
        f"{'quick' if args.quick else 'full'}: {calls} calls x {repeat} repeats"
    )
    results = {
        setup: bench_setup(setup, calls, repeat, args.profile)
        for setup in (("sqlite", "postgres") if args.setup == "both" else (args.setup,))
    }
    print(f"\n=== summary (nproc {os.cpu_count()}, load {load()}) ===")
    print(
        f"{'setup':9s} {'bare µs':>9s} {'1-step µs':>10s} {'ratio':>7s} {'target':>8s} "
        f"{'overhead µs/call':>17s} "
        f"{'chain overhead µs/step':>23s}"
    )
    for setup, r in results.items():
        print(
            f"{setup:9s} {r['bare']['median']:9.0f} {r['single']['median']:10.0f} "
            f"{r['ratio']['median']:7.2f} "
            f"{'<= ' + str(TARGET_RATIO):>8s} {r['overhead']['median']:17.0f} "
            f"{r['chain_step']['median']:23.0f}"
        )
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
