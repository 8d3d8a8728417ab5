"""The pages a new user opens after `make run`: login, the home page, admin and API docs."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    call_command("load_demo")
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="demo")


def test_home_redirects_anonymous_users_to_login(client):
    res = client.get("/")
    assert res.status_code == 302 and res.url.startswith("/accounts/login/")
    assert client.get("/accounts/login/").status_code == 200


def test_demo_login_sees_the_demo_workspace_and_examples(client, demo, settings):
    assert client.login(username="demo", password=settings.DEMO_PASSWORD)
    page = client.get("/").content.decode()
    assert "Demo workspace" in page
    for name in ("Order triage", "Welcome each new member", "Score leads with code", "Beta sign-up"):
        assert name in page


def test_load_demo_is_idempotent(demo):
    from workflows.models import Workflow, Workspace

    call_command("load_demo")
    assert Workspace.objects.filter(name="Demo workspace").count() == 1
    assert Workflow.objects.filter(workspace__name="Demo workspace").count() == 4


def test_workflow_page_shows_nodes_and_empty_run_history(client, demo, settings):
    from workflows.models import Workflow

    client.login(username="demo", password=settings.DEMO_PASSWORD)
    wf = Workflow.objects.get(name="Order triage")
    page = client.get(f"/workflows/{wf.pk}/").content.decode()
    assert "Gold lane" in page and "No runs yet" in page


def test_admin_and_api_docs_are_served_to_the_demo_user(client, demo, settings):
    client.login(username="demo", password=settings.DEMO_PASSWORD)
    for path in ("/admin/", "/admin/runs/workflowrun/", "/admin/connectors/credential/", "/api/docs/"):
        assert client.get(path).status_code == 200, path


def test_new_user_home_shows_an_empty_state(client, alice):
    client.login(username="alice", password="pw-alice")
    page = client.get("/").content.decode()
    assert "No workflows yet" in page and "alice" in page


def test_every_admin_changelist_and_add_page_loads(client, demo, settings):
    from django.contrib import admin

    client.login(username="demo", password=settings.DEMO_PASSWORD)
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        assert client.get(url + "?q=x").status_code == 200, url


@pytest.mark.usefixtures("inline_queue")
def test_demo_sign_up_is_live_through_its_form_and_its_webhook(client, demo):
    """The demo ships one active workflow so a fresh `make run` shows live triggers."""
    from runs.models import WorkflowRun
    from workflows.models import TriggerEndpoint, Workflow

    wf = Workflow.objects.get(name="Beta sign-up")
    assert wf.status == "active"
    tokens = {e.node_id: e.token for e in TriggerEndpoint.objects.filter(workflow=wf)}
    form = client.get(f"/forms/{tokens['signup']}")
    assert form.status_code == 200 and "Join the beta" in form.content.decode()
    submission = {
        "f-name": "Ada",
        "f-email": "ada@example.com",
        "f-plan": "pro",
        "f-terms": "on",
        "_submission": "demo-1",
    }
    assert client.post(f"/forms/{tokens['signup']}", submission).status_code == 302
    hook = client.post(
        f"/hooks/{tokens['hook']}",
        {"email": "bo@example.com", "plan": "starter"},
        content_type="application/json",
    )
    assert hook.status_code == 200, hook.content
    assert hook.json() == {"email": "bo@example.com", "plan": "starter", "lane": "standard"}
    form_run = WorkflowRun.objects.get(workflow=wf, trigger_type="trigger.form")
    assert form_run.status == "completed"
    assert form_run.output == {"email": "ada@example.com", "plan": "pro", "lane": "priority"}


def test_admin_and_api_docs_speak_the_apps_visual_language(client, demo, settings):
    """The admin and the API docs carry the app's name, favicon and colours, with a way home;
    /workflows/ (the list's natural address) leads to the list instead of a 404."""
    client.login(username="demo", password=settings.DEMO_PASSWORD)
    admin_page = client.get("/admin/").content.decode()
    assert "Switchyard" in admin_page and "Django administration" not in admin_page
    assert 'href="/"' in admin_page and "css/admin.css" in admin_page and "favicon.svg" in admin_page
    docs = client.get("/api/docs/").content.decode()
    assert 'class="topbar"' in docs and "css/app.css" in docs and "favicon.svg" in docs
    assert 'href="/runs"' in docs  # the same navigation as every page
    res = client.get("/workflows/")
    assert res.status_code == 302 and res.url == "/"
