"""The credentials pages in a real browser: add one, see which fields are set, replace a
value, delete with confirmation — and never find a value in the page."""

from __future__ import annotations

from connectors.models import Credential

SECRET = "sk-live-ui-93be71d0c4"
NEW_SECRET = "sk-live-ui-replaced-5521"


def test_add_replace_and_delete_a_credential_without_ever_showing_it(logged_in, screenshot):
    page, _user, base = logged_in
    page.goto(f"{base}/credentials/")
    assert page.get_by_role("heading", name="No credentials yet").is_visible()
    screenshot("credentials-empty")

    form = page.locator("[data-testid=add-credential]")
    form.locator("input[name=name]").fill("billing_api")
    form.locator("select[name=kind]").select_option("bearer")
    token = form.get_by_label("Token", exact=True)
    assert token.is_visible() and not form.get_by_label("Username", exact=True).is_visible()
    token.fill(SECRET)
    form.get_by_role("button", name="Add credential").click()

    row = page.locator("[data-testid=credential-table] tbody tr")
    row.wait_for()
    assert row.count() == 1
    text = row.inner_text()
    assert "billing_api" in text and "Bearer token" in text and "token" in text and "SET" in text.upper()
    assert "never" in text
    assert SECRET not in page.content()
    assert Credential.objects.get(name="billing_api").data == {"token": SECRET}
    screenshot("credentials-list")

    row.get_by_role("link", name="Replace").click()
    replace = page.locator("[data-testid=replace-credential]")
    assert replace.locator("[data-testid=set-marker]").count() == 1
    value_input = replace.get_by_label("New value for token")
    assert value_input.input_value() == "" and value_input.get_attribute("value") == ""
    assert SECRET not in page.content()
    screenshot("credential-replace")
    value_input.fill(NEW_SECRET)
    replace.get_by_role("button", name="Save").click()
    page.get_by_text("Saved credential billing_api").wait_for()
    assert NEW_SECRET not in page.content() and SECRET not in page.content()
    assert Credential.objects.get(name="billing_api").data == {"token": NEW_SECRET}

    page.get_by_role("link", name="Delete").click()
    assert page.get_by_role("heading", name="Delete credential “billing_api”?").is_visible()
    screenshot("credential-delete-confirm")
    page.get_by_role("button", name="Delete credential").click()
    page.get_by_text("Deleted credential billing_api").wait_for()
    assert not Credential.objects.exists()


def test_custom_credential_fields_and_a_refused_name(logged_in, screenshot):
    page, _user, base = logged_in
    page.goto(f"{base}/credentials/")
    form = page.locator("[data-testid=add-credential]")
    form.locator("select[name=kind]").select_option("custom")
    form.locator("input[name=name]").fill("bad name!")
    names, values = form.locator("input[name=custom_name]"), form.locator("input[name=custom_value]")
    names.nth(0).fill("username")
    values.nth(0).fill("ada")
    names.nth(1).fill("password")
    values.nth(1).fill(SECRET)
    form.get_by_role("button", name="Add credential").click()
    form = page.locator("[data-testid=add-credential]")
    assert "must match" in form.locator(".field-error").first.inner_text()
    # The field names come back; the values do not.
    assert form.locator("input[name=custom_name]").nth(1).input_value() == "password"
    assert SECRET not in page.content()
    screenshot("credentials-add-error")

    form.locator("input[name=name]").fill("crm")
    form.locator("input[name=custom_value]").nth(0).fill("ada")
    form.locator("input[name=custom_value]").nth(1).fill(SECRET)
    form.get_by_role("button", name="Add credential").click()
    row = page.locator("[data-testid=credential-table] tbody tr")
    row.wait_for()
    assert "password" in row.inner_text() and "username" in row.inner_text()
    assert SECRET not in page.content()
    assert Credential.objects.get(name="crm").data == {"username": "ada", "password": SECRET}
