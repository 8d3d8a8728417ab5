"""The workflow page in a real browser: Run now (test), live/test run history, usage,
activation with its trigger URLs and schedules, activation errors, deactivation."""

import re

import pytest
from playwright.sync_api import expect

from runs.models import WorkflowRun

pytestmark = pytest.mark.usefixtures("inline_queue")  # runs execute inside the request that starts them

NODES = [
    {"id": "start", "type": "trigger.manual"},
    {"id": "hook", "type": "trigger.webhook"},
    {"id": "signup", "type": "trigger.form", "config": {"fields": [{"name": "email", "type": "email"}]}},
    {
        "id": "nightly",
        "type": "trigger.schedule",
        "config": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"},
    },
    {
        "id": "double",
        "type": "data.transform",
        "name": "Double it",
        "config": {"set": {"total": "{{ input.amount * 2 }}"}},
    },
]


def make_workflow(user, nodes=NODES, edges=({"source": "start", "target": "double"},), **settings):
    from workflows.services import create_workflow, ensure_personal_workspace

    doc = {
        "schema": "switchyard.workflow/1",
        "name": "Invoice doubler",
        "description": "Doubles amounts.",
        "settings": {"timeout_s": 300, "max_runs_per_day": None, **settings},
        "nodes": list(nodes),
        "edges": list(edges),
    }
    return create_workflow(user=user, workspace=ensure_personal_workspace(user=user), document=doc)


def test_run_now_in_test_mode_shows_the_run_under_test_with_its_status(logged_in, screenshot):
    from runs.services import start_run

    page, user, base = logged_in
    workflow = make_workflow(user, max_runs_per_day=5)
    for amount in (1, 2, 3):
        start_run(workflow=workflow, input={"amount": amount}, mode="live")
    page.goto(f"{base}/workflows/{workflow.pk}/")
    assert page.locator("#status-label").inner_text() == "Inactive"
    assert "dot-inactive" in page.locator("#status-dot").get_attribute("class")
    assert (
        page.locator("#usage-today").inner_text() == "3" and page.locator("#usage-limit").inner_text() == "5"
    )
    assert "usage-warning" not in page.locator("#usage-meter").get_attribute("class")
    assert page.locator("#live-runs tbody tr").count() == 3
    assert page.locator("#test-runs [data-empty]").inner_text().startswith("No test runs yet.")

    page.fill("#run-input", '{"amount": 21,}')
    page.click("#run-now-button")
    assert "Input is not valid JSON" in page.locator("#run-input-error").inner_text()
    screenshot("workflow-run-now-invalid-json")
    assert WorkflowRun.objects.filter(mode="test").count() == 0

    page.fill("#run-input", '{"amount": 21}')
    page.click("#run-now-button")
    row = page.locator("#test-runs tbody tr").first
    row.locator(".status-completed").wait_for()
    assert row.locator(".badge-test").inner_text().lower() == "test"
    assert page.locator("#test-runs tbody tr").count() == 1
    assert page.locator("#live-runs tbody tr").count() == 3  # kept apart
    assert "Started test run" in page.locator("#run-now-result").inner_text()
    assert page.locator("#usage-today").inner_text() == "4"  # 4 of 5: the meter warns
    assert "usage-warning" in page.locator("#usage-meter").get_attribute("class")
    assert page.locator("#usage-note").inner_text() == "Approaching the daily limit."
    screenshot("workflow-test-run")

    run = WorkflowRun.objects.get(mode="test")
    assert run.input == {"amount": 21} and run.output["total"] == 42 and run.status == "completed"
    assert row.get_attribute("data-run") == str(run.pk)


def test_activate_lists_trigger_urls_and_schedule_then_deactivate_after_confirming(logged_in, screenshot):
    page, user, base = logged_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    workflow = make_workflow(user)
    page.goto(f"{base}/workflows/{workflow.pk}/")
    assert "Activate the workflow" in page.locator("#triggers").inner_text()
    screenshot("workflow-inactive")

    page.get_by_role("button", name="Activate", exact=True).click()
    page.locator(".dot-active").wait_for()
    assert page.locator("#status-label").inner_text() == "Active"
    hook = page.locator('.trigger[data-node="hook"] input').input_value()
    form = page.locator('.trigger[data-node="signup"] input').input_value()
    assert re.fullmatch(rf"{re.escape(base)}/hooks/[\w-]{{22,}}", hook)
    assert re.fullmatch(rf"{re.escape(base)}/forms/[\w-]{{22,}}", form)
    schedule = page.locator('.trigger[data-node="nightly"]')
    assert "0 2 * * *" in schedule.inner_text() and "Europe/Berlin" in schedule.inner_text()
    assert schedule.locator(".next-runs li").count() == 5
    page.locator('.trigger[data-node="hook"] button[data-copy]').click()
    expect(page.locator('.trigger[data-node="hook"] button[data-copy]')).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == hook
    schedule.locator("button[data-copy]").click()
    expect(schedule.locator("button[data-copy]")).to_have_text("Copied")
    slots = page.evaluate("navigator.clipboard.readText()").split("\n")
    assert len(slots) == 5 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT02:00:00\+0[12]:00", s) for s in slots)
    screenshot("workflow-active")

    page.get_by_role("button", name="Deactivate").click()
    dialog = page.locator("dialog#confirm-deactivate")
    assert dialog.is_visible()
    screenshot("workflow-deactivate-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    workflow.refresh_from_db()
    assert workflow.status == "active"

    page.get_by_role("button", name="Deactivate").click()
    dialog.get_by_role("button", name="Deactivate").click()
    page.locator(".dot-inactive").wait_for()
    workflow.refresh_from_db()
    assert workflow.status == "inactive"


def test_activation_errors_are_listed_per_node(logged_in, screenshot):
    page, user, base = logged_in
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {"id": "leap", "type": "trigger.schedule", "config": {"cron": "0 0 30 2 *"}},
        {"id": "call", "type": "connector.run", "config": {"connector": "crm-sync"}},
    ]
    workflow = make_workflow(user, nodes=nodes, edges=[{"source": "start", "target": "call"}])
    page.goto(f"{base}/workflows/{workflow.pk}/")
    page.get_by_role("button", name="Activate", exact=True).click()
    errors = page.locator("#activation-errors")
    errors.wait_for()
    text = errors.inner_text()
    assert "leap" in text and "never matches a date" in text
    assert "call" in text and "No connector 'crm-sync'" in text
    assert page.locator("#status-label").inner_text() == "Inactive"
    screenshot("workflow-activation-errors")


def test_a_viewer_sees_the_page_without_controls(logged_in, django_user_model):
    from workflows.models import Role
    from workflows.services import add_member

    page, user, base = logged_in
    owner = django_user_model.objects.create_user("owner2", password="pw-owner-2")
    workflow = make_workflow(owner)
    add_member(workspace=workflow.workspace, user=user, role=Role.VIEWER)
    page.goto(f"{base}/workflows/{workflow.pk}/")
    assert page.get_by_role("button", name="Activate").count() == 0
    assert "read-only" in page.locator("#run-now").inner_text()
