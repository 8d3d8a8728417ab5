"""Side by side with a real n8n: the same 6-node webhook workflow, the same load, one run.

    .venv/bin/python bench/compare_n8n.py [--setup sqlite|postgres] [--quick] [--n8n-url URL]
        [--concurrency 1,8,16] [--no-peer]

The workflow is ../shared/peers/n8n/workflow_peer_bench.json (Webhook -> Set -> IF -> Set /
Set -> Set, answering with the last node's output), rebuilt here in our interchange format
(`peer_workflow()`): trigger.webhook (`respond: on_completion`) -> data.transform "compute"
-> logic.if "amount > 100" -> data.transform "high" / "low" -> data.transform "respond".
Both systems get the load of ../shared/peers/n8n/load.py (bench/_load.py's `drive`: threads,
one keep-alive connection each, body {"name", "amount", "qty"} with the amount alternating
around 100 so both branches run): a warm-up, then N requests at concurrency 1 and 8 (the
concurrencies the peer's own run_bench.sh uses) and 16 (the throughput target's), each
repeated (`--concurrency` picks others). Printed: answers/s, client
latency p50/p95/p99, server CPU per run (ours: every `serve` process; n8n: its process and
children, when its pid is known), that both answered the same body for the same request,
and the ratios ours / n8n.

n8n: reached at --n8n-url (default $N8N_URL or http://127.0.0.1:5678) on the webhook path
--n8n-path (default /webhook/peer-bench). If that path does not answer yet and $N8N_API_KEY
is set, the workflow JSON is created and activated through n8n's public API first. With no
n8n answering, or with --no-peer, it prints our figures alone. Ours: a fresh database and our own
`serve` (bench/_harness.py), SQLite by default (n8n's default store is SQLite too).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import drop_server, make_server  # noqa: E402
from bench._load import client_ceiling, cpu_seconds, default_body, drive, load  # noqa: E402
from bench.engine import setup_env  # noqa: E402
from bench.webhooks import activate, server_cpu_s  # noqa: E402

PEER_DIR = ROOT.parent / "shared" / "peers" / "n8n"
N8N_PID_FILE = Path("/tmp/peers/n8n/n8n.pid")


def peer_workflow() -> tuple[list, list]:
    """workflow_peer_bench.json in our format (same fields, same branch, same answer)."""
    nodes = [
        {
            "id": "webhook",
            "type": "trigger.webhook",
            "name": "Webhook",
            "config": {"method": "POST", "respond": "on_completion"},
        },
        {
            "id": "compute",
            "type": "data.transform",
            "name": "Compute",
            "config": {
                "keep_input": False,
                "set": {
                    "name": "{{ input.body.name }}",
                    "amount": "{{ input.body.amount }}",
                    "total": "{{ input.body.amount * (input.body.qty + 1) }}",
                    "tag": "{{ input.body.name | string | upper }}",
                },
            },
        },
        {
            "id": "amount_over_100",
            "type": "logic.if",
            "name": "Amount > 100",
            "config": {"condition": {"left": "{{ input.amount }}", "op": "gt", "right": 100}},
        },
        # Math.round for the positive totals here: floor(x + 0.5)
        {
            "id": "high",
            "type": "data.transform",
            "name": "High",
            "config": {"set": {"tier": "high", "discount": "{{ (input.total * 0.1 + 0.5) | int }}"}},
        },
        {
            "id": "low",
            "type": "data.transform",
            "name": "Low",
            "config": {"set": {"tier": "low", "discount": "{{ 0 }}"}},
        },
        {
            "id": "respond",
            "type": "data.transform",
            "name": "Respond",
            "config": {"set": {"ok": "{{ true }}", "net": "{{ input.total - input.discount }}"}},
        },
    ]
    edges = [
        {"source": "webhook", "target": "compute"},
        {"source": "compute", "target": "amount_over_100"},
        {"source": "amount_over_100", "source_handle": "true", "target": "high"},
        {"source": "amount_over_100", "source_handle": "false", "target": "low"},
        {"source": "high", "target": "respond"},
        {"source": "low", "target": "respond"},
    ]
    return nodes, edges


# -- n8n ---------------------------------------------------------------------------------------


def _post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def n8n_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=3) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def ensure_n8n_workflow(url: str, port: int, path: str) -> str | None:
    """None when the webhook answers (after creating it through the API if need be), else why not."""
    status, _ = _post(port, path, default_body(1))
    if status == 200:
        return None
    key = os.environ.get("N8N_API_KEY")
    if not key:
        return (
            f"n8n answers, but {path} gave {status}; set N8N_API_KEY to let this script create the workflow"
        )
    doc = json.loads((PEER_DIR / "workflow_peer_bench.json").read_text())

    def api(method: str, api_path: str, body=None):
        req = urllib.request.Request(
            url + api_path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-N8N-API-KEY": key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    created = api(
        "POST", "/api/v1/workflows", {k: doc[k] for k in ("name", "nodes", "connections", "settings")}
    )
    api("POST", f"/api/v1/workflows/{created['id']}/activate")
    time.sleep(1)
    status, body = _post(port, path, default_body(1))
    return None if status == 200 else f"{path} still answers {status} after activation: {body[:200]!r}"


def n8n_cpu_s() -> float | None:
    try:
        pid = int(N8N_PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    return cpu_seconds(lambda p, fields: p == pid or int(fields[1]) == pid)  # n8n and its task runners


# -- the comparison --------------------------------------------------------------------------


def measure(name: str, port: int, path: str, n: int, concurrency: int, repeat: int, cpu) -> dict:
    drive(port, path, 100, 2)  # warm-up, as run_bench.sh does
    reps = []
    for _ in range(repeat):
        before_load, cpu0 = load(), cpu()
        res = drive(port, path, n, concurrency, keep_samples=3)
        cpu1 = cpu()
        reps.append(
            {
                "rps": res.statuses.get(200, 0) / res.wall_s,
                "p": res.pct(),
                "ok": res.statuses.get(200, 0),
                "statuses": dict(res.statuses),
                "errors": res.errors[:2],
                "cpu_ms": (cpu1 - cpu0) / max(res.ok, 1) * 1e3
                if cpu0 is not None and cpu1 is not None
                else None,
                "load": f"{before_load} -> {load()}",
                "samples": res.samples,
            }
        )
        r = reps[-1]
        print(
            f"   {name:10s} c={concurrency}: {r['ok']}/{n} 200  {r['rps']:7.1f} runs/s  p50 "
            f"{r['p'][0]:6.1f}  "
            f"p95 {r['p'][1]:6.1f}  p99 {r['p'][2]:6.1f} ms  cpu "
            + (f"{r['cpu_ms']:5.1f} ms/run" if r["cpu_ms"] is not None else "   ? ms/run")
            + f"  [load {r['load']}]"
            + (f"  {r['statuses']} {r['errors']}" if r["ok"] != n else ""),
            flush=True,
        )
    return {
        "rps": statistics.median(r["rps"] for r in reps),
        "rps_all": [r["rps"] for r in reps],
        "p": tuple(statistics.median(r["p"][k] for r in reps) for k in range(3)),
        "cpu_ms": statistics.median(r["cpu_ms"] for r in reps) if reps[0]["cpu_ms"] is not None else None,
        "samples": reps[0]["samples"],
    }


def same_answers(ours: dict, theirs: dict) -> str:
    a = {i: body for i, status, body in ours["samples"] if status == 200}
    b = {i: body for i, status, body in theirs["samples"] if status == 200}
    common = sorted(set(a) & set(b))
    if not common:
        return "no common request to compare"
    diff = [i for i in common if json.loads(a[i]) != json.loads(b[i])]
    return (
        f"same answer body for {len(common)} common requests"
        if not diff
        else f"DIFFERENT answers for request {diff[0]}: ours {a[diff[0]][:200]!r}, n8n {b[diff[0]][:200]!r}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=None, help="requests per measurement")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--n8n-url", default=os.environ.get("N8N_URL", "http://127.0.0.1:5678"))
    parser.add_argument("--n8n-path", default="/webhook/peer-bench")
    parser.add_argument("--serve-arg", action="append", default=[])
    parser.add_argument(
        "--concurrency",
        default="1,8,16",
        type=lambda text: [int(c) for c in text.split(",") if c],
        help="comma-separated client concurrencies (default 1,8,16)",
    )
    parser.add_argument("--no-peer", action="store_true", help="measure ours alone (no n8n probed)")
    args = parser.parse_args()
    n = args.requests or (200 if args.quick else 1000)
    repeat = args.repeat or (1 if args.quick else 3)
    print(
        f"bench/compare_n8n.py  nproc {os.cpu_count()}  load {load()}  {n} requests x {repeat} per "
        f"measurement, "
        f"our setup: {args.setup}"
    )
    print(
        "client ceiling (same load function, do-nothing server): "
        + ", ".join(f"c={c} {client_ceiling(c, 2000):.0f}/s" for c in args.concurrency),
        flush=True,
    )
    n8n_port = int(args.n8n_url.rsplit(":", 1)[1].split("/")[0])
    if args.no_peer:
        why_not = "--no-peer"
    else:
        why_not = None if n8n_ready(args.n8n_url) else f"no n8n answers at {args.n8n_url}"
    if why_not is None:
        why_not = ensure_n8n_workflow(args.n8n_url, n8n_port, args.n8n_path)
    if why_not:
        print(f"n8n: {why_not} -- printing ours only (see ../shared/peers/n8n/README.md to start one)")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-n8n-") as tmp:
        server = make_server(Path(tmp), base_env=setup_env(args.setup))
        try:
            server.start(serve_args=args.serve_arg)
            nodes, edges = peer_workflow()
            _, path = activate(server, nodes, edges, "peer-bench: webhook -> set -> if -> set/set -> respond")
            for conc in args.concurrency:
                results[("ours", conc)] = measure(
                    "switchyard", server.port, path, n, conc, repeat, lambda: server_cpu_s(server)
                )
                if not why_not:
                    results[("n8n", conc)] = measure(
                        "n8n", n8n_port, args.n8n_path, n, conc, repeat, n8n_cpu_s
                    )
        finally:
            drop_server(server)
    print(f"\n=== summary: median of {repeat} (nproc {os.cpu_count()}, load {load()}) ===")
    print(
        f"{'system':11s} {'c':>2s} {'runs/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} "
        f"{'cpu ms/run':>10s}"
    )
    for (system, conc), r in results.items():
        cpu = f"{r['cpu_ms']:10.1f}" if r["cpu_ms"] is not None else f"{'?':>10s}"
        print(
            f"{system:11s} {conc:2d} {r['rps']:8.1f} {r['p'][0]:8.1f} {r['p'][1]:8.1f} {r['p'][2]:8.1f} {cpu}"
        )
    if why_not:
        print(f"(no n8n figures: {why_not})")
        return 0
    for conc in args.concurrency:
        ours, theirs = results[("ours", conc)], results[("n8n", conc)]
        cpu = (
            f", CPU per run n8n/ours {theirs['cpu_ms'] / ours['cpu_ms']:.1f}x"
            if ours["cpu_ms"] and theirs["cpu_ms"]
            else ""
        )
        print(
            f"ratio at c={conc}: runs/s ours/n8n {ours['rps'] / theirs['rps']:.1f}x, "
            f"p50 n8n/ours {theirs['p'][0] / ours['p'][0]:.1f}x, p99 n8n/ours "
            f"{theirs['p'][2] / ours['p'][2]:.1f}x"
            f"{cpu}; {same_answers(ours, theirs)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
