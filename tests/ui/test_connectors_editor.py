"""The connector pages in a real browser: build a two-step connector against a real local
API, press Test, read each step's request and response; reorder and validation errors."""

from __future__ import annotations

import pytest

from connectors.models import Connector, ConnectorExecution
from tests.connectors.api_server import ApiServer

SECRET = "tok-ui-7f3a9c1e55"


@pytest.fixture
def api_server(settings):
    settings.ALLOW_PRIVATE_OUTBOUND = True  # the live server runs in this process
    server = ApiServer()
    yield server
    server.close()


def _workspace(user):
    from workflows.services import ensure_personal_workspace

    return ensure_personal_workspace(user=user)


def test_build_two_step_connector_and_test_it(logged_in, api_server, screenshot):
    page, user, base = logged_in
    from connectors.services import create_credential

    create_credential(workspace=_workspace(user), name="api_token", kind="bearer", data={"token": SECRET})
    api_server.route(
        "GET", "/users", lambda seen: (200, {"id": 42, "email": seen.query.get("email", [""])[0]})
    )
    api_server.route("GET", "/users/42", (200, {"id": 42, "name": "Ada Lovelace", "plan": "pro"}))

    page.goto(f"{base}/connectors/")
    assert page.get_by_role("heading", name="No connectors yet").is_visible()
    screenshot("connectors-empty")
    page.get_by_role("link", name="New connector").click()
    page.wait_for_url(f"{base}/connectors/new/")

    page.fill("input[name=name]", "CRM lookup")
    first = page.locator("li.step").nth(0)
    first.get_by_label("Step name").fill("find_user")
    first.locator("input[name$=-url]").fill(api_server.url("/users"))
    first.locator("textarea[name$=-query]").fill("email: {{ input.email }}")
    first.locator("select[name$=-auth_type]").select_option("bearer")
    first.locator("input[name$=-auth_token]").fill("{{ workspace.api_token }}")

    page.get_by_role("button", name="+ Add step").click()
    second = page.locator("li.step").nth(1)
    assert second.locator(".step-num").inner_text() == "2"
    second.get_by_label("Step name").fill("get_user")
    second.locator("input[name$=-url]").fill(api_server.url("/users/{{ steps.find_user.id }}"))
    second.locator("textarea[name$=-headers]").fill("Accept: application/json")
    page.fill("textarea[name=sample_input]", '{"email": "ada@example.com"}')
    screenshot("connector-editor-filled")

    page.get_by_role("button", name="Test", exact=True).click()
    result = page.locator("[data-testid=execution]")
    result.wait_for()
    assert result.get_attribute("data-status") == "completed"
    steps = result.locator("[data-testid=exec-step]")
    assert steps.count() == 2
    first_request = steps.nth(0).locator("[data-testid=request]").inner_text()
    assert "GET" in first_request and api_server.url("/users") in first_request
    assert "ada@example.com" in first_request and "Authorization\t***" in first_request
    assert "200" in steps.nth(0).locator("[data-testid=response]").inner_text()
    second_request = steps.nth(1).locator("[data-testid=request]").inner_text()
    assert api_server.url("/users/42") in second_request and "application/json" in second_request
    assert "Ada Lovelace" in steps.nth(1).locator("[data-testid=response]").inner_text()
    assert "Ada Lovelace" in result.locator("[data-testid=output]").inner_text()
    assert SECRET not in page.content()
    screenshot("connector-test-result")

    # What the page showed is the stored record, and the remote API saw the real token.
    connector = Connector.objects.get(name="CRM lookup")
    execution = ConnectorExecution.objects.get(connector=connector)
    assert str(execution.pk) in page.content()
    assert connector.kind == "multi-step" and connector.total_executions == 1
    assert api_server.requests_to("/users")[0].headers["authorization"] == f"Bearer {SECRET}"
    assert page.locator("#executions tbody tr").count() == 1

    page.goto(f"{base}/connectors/")
    row = page.locator("[data-testid=connector-table] tbody tr")
    assert row.count() == 1 and "Multi step" in row.inner_text() and "100%" in row.inner_text()
    screenshot("connectors-list")


def test_reorder_remove_and_field_errors_keep_the_input(logged_in, api_server, screenshot):
    page, _user, base = logged_in
    page.goto(f"{base}/connectors/new")
    page.fill("input[name=name]", "Chain")
    for _ in range(2):
        page.get_by_role("button", name="+ Add step").click()
    steps = page.locator("li.step")
    steps.nth(0).get_by_label("Step name").fill("first")
    steps.nth(0).locator("input[name$=-url]").fill(api_server.url("/a"))
    steps.nth(1).get_by_label("Step name").fill("doomed")
    steps.nth(2).get_by_label("Step name").fill("third")
    steps.nth(2).locator("input[name$=-url]").fill("{{ steps.first.next }}")
    steps.nth(2).locator("textarea[name$=-body]").fill('{"broken": ')
    steps.nth(1).get_by_role("button", name="Remove step").click()
    assert steps.count() == 2
    steps.nth(1).get_by_role("button", name="Move step up").click()
    assert [steps.nth(i).get_by_label("Step name").input_value() for i in range(2)] == ["third", "first"]

    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("[data-testid=error-summary]")
    steps = page.locator("li.step")
    # The order and what was typed survive the round trip; messages sit on their step and field.
    assert [steps.nth(i).get_by_label("Step name").input_value() for i in range(2)] == ["third", "first"]
    third = steps.nth(0)
    assert third.locator("textarea[name$=-body]").input_value() == '{"broken": '
    errors = third.locator(".field-error").all_inner_texts()
    assert any("body must be JSON" in e for e in errors)
    assert any("steps.first" in e and "not an earlier step" in e for e in errors)
    assert third.locator("textarea[name$=-body]").get_attribute("aria-invalid") == "true"
    assert not steps.nth(1).locator(".field-error").count()
    assert not Connector.objects.exists()
    screenshot("connector-editor-errors")
