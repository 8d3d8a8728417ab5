"""Watching and debugging runs in a real browser against a real `serve` (daphne, websockets,
workers): the run page live, the executions page, retry from the failed node, the callback
panel, pinned data and run from a node, and a page that reconnects mid-run."""

from __future__ import annotations

import re
import threading
import time

STATUS_LOG = """
window.__statuses = [];
const note = (el) => window.__statuses.push([el.dataset.nodeId, el.dataset.status, Date.now()]);
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.target;
    if (r.attributeName === 'data-status' && el.dataset && el.dataset.nodeId) note(el);
    // a node drawn while it already has a status is an insertion, not an attribute change
    for (const added of r.addedNodes || []) {
      if (!(added instanceof Element)) continue;
      const found = added.matches('[data-node-id][data-status]') ? [added] : [];
      found.push(...added.querySelectorAll('[data-node-id][data-status]'));
      found.forEach(note);
    }
  }
}).observe(document, {attributes: true, childList: true, subtree: true, attributeFilter: ['data-status']});
"""

TRACK_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  window.__sockets.push(ws);
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


def start(server, nodes, edges, input=None) -> tuple[str, str]:
    wid = server.create_workflow(nodes, edges, name=f"UI {time.monotonic_ns()}")
    return wid, server.execute(wid, input or {})


def _requests_and_runs(server, wid, calls) -> str:
    """What a failed count needs to be explained: each request, and every run with its nodes."""
    lines = [f"request n={c.query.get('n')} at {c.at:.3f}" for c in calls]
    for run in server.call("GET", f"/api/v1/runs/?workflow={wid}")[1].get("results", []):
        detail = server.run(run["id"])
        states = [(n["node_id"], n["status"], n.get("attempts")) for n in detail.get("nodes", [])]
        lines.append(
            f"run {run['id']} {run.get('mode')} {run['status']} start={detail.get('start_node')}: {states}"
        )
    return "\n".join(lines) + "\n--- server log ---\n" + server.logs()


def node(page, node_id):
    return page.locator(f'.rv-canvas [data-node-id="{node_id}"]')


def wait_run_status(page, status, timeout=20_000):
    page.wait_for_function(
        "s => document.querySelector('[data-testid=run-status]')?.textContent === s",
        arg=status,
        timeout=timeout,
    )


def test_a_slow_run_is_watched_live_node_by_node(demo, server, remote, screenshot):
    page = demo
    remote.route("GET", "/slow", lambda seen: (time.sleep(2.0), (200, {"ok": True}))[1])
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "slow", "type": "http.request", "config": {"url": remote.url("/slow")}},
        {"id": "done", "type": "data.transform", "config": {"set": {"finished": True}}},
    ]
    edges = [{"source": "start", "target": "slow"}, {"source": "slow", "target": "done"}]
    page.add_init_script(STATUS_LOG)
    _, run_id = start(server, nodes, edges)
    page.goto(f"{server.base}/runs/{run_id}")
    page.wait_for_selector('.rv-canvas [data-node-id="slow"][data-status="running"]')
    screenshot("run-live-running")
    assert node(page, "done").get_attribute("data-status") in ("pending", "idle")
    wait_run_status(page, "completed")
    page.wait_for_selector('.rv-canvas [data-node-id="done"][data-status="succeeded"]')
    seen = page.evaluate("window.__statuses")
    slow = [s for n, s, _ in seen if n == "slow"]
    done = [(s, t) for n, s, t in seen if n == "done"]
    assert slow.index("running") < slow.index("succeeded")
    slow_done_at = next(t for n, s, t in seen if n == "slow" and s == "succeeded")
    assert all(t >= slow_done_at for s, t in done if s == "succeeded")
    timeline = page.locator("[data-testid=run-timeline]")
    assert timeline.locator('[data-node="slow"]').count() == 1
    assert "ms" in timeline.inner_text()
    screenshot("run-live-completed")


