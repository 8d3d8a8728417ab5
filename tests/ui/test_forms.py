"""A visitor fills in a hosted form in a real browser."""

import pytest

from runs.models import WorkflowRun

FIELDS = [
    {
        "name": "full_name",
        "label": "Full name",
        "type": "text",
        "required": True,
        "placeholder": "Ada Lovelace",
    },
    {"name": "email", "label": "Work email", "type": "email", "required": True},
    {"name": "team_size", "label": "Team size", "type": "number", "help": "Roughly is fine."},
    {
        "name": "plan",
        "label": "Plan",
        "type": "select",
        "options": ["Starter", "Team", "Enterprise"],
        "required": True,
    },
    {"name": "start", "label": "Preferred start", "type": "date"},
    {"name": "message", "label": "Message", "type": "textarea"},
    {"name": "terms", "label": "I accept the terms of the beta", "type": "checkbox", "required": True},
]


@pytest.fixture
def form_url(live_server, django_user_model):
    from workflows.services import create_workflow, ensure_personal_workspace
    from workflows.triggers.activation import activate_workflow
    from workflows.triggers.endpoints import active_triggers

    owner = django_user_model.objects.create_user("owner", password="pw-owner-1")
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "Beta signup",
        "nodes": [
            {
                "id": "signup",
                "type": "trigger.form",
                "config": {
                    "title": "Join the Switchyard beta",
                    "fields": FIELDS,
                    "description": "Tell us a little about your team and we will set you up.",
                    "submit_label": "Request access",
                    "success_message": "Thanks! We will email you within one working day.",
                },
            }
        ],
        "edges": [],
    }
    workflow = create_workflow(user=owner, workspace=ensure_personal_workspace(user=owner), document=doc)
    workflow = activate_workflow(workflow=workflow)
    [trigger] = active_triggers(workflow)
    return workflow, live_server.url + "/forms/" + trigger["url"].rsplit("/", 1)[1]


def test_visitor_fixes_their_mistakes_then_reaches_the_thank_you_page(page, screenshot, form_url):
    workflow, url = form_url
    page.goto(url)
    assert page.get_by_role("heading", name="Join the Switchyard beta").is_visible()
    assert page.locator("header nav").count() == 0  # public page: no app navigation
    screenshot("form-empty")

    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Work email").fill("ada@example")
    page.get_by_label("Team size").fill("12")
    page.get_by_role("button", name="Request access").click()
    page.wait_for_selector(".summary")
    assert "Please check the 3 highlighted fields below." in page.locator(".summary").inner_text()
    assert page.locator(".has-error").count() == 3
    assert page.get_by_label("Full name").input_value() == "Ada Lovelace"  # kept
    assert "Enter a valid email address." in page.locator(".field.has-error").first.inner_text()
    screenshot("form-errors")

    page.get_by_label("Work email").fill("ada@example.com")
    page.get_by_label("Plan").select_option("Team")
    page.get_by_label("Preferred start").fill("2025-06-02")
    page.get_by_label("Message").fill("We run 40 workflows a day.")
    page.get_by_label("I accept the terms of the beta").check()
    page.get_by_role("button", name="Request access").click()
    page.wait_for_url(url + "/thanks")
    assert page.get_by_text("Thanks! We will email you within one working day.").is_visible()
    screenshot("form-thanks")

    [run] = WorkflowRun.objects.filter(workflow=workflow)
    assert run.mode == "live" and run.trigger_type == "trigger.form"
    assert run.input == {
        "fields": {
            "full_name": "Ada Lovelace",
            "email": "ada@example.com",
            "team_size": 12,
            "plan": "Team",
            "start": "2025-06-02",
            "message": "We run 40 workflows a day.",
            "terms": True,
        }
    }


def test_an_unknown_form_link_shows_a_friendly_page(page, screenshot, live_server):
    page.goto(live_server.url + "/forms/not-a-form")
    assert page.get_by_role("heading", name="This form isn’t available").is_visible()
    screenshot("form-404")
