"""The builder's panels and lifecycle in a real browser: Design | Test | Live, Run now with a
sample input, Delete naming active triggers, Duplicate, the settings and variables panels,
version restore, the toolbar at 1280×800, paste across workflows, "Keep mine" after a
conflict, `item`/`index` offered only in a loop body, and the dark theme of the older pages."""

import copy
import json

import pytest

from tests.documents import SPEC_EXAMPLE
from tests.ui.builder_helpers import node, type_expression, wait_saved_state
from workflows import services
from workflows.models import Workflow, WorkflowDraft

pytestmark = pytest.mark.django_db(transaction=True)

HOOKED = {
    "schema": "switchyard.workflow/1",
    "name": "Hooked",
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "config": {}, "position": [0, 0]},
        {"id": "shape", "type": "data.transform", "config": {"set": {"seen": True}}, "position": [300, 0]},
    ],
    "edges": [{"source": "hook", "target": "shape"}],
}


def create(user, document):
    workspace = services.ensure_personal_workspace(user=user)
    return services.create_workflow(user=user, workspace=workspace, document=copy.deepcopy(document))


def open_edit(page, base, wf, first="start"):
    page.goto(f"{base}/workflows/{wf.pk}/edit")
    node(page, first).wait_for()


def answer_dialogs(page):
    """window.confirm() prompts are answered from `answers` in order (True accepts); their
    messages are collected in `seen`."""
    answers, seen = [], []

    def on_dialog(dialog):
        seen.append(dialog.message)
        dialog.accept() if answers.pop(0) else dialog.dismiss()

    page.on("dialog", on_dialog)
    return answers, seen