def test_a_failed_node_is_found_from_executions_and_retried_from_there(demo, server, remote, screenshot):
    page = demo
    calls = {"n": 0}

    def flaky(seen):
        calls["n"] += 1
        return (502, {"error": "upstream down"}) if calls["n"] == 1 else (200, {"price": 7})

    remote.route("GET", "/price", flaky)
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "prepare", "type": "data.transform", "config": {"set": {"ready": True}}},
        {"id": "quote", "type": "http.request", "config": {"url": remote.url("/price")}},
    ]
    edges = [{"source": "start", "target": "prepare"}, {"source": "prepare", "target": "quote"}]
    _, run_id = start(server, nodes, edges, {"customer": "ada"})
    server.wait_for(lambda: server.run(run_id)["status"] == "failed", timeout_s=20)

    page.goto(f"{server.base}/runs?status=failed")
    row = page.locator(f'tr[data-run="{run_id}"]')
    reason = row.locator("[data-testid=failure-reason]")
    reason.wait_for()
    assert "quote" in reason.inner_text() and "HTTP_ERROR" in reason.inner_text()
    screenshot("executions-failed-row")
    reason.click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}#node=quote$"))
    error = page.locator("[data-testid=node-error]")
    error.wait_for()
    assert "HTTP_ERROR" in error.inner_text()
    assert node(page, "quote").get_attribute("data-status") == "failed"
    assert "HTTP_ERROR" in (node(page, "quote").get_attribute("title") or "")
    screenshot("run-failed-node-open")

    page.click("[data-testid=retry-failed]")
    page.wait_for_url(lambda url: "/runs/" in url and run_id not in url)
    wait_run_status(page, "completed")
    assert node(page, "quote").get_attribute("data-status") == "succeeded"
    assert calls["n"] == 2  # only the failed node ran again
    screenshot("run-retried-from-failed")


def test_a_waiting_callback_node_is_resumed_from_the_panel(demo, server, screenshot):
    page = demo
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "hold", "type": "flow.callback", "config": {"expires_in_s": 600}},
        {"id": "after", "type": "data.transform", "config": {"set": {"got": "{{ input.answer }}"}}},
    ]
    edges = [{"source": "start", "target": "hold"}, {"source": "hold", "target": "after"}]
    _, run_id = start(server, nodes, edges)
    server.wait_for(lambda: server.run(run_id)["status"] == "waiting", timeout_s=20)
    page.goto(f"{server.base}/runs/{run_id}#node=hold")
    url = page.locator("[data-testid=callback-url]")
    url.wait_for()
    # The URL is the address this server answers on (a free port, not 127.0.0.1:8000).
    assert url.input_value().startswith(f"{server.base}/api/v1/callbacks/")
    page.locator("[data-testid=callback-qr]").wait_for()
    detail = node(page, "hold").locator("[data-testid=node-detail]")
    assert "waiting for callback" in detail.inner_text()
    screenshot("callback-panel-waiting")
    page.fill("#callback-body", '{"answer": 42}')
    page.click("[data-testid=send-callback]")
    wait_run_status(page, "completed")
    assert server.run(run_id)["output"]["got"] == 42
    page.locator("[data-testid=callback-receipts]").wait_for()
    assert "42" in page.locator("[data-testid=callback-receipts]").inner_text()
    screenshot("callback-panel-received")


def test_pin_an_output_and_run_from_a_node(demo, server, remote, screenshot):
    page = demo
    remote.route("GET", "/price", lambda seen: (200, {"price": 10}))
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "fetch", "type": "http.request", "config": {"url": remote.url("/price")}},
        {"id": "shape", "type": "data.transform", "config": {"set": {"total": "{{ input.body.price + 1 }}"}}},
    ]
    edges = [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "shape"}]
    _, run_id = start(server, nodes, edges)
    server.wait_for(lambda: server.run(run_id)["status"] == "completed", timeout_s=20)
    page.goto(f"{server.base}/runs/{run_id}#node=fetch")
    page.click("[data-testid=pin-output]")
    node(page, "fetch").locator("[data-testid=node-pinned]").wait_for()
    page.locator('.rv-canvas [data-node-id="shape"]').click()
    page.click("[data-testid=run-from-node]")
    page.wait_for_url(lambda url: "/runs/" in url and run_id not in url)
    wait_run_status(page, "completed")
    assert "run from" in page.locator(".rv-head").inner_text()
    assert len(remote.requests_to("/price")) == 1  # fetch came from the pin, not the network
    assert node(page, "fetch").locator("[data-testid=node-pinned]").count() == 1
    screenshot("run-from-node")


def test_a_page_that_reconnects_mid_run_shows_the_current_state(demo, server, remote, screenshot):
    page = demo
    gate = threading.Event()
    remote.route("GET", "/gate", lambda seen: (gate.wait(20), (200, {"ok": True}))[1])
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "gated", "type": "http.request", "config": {"url": remote.url("/gate"), "timeout_ms": 25000}},
        {"id": "done", "type": "data.transform", "config": {"set": {"finished": True}}},
    ]
    edges = [{"source": "start", "target": "gated"}, {"source": "gated", "target": "done"}]
    page.add_init_script(TRACK_SOCKETS)
    _, run_id = start(server, nodes, edges)
    page.goto(f"{server.base}/runs/{run_id}")
    page.wait_for_selector('.rv-canvas [data-node-id="gated"][data-status="running"]')
    page.wait_for_function("() => document.querySelector('.rv-live')?.textContent === 'live'")
    # The connection drops; the run finishes before the client reconnects (after 0.5 s).
    page.evaluate("() => window.__sockets.forEach((ws) => ws.close())")
    gate.set()
    server.wait_for(lambda: server.run(run_id)["status"] == "completed", timeout_s=20)
    wait_run_status(page, "completed")
    page.wait_for_selector('.rv-canvas [data-node-id="done"][data-status="succeeded"]')
    assert node(page, "gated").get_attribute("data-status") == "succeeded"
    screenshot("run-reconnected")


