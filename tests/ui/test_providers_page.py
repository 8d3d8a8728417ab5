"""The Providers page: connect Make with Test, browse its scenarios, preview one on the
canvas, add it to a workflow as a configured provider node, see recent executions."""

import pytest

from tests.providers.fakes import FakeMake

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_make(settings):
    settings.ALLOW_PRIVATE_OUTBOUND = True
    server = FakeMake()
    yield server
    server.close()


def test_connect_browse_preview_and_add_to_a_workflow(logged_in, fake_make, screenshot):
    page, user, base = logged_in
    page.goto(f"{base}/providers/")
    page.get_by_test_id("providers-empty").wait_for()
    page.get_by_test_id("connect-button").click()
    dialog = page.get_by_test_id("connect-dialog")
    dialog.get_by_test_id("provider-make").click()
    dialog.get_by_test_id("connect-name").fill("Make EU")
    dialog.get_by_test_id("connect-url").fill(fake_make.base)
    dialog.get_by_test_id("connect-secret").fill(FakeMake.TOKEN)
    dialog.get_by_test_id("connect-team").fill(FakeMake.TEAM)
    dialog.get_by_test_id("connect-test").click()
    page.get_by_test_id("connect-result").filter(has_text="Connected.").wait_for()
    assert page.get_by_test_id("connection-status").first.inner_text() == "ok"
    rows = page.get_by_test_id("remote-workflow-row")
    rows.first.wait_for()
    assert rows.count() == 3 and "Scenario 001" in rows.first.inner_text()
    rows.first.click()
    canvas = page.get_by_test_id("preview-canvas")
    canvas.locator("[data-node-id]").first.wait_for()
    assert canvas.locator("[data-node-id]").count() == 5
    screenshot("providers-preview")
    assert FakeMake.TOKEN not in page.content()
    page.get_by_test_id("add-to-workflow").click()
    page.wait_for_url(f"{base}/workflows/*/edit")
    from workflows.models import Workflow

    workflow = Workflow.objects.get(name="Run Scenario 001")
    from workflows.selectors import latest_version

    nodes = {n["id"]: n for n in latest_version(workflow).document["nodes"]}
    made = next(n for n in nodes.values() if n["type"] == "provider.make")
    assert made["config"]["connection"] == "Make EU" and made["config"]["workflow"] == "101"
    page.locator(f'[data-node-id="{made["id"]}"]').wait_for()
    screenshot("providers-added-to-builder")
