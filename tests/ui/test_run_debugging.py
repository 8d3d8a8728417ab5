"""Debugging runs in a real browser against a real `serve`: edges that carried data animate on
the builder's live canvas, the callback panel from the builder, the timeline's attempt and wait
segments, the logs panel's filters, a payload over the storage cap, and the executions page's
live rows and bulk retry and cancel."""

from __future__ import annotations

import json
import threading

from tests.ui.test_run_pages import node, start, wait_run_status

ACTIVE_EDGE = '[data-testid=canvas] .react-flow__edge.sy-edge-active[data-id="{}"]'


def edge(page, edge_id):
    return page.locator(f'[data-testid=canvas] .react-flow__edge[data-id="{edge_id}"]')


def is_active(page, edge_id) -> bool:
    cls = edge(page, edge_id).get_attribute("class") or ""
    return "sy-edge-active" in cls and "animated" in cls


def test_builder_animates_carried_edges_resumes_a_callback_and_the_timeline_draws_segments(
    demo, server, remote, screenshot
):
    page = demo
    calls = {"n": 0}

    def flaky(seen):
        calls["n"] += 1
        return (503, {"error": "busy"}) if calls["n"] == 1 else (200, {"go": True})

    remote.route("GET", "/flaky", flaky)
    nodes = [
        {"id": "start", "type": "trigger.manual", "position": [0, 100]},
        {
            "id": "fetch",
            "type": "http.request",
            "position": [260, 100],
            "config": {"url": remote.url("/flaky")},
            "retry": {"max_attempts": 2, "backoff": "fixed", "initial_delay_ms": 400},
        },
        {"id": "hold", "type": "flow.callback", "position": [520, 100], "config": {"expires_in_s": 600}},
        {
            "id": "check",
            "type": "logic.if",
            "position": [780, 100],
            "config": {"condition": "{{ input.go }}"},
        },
        {"id": "yes", "type": "data.transform", "position": [1040, 0], "config": {"set": {"a": 1}}},
        {"id": "no", "type": "data.transform", "position": [1040, 220], "config": {"set": {"a": 2}}},
    ]
    edges = [
        {"source": "start", "target": "fetch"},
        {"source": "fetch", "target": "hold"},
        {"source": "hold", "target": "check"},
        {"source": "check", "source_handle": "true", "target": "yes"},
        {"source": "check", "source_handle": "false", "target": "no"},
    ]
    wid, run_id = start(server, nodes, edges)
    server.wait_for(lambda: server.run(run_id)["status"] == "waiting", timeout_s=30)

    page.goto(f"{server.base}/workflows/{wid}/edit")
    page.wait_for_selector('[data-node-id="hold"][data-status="waiting"]')
    # The edges that carried data so far move; the ones after the waiting node do not.
    page.wait_for_selector(ACTIVE_EDGE.format("fetch:main->hold:main"))
    assert is_active(page, "start:main->fetch:main")
    assert not is_active(page, "hold:main->check:main")
    # The callback panel is on the builder too: the waiting node opens on it.
    page.locator('[data-node-id="hold"]').click()
    inspector = page.locator("[data-testid=node-inspector]")
    inspector.locator("[data-testid=inspector-tab-callback]").wait_for()
    url = inspector.locator("[data-testid=callback-url]")
    url.wait_for()
    assert url.input_value().startswith(f"{server.base}/api/v1/callbacks/")
    inspector.locator("[data-testid=callback-qr]").wait_for()
    screenshot("builder-callback-panel")
    inspector.locator("#callback-body").fill('{"go": true}')
    inspector.locator("[data-testid=send-callback]").click()
    # The run resumes and finishes live on the builder's canvas: the true branch carried data.
    page.wait_for_selector('[data-node-id="yes"][data-status="succeeded"]', timeout=30_000)
    page.wait_for_selector(ACTIVE_EDGE.format("check:true->yes:main"))
    page.wait_for_selector(ACTIVE_EDGE.format("hold:main->check:main"))
    assert not is_active(page, "check:false->no:main")
    inspector.locator("[data-testid=callback-receipts]").wait_for()
    assert "go" in inspector.locator("[data-testid=callback-receipts]").inner_text()
    screenshot("builder-live-edges")

    # The run page's timeline draws each attempt, the back-off and the wait as segments.
    page.goto(f"{server.base}/runs/{run_id}")
    wait_run_status(page, "completed")
    timeline = page.locator("[data-testid=run-timeline]")
    fetch_row = timeline.locator('.rv-tl-row[data-node="fetch"]')
    fetch_row.locator("[data-segment=backoff]").wait_for()
    attempts = fetch_row.locator("[data-segment=attempt]")
    assert attempts.count() == 2
    assert attempts.nth(0).get_attribute("data-outcome") == "failed"
    assert attempts.nth(1).get_attribute("data-outcome") == "succeeded"
    hold_row = timeline.locator('.rv-tl-row[data-node="hold"]')
    wait = hold_row.locator("[data-segment=wait]")
    assert wait.count() == 1
    assert "waiting for callback" in wait.get_attribute("title")
    # drawn, not written: the wait is a box with a width on the track
    box = wait.bounding_box()
    assert box and box["width"] > 20
    timeline.scroll_into_view_if_needed()
    screenshot("run-timeline-segments")