def test_the_workflow_page_follows_its_runs_over_the_websocket(demo, server):
    page = demo
    wid = server.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "t", "type": "data.transform", "config": {"set": {"a": 1}}},
        ],
        [{"source": "start", "target": "t"}],
        name="Followed",
    )
    page.goto(f"{server.base}/workflows/{wid}/")
    page.wait_for_selector("#workflow-page[data-live=true]")
    run_id = server.execute(wid, {})
    row = page.locator(f'tr[data-run="{run_id}"]')
    row.locator(".status-completed").wait_for()
    assert row.locator("a").get_attribute("href") == f"/runs/{run_id}"


def test_one_node_tested_alone_from_the_builders_inspector(demo, server, remote, screenshot):
    page = demo
    remote.route("GET", "/price", lambda seen: (200, {"price": int(seen.query.get("n", ["1"])[0]) * 10}))
    nodes = [
        {"id": "start", "type": "trigger.manual", "position": [0, 0]},
        {
            "id": "fetch",
            "type": "http.request",
            "position": [260, 0],
            "config": {"url": remote.url("/price?n={{ input.n }}")},
        },
        {
            "id": "shape",
            "type": "data.transform",
            "position": [520, 0],
            "config": {"set": {"t": "{{ input.body.price }}"}},
        },
    ]
    edges = [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "shape"}]
    wid, run_id = start(server, nodes, edges, {"n": 2})
    server.wait_for(lambda: server.run(run_id)["status"] == "completed", timeout_s=20)
    page.goto(f"{server.base}/workflows/{wid}/edit")
    fetch = page.locator('[data-node-id="fetch"]')
    # The last run's states and today's statistics are on the canvas.
    page.wait_for_selector('[data-node-id="fetch"][data-status="succeeded"]')
    assert "1 today" in fetch.locator("[data-testid=node-badge]").inner_text()
    fetch.click()
    inspector = page.locator("[data-testid=node-inspector]")
    inspector.locator("[data-testid=inspector-logs] li").first.wait_for()
    inspector.locator("[data-testid=inspector-tab-test]").click()
    inspector.locator("[data-testid=node-test-input]").fill('{"n": 7}')
    inspector.locator("[data-testid=node-test-run]").click()
    result = inspector.locator("[data-testid=node-test-result], [role=alert]")
    result.first.wait_for(timeout=30_000)
    result = inspector.locator("[data-testid=node-test-result]")
    assert result.count() == 1, inspector.inner_text()
    assert result.get_attribute("data-status") == "succeeded"
    assert "70" in result.locator("[data-testid=node-test-output]").inner_text()
    assert remote.requests_to("/price")[-1].query["n"] == ["7"]
    screenshot("builder-node-test")
    # Its input in the earlier run, then pin the result and run from the next node.
    inspector.locator("[data-testid=node-test-source]").select_option(index=1)
    inspector.locator("[data-testid=node-test-run]").click()
    # The earlier run's result replaced the sample's (its output also says 200, so "20" alone
    # would match before the request is even sent).
    page.wait_for_function(
        "() => /price\\D{0,8}20(?!\\d)/.test("
        "document.querySelector('[data-testid=node-test-output]')?.textContent || '')"
    )
    inspector.locator("[data-testid=node-test-pin]").click()
    fetch.locator("[data-testid=node-pinned]").wait_for()
    page.locator('[data-node-id="shape"]').click()
    page.locator("[data-testid=inspector-run-from]").click()
    page.wait_for_url(lambda url: "/runs/" in url)
    wait_run_status(page, "completed")
    calls = remote.requests_to("/price")
    # the run, and two tests: the run from `shape` used the pin
    assert len(calls) == 3, _requests_and_runs(server, wid, calls)
    from_id = page.url.split("/runs/")[1].split("#")[0].split("?")[0]
    assert server.run(from_id)["output"]["t"] == 20  # the pinned output of the second test
    screenshot("builder-run-from-pinned")
