"""Adapter node types in the builder: in the palette, with forms generated from their schemas;
and the integration health page in the shared layout."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

ADAPTER_TYPES = (
    "db.query",
    "db.execute",
    "mq.publish",
    "mq.consume",
    "file.upload",
    "file.download",
    "file.list",
    "file.delete",
    "soap.call",
    "graphql.query",
    "grpc.call",
    "trigger.queue",
)


def test_adapter_nodes_are_in_the_palette_with_generated_forms(logged_in, screenshot):
    page, _user, base = logged_in
    page.goto(f"{base}/workflows/new")
    page.wait_for_selector('[data-testid="palette"]')
    for type_name in ADAPTER_TYPES:
        assert page.locator(f'[data-testid="palette-item-{type_name}"]').count() == 1, type_name
    page.locator('[data-testid="palette-item-db.query"]').drag_to(
        page.locator('[data-testid="canvas"] .react-flow__pane'), target_position={"x": 260, "y": 220}
    )
    node = page.locator('[data-node-type="db.query"]')
    node.wait_for()
    node.click()
    form = page.locator('[data-testid="config-form"]')
    form.wait_for()
    for field in ("credential", "sql", "max_rows"):
        assert form.locator(f'[id="root_{field}"], [id^="root_{field}"]').count() >= 1, field
    # The connection is picked from the workspace's credentials.
    assert form.locator('[id="root_credential"]').get_attribute("data-picker") == "credential"
    form.locator('[id="root_sql"]').fill("SELECT * FROM orders WHERE id = :id")
    screenshot("builder-db-query")


def test_integration_health_page_uses_the_shared_layout(logged_in, screenshot):
    page, _user, base = logged_in
    page.goto(f"{base}/integrations/health/")
    assert page.locator('[data-testid="health-empty"]').is_visible()
    assert page.locator("nav a", has_text="Integrations").is_visible()
    screenshot("integrations-health-empty")