def test_logs_filter_by_level_and_node_and_a_large_payload_shows_its_marker(demo, server, remote, screenshot):
    page = demo
    big = {"rows": [{"i": i, "text": "x" * 200} for i in range(1600)]}  # ~340 KiB of JSON
    remote.route("GET", "/big", lambda seen: (200, big))
    remote.route("GET", "/down", lambda seen: (500, {"error": "down"}))
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "large", "type": "http.request", "config": {"url": remote.url("/big")}},
        {"id": "count", "type": "data.transform", "config": {"set": {"n": "{{ input.body.rows | length }}"}}},
        {"id": "broken", "type": "http.request", "config": {"url": remote.url("/down")}},
    ]
    edges = [
        {"source": "start", "target": "large"},
        {"source": "large", "target": "count"},
        {"source": "count", "target": "broken"},
    ]
    _, run_id = start(server, nodes, edges)
    server.wait_for(lambda: server.run(run_id)["status"] == "failed", timeout_s=30)
    page.goto(f"{server.base}/runs/{run_id}")
    wait_run_status(page, "failed")
    logs = page.locator("[data-testid=run-logs]")
    lines = logs.locator("li.rv-log")
    lines.first.wait_for()
    levels = set(lines.evaluate_all("els => els.map(e => e.dataset.level)"))
    assert {"info", "error"} <= levels, levels
    # By level: errors only.
    logs.locator("[data-testid=log-level]").select_option("error")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=run-logs] li.rv-log')]"
        ".every(e => e.dataset.level === 'error')"
    )
    assert lines.count() >= 1
    assert "broken" in logs.inner_text()
    # By node: every level of `large` alone.
    logs.locator("[data-testid=log-level]").select_option("")
    logs.locator("[data-testid=log-node]").select_option("large")
    page.wait_for_function(
        "() => { const l = [...document.querySelectorAll('[data-testid=run-logs] li.rv-log')];"
        " return l.length > 0 && l.every(e => e.dataset.node === 'large'); }"
    )
    assert "succeeded" in logs.inner_text()
    screenshot("run-logs-filtered")

    # The 340 KiB output was stored truncated: the marker says so; the next node got all of it.
    stored = {n["node_id"]: n for n in server.run(run_id)["nodes"]}
    assert stored["count"]["status"] == "succeeded"
    assert stored["large"]["output"]["_switchyard_truncated"] is True
    node(page, "large").click()
    output = page.locator("[data-testid=node-output]")
    marker = output.locator("[data-testid=truncated-marker]")
    marker.wait_for()
    assert "Truncated at 256 KiB" in marker.inner_text()
    # The preview is not drawn until asked for.
    load = output.locator(".jt-load")
    if load.count():
        assert output.locator(".jt-body").count() == 0
        load.click()
    output.locator(".jt-body").wait_for()
    assert "preview" in output.locator(".jt-body").inner_text()
    output.scroll_into_view_if_needed()
    screenshot("run-large-payload")


