"""The builder keeps work safe: undo/redo, import/export round-trip, an invalid draft that
survives a reload with its errors shown, and a clear conflict between two pages."""

import copy
import json

import pytest

from tests.documents import SPEC_EXAMPLE as SAMPLE
from tests.ui.builder_helpers import drag_from_palette, edges, export_document, node, wait_saved_state
from workflows import services
from workflows.engine.document import normalize
from workflows.models import Workflow, WorkflowDraft

pytestmark = pytest.mark.django_db(transaction=True)


def sample_workflow(user):
    workspace = services.ensure_personal_workspace(user=user)
    return services.create_workflow(user=user, workspace=workspace, document=copy.deepcopy(SAMPLE))


def open_edit(page, base, wf):
    page.goto(f"{base}/workflows/{wf.pk}/edit")
    node(page, "start").wait_for()


def test_undo_and_redo_of_adding_and_deleting(logged_in, screenshot):
    page, user, base = logged_in
    wf = sample_workflow(user)
    open_edit(page, base, wf)
    assert page.locator("[data-node-id]").count() == 4
    drag_from_palette(page, "data.code", 120, 480)
    node(page, "code").wait_for()
    page.click('[data-testid="undo"]')
    assert node(page, "code").count() == 0
    page.click('[data-testid="redo"]')
    node(page, "code").wait_for()
    # delete from the keyboard, then Ctrl+Z brings it back with its edges
    screenshot("builder-undo")
    node(page, "check").click()
    page.keyboard.press("Delete")
    assert node(page, "check").count() == 0 and edges(page).count() == 0
    page.keyboard.press("Control+z")
    node(page, "check").wait_for()
    assert edges(page).count() == 3
    page.keyboard.press("Control+Shift+z")
    assert node(page, "check").count() == 0
    page.keyboard.press("?")
    page.locator('[data-testid="shortcuts"]').wait_for()
    screenshot("builder-shortcuts")


def test_opening_nodes_changes_nothing(logged_in):
    """Opening each node's drawer shows its settings with their defaults filled in; that alone
    is not an edit: the page stays saved and no draft is written."""
    page, user, base = logged_in
    wf = sample_workflow(user)
    open_edit(page, base, wf)
    wait_saved_state(page, "saved")
    for node_id in ("start", "check", "big", "small"):
        node(page, node_id).click()
        page.locator('[data-testid="config-form"]').wait_for()
        page.wait_for_timeout(1500)  # longer than the draft autosave's debounce
        assert page.locator('[data-testid="save-state"]').get_attribute("data-state") == "saved", node_id
    assert not WorkflowDraft.objects.filter(workflow=wf).exists()


def test_export_then_import_round_trips(logged_in):
    page, user, base = logged_in
    wf = sample_workflow(user)
    open_edit(page, base, wf)
    exported = export_document(page)
    assert normalize(exported) == normalize(wf.versions.get().document) | {"nodes": exported["nodes"]}
    page.click('[data-testid="open-import"]')
    page.fill('[data-testid="import-text"]', json.dumps(exported))
    page.click('[data-testid="import-new"]')
    page.wait_for_url(lambda url: "/edit" in url and str(wf.pk) not in url)
    node(page, "small").wait_for()
    again = export_document(page)
    assert again == exported
    assert Workflow.objects.count() == 2


def test_an_invalid_draft_survives_a_reload_with_its_errors(logged_in, screenshot):
    page, user, base = logged_in
    wf = sample_workflow(user)
    open_edit(page, base, wf)
    drag_from_palette(page, "http.request", 120, 480)
    node(page, "request").wait_for()
    wait_saved_state(page, "draft")
    errors = page.locator('[data-testid="validation-errors"]')
    assert errors.get_attribute("data-count") == "1" and "url" in errors.inner_text()
    draft = WorkflowDraft.objects.get(workflow=wf)
    assert any(n["id"] == "request" for n in draft.document["nodes"])
    page.reload()
    node(page, "request").wait_for()
    assert page.locator('[data-testid="validation-errors"]').get_attribute("data-count") == "1"
    assert "url" in node(page, "request").inner_text()  # the error is shown on the node
    node(page, "request").click()
    page.locator('[data-testid="config-form"]').wait_for()
    drawer = page.locator('[data-testid="config-drawer"]')
    assert "'url' is required" in drawer.inner_text()
    assert "'url' is required" in drawer.locator(".form-group.has-error, .has-error").first.inner_text()
    page.click('[data-testid="save"]')
    assert "Not saved" in page.locator('[data-testid="save-message"]').inner_text()
    assert Workflow.objects.get(pk=wf.pk).version == 1
    screenshot("builder-invalid-draft")


def test_two_pages_editing_one_workflow_get_a_clear_conflict(logged_in, screenshot):
    page, user, base = logged_in
    wf = sample_workflow(user)
    open_edit(page, base, wf)
    other = page.context.new_page()
    other.goto(f"{base}/workflows/{wf.pk}/edit")
    node(other, "start").wait_for()

    page.fill('[data-testid="workflow-name"]', "Saved by the first page")
    page.click('[data-testid="save"]')
    wait_saved_state(page, "saved")
    assert Workflow.objects.get(pk=wf.pk).version == 2

    other.fill('[data-testid="workflow-name"]', "Edited on a stale page")
    conflict = other.locator('[data-testid="conflict"]')
    conflict.wait_for()
    assert "another tab" in conflict.inner_text() and "v2" in conflict.inner_text()
    assert other.locator('[data-testid="save"]').is_disabled()
    assert Workflow.objects.get(pk=wf.pk).name == "Saved by the first page"
    assert not WorkflowDraft.objects.filter(workflow=wf).exists()
    screenshot("builder-conflict")
    other.click('[data-testid="conflict-reload"]')
    other.wait_for_function(
        "document.querySelector('[data-testid=workflow-name]')?.value === 'Saved by the first page'"
    )


def test_palette_search_and_a_new_workflow_from_a_template(logged_in):
    page, user, base = logged_in
    page.goto(f"{base}/workflows/new")
    page.wait_for_selector('[data-testid="palette"]')
    page.fill('[data-testid="palette-search"]', "webhook")
    assert page.locator('[data-testid="palette-item-trigger.webhook"]').is_visible()
    assert page.locator('[data-testid="palette-item-logic.if"]').count() == 0
    page.fill('[data-testid="palette-search"]', "")
    page.click('[data-testid="template-order_triage"]')
    page.wait_for_url(f"{base}/workflows/*/edit")
    node(page, "summary").wait_for()
    wf = Workflow.objects.get(created_by=user)
    assert wf.name == "Order triage" and wf.version == 1
    # the edge mapping dialog opens on a double-click and writes the mapping into the draft
    page.locator('.react-flow__edge[data-id^="start:main->check"]').dblclick(force=True)
    page.locator('[data-testid="mapping-dialog"]').wait_for()
    page.click('[data-testid="mapping-dialog"] >> text=+ Add field')
    page.click('[data-testid="mapping-apply"]')
    wait_saved_state(page, "draft")
    draft = WorkflowDraft.objects.get(workflow=wf)
    edge = next(e for e in draft.document["edges"] if e["source"] == "start")
    assert edge["mapping"] == {"field1": "{{ source. }}"}
