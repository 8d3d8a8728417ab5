"""Builder speed in a real browser (Debian's Chromium via Playwright): time to interactive of
`/workflows/<id>/edit` with a 200-node workflow, and frame times while dragging a node.

Targets (issue 13): interactive <= 1.5 s, dragging >= 50 fps. Prints figures; asserts nothing.

    python bench/builder.py [--nodes 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import drop_server, make_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
READY = (
    "document.querySelectorAll('[data-node-id]').length > 0"
    " && !!document.querySelector('[data-testid=save-state]')"
)


def big_document(n: int, with_positions: bool) -> dict:
    """A trigger, then `n - 1` transforms: a spine with branches every few nodes."""
    nodes = [{"id": "start", "type": "trigger.manual", "name": "Start"}]
    edges = []
    for i in range(1, n):
        nodes.append({"id": f"t{i}", "type": "data.transform", "config": {"set": {f"f{i}": "{{ input.x }}"}}})
        parent = "start" if i == 1 else f"t{i - 1 if i % 4 else i - 3}"
        edges.append({"source": parent, "target": f"t{i}"})
    if with_positions:
        for i, node in enumerate(nodes):
            node["position"] = [(i // 10) * 260, (i % 10) * 100]
    return {"schema": "switchyard.workflow/1", "name": f"{n} nodes", "nodes": nodes, "edges": edges}


def measure_open(page, url: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        page.goto(url, wait_until="commit")
        page.wait_for_function(READY, timeout=30_000, polling="raf")
        times.append(page.evaluate("() => performance.now()"))
    return times


BREAKDOWN = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const end = (pred) => Math.max(0, ...res.filter(pred).map((r) => r.responseEnd));
  return {
    html: nav.responseEnd,
    bundle: end((r) => r.name.includes('/static/bundle/')),
    api: end((r) => r.name.includes('/api/v1/')),
    slowest_api: res.filter((r) => r.name.includes('/api/v1/'))
      .map((r) => [new URL(r.name).pathname.split('/').slice(3).join('/'), Math.round(r.duration)])
      .sort((a, b) => b[1] - a[1])[0],
  };
}"""


def measure_drag(page, steps: int = 150) -> dict:
    page.evaluate(
        """() => { window.__frames = []; let last = performance.now();
        const tick = (t) => {
          window.__frames.push(t - last); last = t;
          if (window.__recording) requestAnimationFrame(tick);
        };
        window.__recording = true; requestAnimationFrame(tick); }"""
    )
    box = page.locator('[data-node-id="start"]').bounding_box()
    x, y = box["x"] + 60, box["y"] + 20
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x + i * 2, y + (i % 40) * 2)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")
    page.mouse.up()
    frames = page.evaluate("() => { window.__recording = false; return window.__frames.slice(2); }")
    frames.sort()
    median = statistics.median(frames)
    p95 = frames[int(len(frames) * 0.95) - 1]
    return {"frames": len(frames), "median_ms": median, "p95_ms": p95, "fps": 1000 / median}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="switchyard-bench-builder-") as tmp:
        server = make_server(Path(tmp))
        server.start()
        try:
            ids = {}
            for label, positions in (
                ("saved positions", True),
                ("no positions (auto-layout on open)", False),
            ):
                status, body = server.call("POST", "/api/v1/workflows/", big_document(args.nodes, positions))
                assert status == 201, body
                ids[label] = body["id"]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                page.goto(f"{server.base}/accounts/login/")
                page.fill("input[name=username]", "demo")
                page.fill("input[name=password]", "switchyard-demo")
                page.click("button[type=submit], input[type=submit]")
                page.wait_for_url(f"{server.base}/")
                print(
                    f"builder with {args.nodes} nodes, Chromium headless, 1280x800, {args.repeat} opens each"
                )
                for label, wf_id in ids.items():
                    url = f"{server.base}/workflows/{wf_id}/edit"
                    measure_open(page, url, 1)  # warm the HTTP cache once, as a returning user
                    times = measure_open(page, url, args.repeat)
                    parts = page.evaluate(BREAKDOWN)
                    print(
                        f"  time to interactive, {label}: median {statistics.median(times):.0f} ms"
                        f" (min {min(times):.0f}, max {max(times):.0f}) · target <= 1500 ms"
                    )
                    print(
                        f"    last open: HTML by {parts['html']:.0f} ms, bundle by {parts['bundle']:.0f} ms,"
                        f" API answers by {parts['api']:.0f} ms (slowest {parts['slowest_api']})"
                    )
                page.goto(f"{server.base}/workflows/{ids['saved positions']}/edit")
                page.wait_for_function(READY, timeout=30_000)
                drag = measure_drag(page)
                print(
                    f"  dragging a node: {drag['fps']:.0f} fps (median frame {drag['median_ms']:.1f} ms,"
                    f" p95 {drag['p95_ms']:.1f} ms, {drag['frames']} frames) · target >= 50 fps"
                )
                cold = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                cold.goto(f"{server.base}/accounts/login/")
                cold.fill("input[name=username]", "demo")
                cold.fill("input[name=password]", "switchyard-demo")
                cold.click("button[type=submit], input[type=submit]")
                cold.wait_for_url(f"{server.base}/")
                first = measure_open(cold, f"{server.base}/workflows/{ids['saved positions']}/edit", 1)[0]
                print(f"  first open with an empty browser cache: {first:.0f} ms")
                browser.close()
        finally:
            drop_server(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