def test_executions_rows_are_live_and_bulk_retry_and_cancel(demo, server, remote, screenshot):
    page = demo
    gate = threading.Event()
    remote.route("GET", "/gate", lambda seen: (gate.wait(30), (200, {"ok": True}))[1])
    remote.route("GET", "/down", lambda seen: (500, {"error": "down"}))
    slow = server.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "gated",
                "type": "http.request",
                "config": {"url": remote.url("/gate"), "timeout_ms": 30000},
            },
        ],
        [{"source": "start", "target": "gated"}],
        name="Executions slow",
    )
    waiting = server.create_workflow(
        [{"id": "start", "type": "trigger.manual"}, {"id": "hold", "type": "flow.callback"}],
        [{"source": "start", "target": "hold"}],
        name="Executions waiting",
    )
    failing = server.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "call", "type": "http.request", "config": {"url": remote.url("/down")}},
        ],
        [{"source": "start", "target": "call"}],
        name="Executions failing",
    )
    held = [server.execute(waiting, {"k": i}) for i in range(2)]
    failed = server.execute(failing, {})
    server.wait_for(lambda: all(server.run(r)["status"] == "waiting" for r in held), timeout_s=30)
    server.wait_for(lambda: server.run(failed)["status"] == "failed", timeout_s=30)
    running = server.execute(slow, {})
    server.wait_for(lambda: server.run(running)["status"] == "running", timeout_s=30)

    page.goto(f"{server.base}/runs")
    row = page.locator(f'tr[data-run="{running}"]')
    row.locator(".status-running").wait_for()
    # A live row: the run finishes and its row says so without a reload.
    page.evaluate("() => { window.__notReloaded = true; }")
    gate.set()
    row.locator(".status-completed").wait_for(timeout=30_000)
    assert page.evaluate("() => window.__notReloaded") is True

    # Bulk cancel of the two waiting runs.
    for r in held:
        page.locator(f'tr[data-run="{r}"] input[type=checkbox]').check()
    page.click("[data-testid=bulk-cancel]")
    message = page.locator("[data-testid=executions-message]")
    message.wait_for()
    assert "Cancelled 2 of 2" in message.inner_text()
    for r in held:
        page.locator(f'tr[data-run="{r}"] .status-cancelled').wait_for()
        assert server.run(r)["status"] == "cancelled"
    screenshot("executions-bulk-cancel")

    # Bulk retry of the failed run: a new run of that workflow appears.
    before = server.call("GET", f"/api/v1/runs?workflow={failing}")[1]["count"]
    page.locator(f'tr[data-run="{failed}"] input[type=checkbox]').check()
    page.click("[data-testid=bulk-retry]")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=executions-message]')?.textContent || '')"
        ".includes('Retried 1 of 1')"
    )
    server.wait_for(
        lambda: server.call("GET", f"/api/v1/runs?workflow={failing}")[1]["count"] == before + 1, timeout_s=20
    )
    retried = server.call("GET", f"/api/v1/runs?workflow={failing}")[1]["results"][0]
    assert retried["retry_of"] == failed, json.dumps(retried)[:300]
    page.locator(f'tr[data-run="{retried["id"]}"]').wait_for()
    screenshot("executions-bulk-retry")


def test_a_text_search_that_looked_at_the_newest_runs_only_says_so(demo, server, screenshot):
    page = demo
    wid = server.create_workflow(
        [{"id": "start", "type": "trigger.manual"}, {"id": "t", "type": "data.transform"}],
        [{"source": "start", "target": "t"}],
        name="Searched",
    )
    run_id = server.execute(wid, {"customer": "zq"})
    server.wait_for(lambda: server.run(run_id)["status"] == "completed", timeout_s=20)
    # Two characters: too short for the trigram index, so bounded on every database.
    page.goto(f"{server.base}/runs?q=zq")
    page.locator(f'tr[data-run="{run_id}"]').wait_for()
    note = page.locator("[data-testid=search-window]")
    assert "newest 10,000 runs only" in note.inner_text()
    screenshot("executions-search-window")
    # A search by run id reads every run: no note.
    page.goto(f"{server.base}/runs?q={run_id}")
    page.locator(f'tr[data-run="{run_id}"]').wait_for()
    assert note.count() == 0


def test_nested_loop_instances_are_told_apart_by_their_iteration_path(demo, server, screenshot):
    page = demo
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "outer", "type": "logic.loop", "config": {"items": "{{ input.rows }}"}},
        {"id": "inner", "type": "logic.loop", "config": {"items": "{{ item }}"}},
        {"id": "body", "type": "data.transform", "config": {"set": {"v": "{{ item }}"}}},
    ]
    edges = [
        {"source": "start", "target": "outer"},
        {"source": "outer", "source_handle": "each", "target": "inner"},
        {"source": "inner", "source_handle": "each", "target": "body"},
    ]
    _, run_id = start(server, nodes, edges, {"rows": [[1, 2], [3]]})
    server.wait_for(lambda: server.run(run_id)["status"] == "completed", timeout_s=30)
    page.goto(f"{server.base}/runs/{run_id}#node=body")
    wait_run_status(page, "completed")
    # One timeline row and one choice per (outer, inner) iteration.
    rows = page.locator('[data-testid=run-timeline] .rv-tl-row[data-node="body"]')
    rows.first.wait_for()
    assert [t.strip() for t in rows.locator(".rv-tl-label").all_inner_texts()] == [
        "body [0.0]",
        "body [0.1]",
        "body [1.0]",
    ]
    # The loops' `each` edges carried data in every iteration.
    for edge_id in ("outer:each->inner:main", "inner:each->body:main"):
        page.wait_for_selector(
            f'[data-testid=run-canvas] .react-flow__edge.sy-edge-active[data-id="{edge_id}"]'
        )
    assert "3 iterations" in node(page, "body").inner_text()
    choice = page.locator('[data-testid=node-panel] select[aria-label="Iteration"]')
    assert choice.locator("option").all_inner_texts() == ["iteration 0.0", "iteration 0.1", "iteration 1.0"]
    choice.select_option("1.0")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=node-output]')?.textContent || '').includes('3')"
    )
    screenshot("run-nested-loop")
