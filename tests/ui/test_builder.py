"""The visual builder in a real browser: draw, connect, configure, save, reload."""

import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def drag_from_palette(page, type_name, x, y):
    """Drag a palette item onto the canvas at (x, y) relative to the canvas's top-left."""
    page.locator(f'[data-testid="palette-item-{type_name}"]').drag_to(
        page.locator('[data-testid="canvas"] .react-flow__pane'), target_position={"x": x, "y": y}
    )


def node(page, node_id):
    return page.locator(f'[data-node-id="{node_id}"]')


def connect(page, source, handle, target):
    page.locator(f'[data-node-id="{source}"] .react-flow__handle.source[data-handleid="{handle}"]').drag_to(
        page.locator(f'[data-node-id="{target}"] .react-flow__handle.target')
    )


def test_builder_opens_blank_with_palette_and_canvas(logged_in, screenshot):
    page, _user, base = logged_in
    page.goto(f"{base}/workflows/new")
    page.wait_for_selector('[data-testid="palette"]')
    assert page.locator('[data-testid="canvas"]').is_visible()
    assert page.locator('[data-testid="palette-item-trigger.webhook"]').is_visible()
    assert page.locator('[data-testid="templates"]').is_visible()
    drag_from_palette(page, "trigger.webhook", 150, 200)
    node(page, "webhook").wait_for()
    assert node(page, "webhook").get_attribute("data-node-type") == "trigger.webhook"
    assert node(page, "webhook").get_attribute("data-status") == "idle"
    page.wait_for_url(f"{base}/workflows/*/edit")
    screenshot("builder-blank")
    print(json.dumps(page.evaluate("() => location.pathname")))