def test_modes_run_now_delete_naming_triggers_and_duplicate(logged_in, screenshot):
    page, user, base = logged_in
    wf = create(user, HOOKED)
    open_edit(page, base, wf, "hook")
    # Test: validates, then Run now opens with a sample shaped for the webhook.
    page.click('[data-testid="mode-test"]')
    dialog = page.locator('[data-testid="run-dialog"]')
    dialog.wait_for()
    sample = json.loads(page.locator('[data-testid="run-input"]').input_value())
    assert set(sample) >= {"body", "headers", "query"}
    assert page.locator('[data-testid="mode-test"]').get_attribute("aria-pressed") == "true"
    page.click('[data-testid="run-start"]')
    result = page.locator('[data-testid="run-result"]')
    result.wait_for(timeout=30_000)
    assert result.get_attribute("data-status") == "completed"
    assert '"seen": true' in result.inner_text()
    screenshot("builder-run-now")
    page.keyboard.press("Escape")

    # Live: confirms, then activates.
    answers, seen = answer_dialogs(page)
    answers.append(True)
    page.click('[data-testid="mode-live"]')
    page.wait_for_selector('[data-testid="status-dot"][data-status="active"]')
    assert "Go Live?" in seen[0]
    wf.refresh_from_db()
    assert wf.status == "active"

    # Delete names the active triggers; cancelling keeps the workflow.
    page.click('[data-testid="open-more"]')
    page.click('[data-testid="delete"]')
    confirm = page.locator('[data-testid="delete-confirm"]')
    confirm.wait_for()
    assert "hook" in confirm.locator('[data-testid="delete-triggers"]').inner_text()
    assert "trigger.webhook" in confirm.inner_text()
    screenshot("builder-delete-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    assert confirm.count() == 0
    page.keyboard.press("Escape")

    # Back to Design: refused once (stays Live), then confirmed (deactivated).
    seen.clear()
    answers.extend([False, True])
    page.click('[data-testid="mode-design"]')
    page.wait_for_function("() => !document.querySelector('[data-testid=mode-design]').disabled")
    wf.refresh_from_db()
    assert wf.status == "active"
    assert page.locator('[data-testid="mode-live"]').get_attribute("aria-pressed") == "true"
    page.click('[data-testid="mode-design"]')
    page.wait_for_selector('[data-testid="status-dot"][data-status="inactive"]')
    assert all("Leave Live?" in m for m in seen)
    wf.refresh_from_db()
    assert wf.status == "inactive"

    # Duplicate opens the copy.
    page.click('[data-testid="open-more"]')
    page.click('[data-testid="duplicate"]')
    page.wait_for_url(lambda url: "/edit" in url and str(wf.pk) not in url)
    node(page, "shape").wait_for()
    copy_wf = Workflow.objects.exclude(pk=wf.pk).get()
    assert copy_wf.name == "Hooked (copy)"
    assert {n["id"] for n in copy_wf.versions.get().document["nodes"]} == {"hook", "shape"}

    # Delete of an inactive workflow: nothing to name; confirmed, it is gone.
    page.click('[data-testid="open-more"]')
    page.click('[data-testid="delete"]')
    page.locator('[data-testid="delete-confirm"]').wait_for()
    assert "No active triggers" in page.locator('[data-testid="delete-confirm"]').inner_text()
    page.click('[data-testid="delete-confirm-button"]')
    page.wait_for_url(f"{base}/")
    assert not Workflow.objects.filter(pk=copy_wf.pk).exists()


def test_toolbar_settings_variables_and_version_restore(logged_in, screenshot):
    page, user, base = logged_in
    page.set_viewport_size({"width": 1280, "height": 800})
    wf = create(user, SPEC_EXAMPLE)
    open_edit(page, base, wf)
    # The toolbar is one row at 1280×800: every control on one line, nothing cut off.
    tops = page.locator(".by-toolbar button").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect()).map(r => Math.round(r.top + r.height / 2))"
    )
    assert max(tops) - min(tops) <= 4, tops
    assert page.locator(".by-toolbar").evaluate("e => e.scrollWidth <= e.clientWidth")
    save = page.locator('[data-testid="save"]').bounding_box()
    assert save["x"] + save["width"] <= 1280

    # Settings panel.
    page.click('[data-testid="open-settings"]')
    page.fill('[data-testid="settings-timeout"]', "120")
    page.fill('[data-testid="settings-max-runs"]', "50")
    page.select_option('[data-testid="settings-timezone"]', "Europe/Berlin")
    page.click('[data-testid="settings-apply"]')

    # Variables panel: rows of name, type and value.
    page.click('[data-testid="open-variables"]')
    assert page.locator('[data-testid="variable-name-0"]').input_value() == "threshold"
    assert page.locator('[data-testid="variable-type-0"]').input_value() == "number"
    page.fill('[data-testid="variable-value-0"]', "250")
    page.click('[data-testid="variable-add"]')
    page.fill('[data-testid="variable-name-1"]', "region")
    page.fill('[data-testid="variable-value-1"]', "eu")
    page.click('[data-testid="variable-add"]')
    page.fill('[data-testid="variable-name-2"]', "2bad")
    page.click('[data-testid="variables-apply"]')
    assert "letter" in page.locator('[data-testid="variable-error-2"]').inner_text()
    screenshot("builder-variables")
    page.click('[data-testid="variable-remove-2"]')
    page.click('[data-testid="variables-apply"]')
    assert page.locator('[data-testid="variables-dialog"]').count() == 0
    wait_saved_state(page, "draft")
    page.click('[data-testid="save"]')
    wait_saved_state(page, "saved")
    wf.refresh_from_db()
    assert wf.version == 2
    doc = wf.versions.get(number=2).document
    assert doc["variables"] == {"threshold": 250, "region": "eu"}
    assert doc["settings"]["timeout_s"] == 120
    assert doc["settings"]["max_runs_per_day"] == 50
    assert doc["settings"]["timezone"] == "Europe/Berlin"
    # The panels show what was saved.
    page.click('[data-testid="open-settings"]')
    assert page.locator('[data-testid="settings-timeout"]').input_value() == "120"
    page.keyboard.press("Escape")

    # Restore v1: saved again as v3, with v1's settings and variables.
    page.click('[data-testid="open-versions"]')
    versions = page.locator('[data-testid="versions-dialog"]')
    versions.locator("tr[data-version='2']").wait_for()
    screenshot("builder-versions")
    page.click('[data-testid="restore-1"]')
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=save-message]')?.textContent || '')"
        ".includes('Restored v1 as v3')"
    )
    wf.refresh_from_db()
    assert wf.version == 3
    restored = wf.versions.get(number=3).document
    assert restored["variables"] == {"threshold": 100}
    assert restored["settings"]["timeout_s"] == 300
    page.click('[data-testid="open-variables"]')
    assert page.locator('[data-testid="variable-value-0"]').input_value() == "100"
    assert page.locator('[data-testid="variable-row"]').count() == 1


