"""Helpers for driving the builder in Playwright."""

from __future__ import annotations

import json


def open_new(page, base):
    page.goto(f"{base}/workflows/new")
    page.wait_for_selector('[data-testid="palette"]')


def drag_from_palette(page, type_name, x, y):
    """Drag a palette item onto the canvas, dropping at (x, y) from the canvas's top-left."""
    page.locator(f'[data-testid="palette-item-{type_name}"]').drag_to(
        page.locator('[data-testid="canvas"] .react-flow__pane'), target_position={"x": x, "y": y}
    )


def node(page, node_id):
    return page.locator(f'[data-node-id="{node_id}"]')


def _center(locator):
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page, source, handle, target):
    """Drag from `source`'s named output handle to `target`'s input handle."""
    src = page.locator(f'[data-node-id="{source}"] .react-flow__handle.source[data-handleid="{handle}"]')
    dst = page.locator(f'[data-node-id="{target}"] .react-flow__handle.target')
    sx, sy = _center(src)
    tx, ty = _center(dst)
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=8)
    page.mouse.move(tx, ty, steps=8)
    page.mouse.up()


def edges(page):
    return page.locator('[data-testid="canvas"] .react-flow__edge')


def type_expression(page, selector, text):
    """Click into a CodeMirror template field and type (the editor closes brackets itself)."""
    page.locator(selector).click()
    page.keyboard.type(text)


def wait_saved_state(page, *states):
    page.wait_for_function(
        "states => states.includes(document.querySelector('[data-testid=save-state]')?.dataset.state)",
        arg=list(states),
    )


def export_document(page) -> dict:
    page.click('[data-testid="open-export"]')
    text = page.locator('[data-testid="export-text"]').input_value()
    page.keyboard.press("Escape")
    return json.loads(text)
