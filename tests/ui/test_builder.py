"""The visual builder in a real browser: a new user draws a branching workflow from the
palette, connects handles, configures nodes in the drawer (with an autocompleted
expression), saves it, and finds it intact after a reload."""

import pytest

from tests.ui.builder_helpers import (
    connect,
    drag_from_palette,
    edges,
    node,
    open_new,
    type_expression,
    wait_saved_state,
)
from workflows.models import Workflow, WorkflowDraft

pytestmark = pytest.mark.django_db(transaction=True)


def test_draw_configure_save_and_reload_a_branching_workflow(logged_in, screenshot):
    page, user, base = logged_in
    open_new(page, base)
    assert page.locator('[data-testid="templates"]').is_visible()
    drag_from_palette(page, "trigger.webhook", 100, 260)
    node(page, "webhook").wait_for()
    page.wait_for_url(f"{base}/workflows/*/edit")  # the first change creates the workflow
    page.click('[data-testid="fit"]')
    page.click('[data-testid="canvas"] .react-flow__controls-zoomout')
    page.click('[data-testid="canvas"] .react-flow__controls-zoomout')
    drag_from_palette(page, "http.request", 330, 260)
    drag_from_palette(page, "logic.if", 560, 260)
    drag_from_palette(page, "data.transform", 790, 140)
    drag_from_palette(page, "data.transform", 790, 380)
    for node_id, node_type in [
        ("webhook", "trigger.webhook"),
        ("request", "http.request"),
        ("if", "logic.if"),
        ("transform", "data.transform"),
        ("transform_2", "data.transform"),
    ]:
        assert node(page, node_id).get_attribute("data-node-type") == node_type
    page.click('[data-testid="fit"]')
    page.wait_for_timeout(300)
    connect(page, "webhook", "main", "request")
    connect(page, "request", "main", "if")
    connect(page, "if", "true", "transform")
    connect(page, "if", "false", "transform_2")
    screenshot("builder-connected")
    assert edges(page).count() == 4

    # configure the request and the condition in the drawer
    node(page, "request").click()
    drawer = page.locator('[data-testid="config-drawer"]')
    drawer.wait_for()
    type_expression(page, "#root_url", "http://127.0.0.1:9/orders/{{ trig")
    page.locator(".cm-tooltip-autocomplete li", has_text="trigger").first.click()
    page.keyboard.type(".body.id")
    assert "{{ trigger.body.id }}" in page.locator("#root_url").inner_text()

    node(page, "if").click()
    type_expression(page, '[aria-label="condition left"]', "{{ nodes.")
    page.locator(".cm-tooltip-autocomplete li", has_text="nodes.request").first.click()
    page.keyboard.type(".status")
    page.select_option('[aria-label="condition operator"]', "eq")
    type_expression(page, '[aria-label="condition right"]', "200")
    node(page, "transform").click()
    page.click('[data-testid="config-drawer"] .by-kv >> text=+ Add field')
    type_expression(page, '[aria-label="set value 1"]', "gold")
    screenshot("builder-drawer")

    page.click('[data-testid="save"]')
    wait_saved_state(page, "saved")
    assert page.locator('[data-testid="validation-errors"]').get_attribute("data-count") == "0"
    wf = Workflow.objects.get(created_by=user)
    doc = wf.versions.order_by("-number").first().document
    assert {n["id"] for n in doc["nodes"]} == {"webhook", "request", "if", "transform", "transform_2"}
    assert {(e["source"], e.get("source_handle", "main"), e["target"]) for e in doc["edges"]} == {
        ("webhook", "main", "request"),
        ("request", "main", "if"),
        ("if", "true", "transform"),
        ("if", "false", "transform_2"),
    }
    by_id = {n["id"]: n for n in doc["nodes"]}
    assert by_id["request"]["config"]["url"] == "http://127.0.0.1:9/orders/{{ trigger.body.id }}"
    assert by_id["if"]["config"]["condition"] == {
        "left": "{{ nodes.request.status }}",
        "op": "eq",
        "right": "200",
    }
    assert by_id["transform"]["config"]["set"] == {"field1": "gold"}
    assert not WorkflowDraft.objects.filter(workflow=wf).exists()

    page.reload()
    node(page, "transform_2").wait_for()
    assert edges(page).count() == 4
    for node_id in ("webhook", "request", "if", "transform", "transform_2"):
        assert node(page, node_id).is_visible()
    assert page.locator('[data-testid="save-state"]').get_attribute("data-state") == "saved"
    screenshot("builder-reloaded")