def test_paste_across_workflows_and_keep_mine_after_a_conflict(logged_in, screenshot):
    page, user, base = logged_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    source = create(user, SPEC_EXAMPLE)
    target = create(user, HOOKED)
    open_edit(page, base, source)
    node(page, "small").click()
    page.keyboard.press("Control+c")
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied["schema"] == "switchyard.workflow/1"
    assert [n["id"] for n in copied["nodes"]] == ["small"]

    # Another workflow, another page: paste from the clipboard.
    other = page.context.new_page()
    open_edit(other, base, target, "hook")
    other.locator('[data-testid="canvas"] .react-flow__pane').click(position={"x": 40, "y": 40})
    other.keyboard.press("Control+v")
    other.locator('[data-node-type="data.transform"] >> text=small').first.wait_for()
    wait_saved_state(other, "draft")
    draft = WorkflowDraft.objects.get(workflow=target)
    pasted = [n for n in draft.document["nodes"] if n["id"] not in ("hook", "shape")]
    assert len(pasted) == 1 and pasted[0]["config"]["set"] == {"tier": "basic"}
    screenshot("builder-pasted")
    other.close()

    # Keep mine: a stale page overwrites the newer version only when told to.
    stale = page.context.new_page()
    open_edit(stale, base, target, "hook")
    open_edit(page, base, target, "hook")
    page.fill('[data-testid="workflow-name"]', "Saved first")
    page.click('[data-testid="save"]')
    wait_saved_state(page, "saved")
    stale.fill('[data-testid="workflow-name"]', "Mine after all")
    stale.locator('[data-testid="conflict"]').wait_for()
    assert Workflow.objects.get(pk=target.pk).name == "Saved first"
    stale.click('[data-testid="conflict-overwrite"]')
    wait_saved_state(stale, "draft")
    assert stale.locator('[data-testid="conflict"]').count() == 0
    stale.click('[data-testid="save"]')
    wait_saved_state(stale, "saved")
    target.refresh_from_db()
    assert target.name == "Mine after all"
    assert target.version == 3
    screenshot("builder-keep-mine")


def completions_at(page, node_id) -> list[str]:
    """The completions offered after `{{ i` in the first `set` value of node `node_id`."""
    node(page, node_id).click()
    field = '[data-testid="config-drawer"] [aria-label="set value 1"]'
    page.locator(field).wait_for()
    page.locator(field).click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    type_expression(page, field, "{{ ")
    page.keyboard.type("i")
    page.wait_for_timeout(600)  # let the completion source answer (or not)
    offered = page.locator(".cm-tooltip-autocomplete li .cm-completionLabel").all_inner_texts()
    # Close the list before the next click: an open one takes that click (the drawer of the
    # next node then never opens).
    page.keyboard.press("Escape")
    page.locator(".cm-tooltip-autocomplete").wait_for(state="hidden")
    return offered


def test_item_and_index_are_offered_only_inside_a_loop_body(logged_in):
    page, user, base = logged_in
    wf = create(
        user,
        {
            "schema": "switchyard.workflow/1",
            "name": "Looping",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "position": [0, 0]},
                {
                    "id": "each",
                    "type": "logic.loop",
                    "config": {"items": "{{ input.rows }}"},
                    "position": [260, 0],
                },
                {
                    "id": "body",
                    "type": "data.transform",
                    "config": {"set": {"x": "1"}},
                    "position": [520, -80],
                },
                {
                    "id": "after",
                    "type": "data.transform",
                    "config": {"set": {"y": "1"}},
                    "position": [520, 120],
                },
            ],
            "edges": [
                {"source": "start", "target": "each"},
                {"source": "each", "source_handle": "each", "target": "body"},
                {"source": "each", "source_handle": "done", "target": "after"},
            ],
        },
    )
    open_edit(page, base, wf)
    inside = completions_at(page, "body")
    assert "item" in inside and "index" in inside, inside
    outside = completions_at(page, "after")
    assert "item" not in outside and "index" not in outside, outside
    assert "input" in outside


@pytest.mark.parametrize("path", ["/", "/workflows/{id}/", "/credentials/", "/connectors/", "/runs"])
def test_the_older_pages_follow_a_dark_system_setting(logged_in, path, screenshot):
    from runs.services import start_run

    page, user, base = logged_in
    wf = create(user, SPEC_EXAMPLE)
    for amount in (50, 500):  # runs, so status chips and run rows are drawn
        start_run(workflow=wf, input={"amount": amount}, mode="test")
    page.emulate_media(color_scheme="dark")
    page.goto(f"{base}{path.format(id=wf.pk)}")
    page.wait_for_load_state("networkidle")
    # Every card, table, input and panel is dark: nothing light is left on the dark page.
    light = page.evaluate(
        """() => {
          const lum = (c) => { const m = c.match(/\\d+(\\.\\d+)?/g); if (!m) return 0;
            const [r, g, b, a] = m.map(Number); if (a === 0) return 0;
            return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
          const out = [];
          for (const el of document.querySelectorAll('main *, body')) {
            const s = getComputedStyle(el);
            if (s.display === 'none' || s.visibility === 'hidden') continue;
            const box = el.getBoundingClientRect();
            if (box.width * box.height < 600) continue;  // dots and icons keep their colour
            const bg = s.backgroundColor;
            if (lum(bg) > 0.6) out.push(`${el.tagName}.${el.className} ${bg}`);
          }
          return out;
        }"""
    )
    assert light == [], light
    screenshot("dark-" + (path.strip("/").split("/")[0] or "home"))
