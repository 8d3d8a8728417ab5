"""Connector and credential pages through Django's test client: scoping (404 outside your
workspaces), read-only viewers (403 on writes), validation messages next to their fields
with the input kept, Test recording a real execution, and credential values never
appearing in any page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from connectors.models import Connector, ConnectorExecution, Credential
from workflows.services import add_member

from .factories import make_connector, make_credential, workspace_of

SECRET = "s3cr3t-page-value-81f0aa"

pytestmark = pytest.mark.usefixtures("private_outbound")


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_web(alice):
    return browser_for(alice)


@pytest.fixture
def bob_web(bob):
    return browser_for(bob)


class FormFields(HTMLParser):
    """What a browser would submit from the page's form `form_id` (outside <template>)."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.in_template = form_id, False, 0
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if tag == "template":
            self.in_template += 1
        if not self.inside or self.in_template or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind != "submit":
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select:
            self._options.append((a.get("value"), "selected" in a))
            self._text = ""

    def handle_data(self, data):
        self._text += data

    def handle_endtag(self, tag):
        if tag == "template":
            self.in_template -= 1
        elif tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "option" and self._select and self._options[-1][0] is None:
            self._options[-1] = (self._text.strip(), self._options[-1][1])
        elif tag == "select" and self._select:
            chosen = [v for v, s in self._options if s] or [self._options[0][0]]
            self.fields.append((self._select, chosen[0]))
            self._select = None


def form_data(html: str, form_id: str = "connector-form") -> dict[str, list[str]]:
    import html as html_lib

    parser = FormFields(form_id)
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(html_lib.unescape(value))
    return data


# ---------------------------------------------------------------------------- scoping


def test_connector_pages_are_scoped_to_the_users_workspaces(alice, alice_web, bob_web, api_server):
    connector = make_connector(workspace_of(alice), {"url": api_server.url("/x")}, name="alice-only")
    assert "alice-only" in alice_web.get("/connectors/").content.decode()
    assert "alice-only" not in bob_web.get("/connectors/").content.decode()
    for path in (
        f"/connectors/{connector.pk}/",
        f"/connectors/{connector.pk}",
        f"/connectors/{connector.pk}/delete",
    ):
        assert bob_web.get(path).status_code == 404
        assert bob_web.post(path, {"name": "stolen"}).status_code == 404
    connector.refresh_from_db()
    assert connector.name == "alice-only"


def test_credential_pages_are_scoped_to_the_users_workspaces(alice, alice_web, bob_web):
    credential = make_credential(workspace_of(alice), "stripe", {"token": SECRET}, kind="bearer")
    assert "stripe" in alice_web.get("/credentials/").content.decode()
    assert "stripe" not in bob_web.get("/credentials/").content.decode()
    for path in (f"/credentials/{credential.pk}/", f"/credentials/{credential.pk}/delete"):
        assert bob_web.get(path).status_code == 404
        assert bob_web.post(path, {"name": "stripe", "field_token": "stolen"}).status_code == 404
    assert Credential.objects.get().data == {"token": SECRET}


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for path in ("/connectors/", "/connectors/new", "/credentials/"):
        res = client.get(path)
        assert res.status_code == 302 and res["Location"].startswith("/accounts/login/")


# ------------------------------------------------------------------------------ roles


@pytest.fixture
def bob_views_alices_workspace(alice, bob):
    add_member(workspace=workspace_of(alice), user=bob, role="viewer")


def test_viewer_sees_connector_read_only_and_cannot_change_or_run_it(
    alice, bob, bob_web, bob_views_alices_workspace, api_server
):
    connector = make_connector(workspace_of(alice), {"url": api_server.url("/x")}, name="shared")
    page = bob_web.get(f"/connectors/{connector.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "shared" in html and "read-only" in html
    assert 'fieldset class="plain" disabled' in html and 'value="test"' not in html
    assert (
        bob_web.post(f"/connectors/{connector.pk}/", {"name": "renamed", "action": "test"}).status_code == 403
    )
    assert bob_web.post(f"/connectors/{connector.pk}/delete").status_code == 403
    assert bob_web.get("/connectors/new").status_code == 403  # bob can write nowhere
    assert "New connector" not in bob_web.get("/connectors/").content.decode()
    assert Connector.objects.get().name == "shared" and not ConnectorExecution.objects.exists()
    assert not api_server.seen


def test_viewer_sees_credentials_read_only_and_cannot_change_them(alice, bob_web, bob_views_alices_workspace):
    credential = make_credential(
        workspace_of(alice), "crm", {"username": "ada", "password": SECRET}, kind="basic"
    )
    listing = bob_web.get("/credentials/").content.decode()
    assert "crm" in listing and "read-only" in listing and "Add a credential" not in listing
    detail = bob_web.get(f"/credentials/{credential.pk}/").content.decode()
    assert "password" in detail and SECRET not in detail and 'fieldset class="plain" disabled' in detail
    assert (
        bob_web.post(f"/credentials/{credential.pk}/", {"name": "crm", "field_password": "x"}).status_code
        == 403
    )
    assert bob_web.post(f"/credentials/{credential.pk}/delete").status_code == 403
    assert (
        bob_web.post("/credentials/", {"name": "mine", "kind": "bearer", "field_token": "t"}).status_code
        == 403
    )
    assert Credential.objects.get().data == {"username": "ada", "password": SECRET}


# ------------------------------------------------------------------------- the editor


def test_list_shows_an_empty_state_with_a_new_connector_action(alice_web):
    html = alice_web.get("/connectors/").content.decode()
    assert "No connectors yet" in html and 'href="/connectors/new/"' in html


def _step_fields(key: str, **values) -> dict:
    base = {
        "name": "",
        "method": "GET",
        "url": "",
        "query": "",
        "headers": "",
        "auth_type": "none",
        "body_type": "json",
        "body": "",
        "timeout_ms": "",
    }
    base.update(values)
    return {"step_key": key, **{f"s-{key}-{k}": v for k, v in base.items()}}


def _post_data(*steps: dict, **top) -> dict:
    data = {
        "name": "Lookup",
        "timeout_ms": "5000",
        "retries": "2",
        "sample_input": "{}",
        "action": "save",
        **top,
    }
    data["step_key"] = [s["step_key"] for s in steps]
    for s in steps:
        data.update({k: v for k, v in s.items() if k != "step_key"})
    return data


def test_creating_a_connector_from_the_form_stores_its_config(alice, alice_web, api_server):
    data = _post_data(
        _step_fields(
            "a",
            name="find",
            url=api_server.url("/users"),
            query="email: {{ input.email }}",
            auth_type="bearer",
            auth_token="{{ workspace.api_token }}",
        ),
        _step_fields(
            "b",
            name="update",
            method="PATCH",
            url=api_server.url("/users/{{ steps.find.id }}"),
            headers="Accept: application/json\nX-Trace: a\nX-Trace: b",
            body='{"phone": "{{ input.phone }}"}',
            timeout_ms="1500",
            continue_on_error="on",
        ),
        workspace=str(workspace_of(alice).pk),
        retries="4",
        combine_outputs="on",
    )
    res = alice_web.post("/connectors/new", data)
    assert res.status_code == 302, res.content.decode()[:2000]
    connector = Connector.objects.get()
    assert res["Location"] == f"/connectors/{connector.pk}/"
    assert connector.kind == "multi-step" and connector.timeout_ms == 5000
    assert connector.config == {
        "retry": {"max_attempts": 5},
        "combine_outputs": True,
        "steps": [
            {
                "name": "find",
                "method": "GET",
                "url": api_server.url("/users"),
                "queryParams": {"email": "{{ input.email }}"},
                "auth": {"type": "bearer", "token": "{{ workspace.api_token }}"},
            },
            {
                "name": "update",
                "method": "PATCH",
                "url": api_server.url("/users/{{ steps.find.id }}"),
                "headers": {"Accept": "application/json", "X-Trace": ["a", "b"]},
                "body": {"phone": "{{ input.phone }}"},
                "bodyType": "json",
                "timeout_ms": 1500,
                "continue_on_error": True,
            },
        ],
    }


def test_saving_the_page_unchanged_keeps_settings_the_form_does_not_edit(alice, alice_web, api_server):
    config = {
        "steps": [
            {
                "name": "find",
                "url": api_server.url("/u"),
                "description": "look up",
                "retry": {"max_attempts": 1},
            },
            {
                "name": "get",
                "url": api_server.url("/u/{{ steps.find.id }}"),
                "method": "GET",
                "auth": {"type": "api_key", "in": "query", "name": "key", "value": "{{ workspace.k }}"},
            },
        ],
        "retry": {"max_attempts": 2, "delays_ms": [10, 20]},
        "response_mapping": {"email": "{{ output.email }}"},
    }
    connector = make_connector(workspace_of(alice), config, name="keep")
    page = alice_web.get(f"/connectors/{connector.pk}/").content.decode()
    data = form_data(page)
    data["action"] = ["save"]
    res = alice_web.post(f"/connectors/{connector.pk}/", data)
    assert res.status_code == 302, res.content.decode()[:3000]
    connector.refresh_from_db()
    assert connector.config["retry"] == {"max_attempts": 2, "delays_ms": [10, 20]}
    assert connector.config["response_mapping"] == {"email": "{{ output.email }}"}
    assert connector.config["steps"][0]["description"] == "look up"
    assert connector.config["steps"][0]["retry"] == {"max_attempts": 1}
    assert connector.config["steps"][1]["auth"] == config["steps"][1]["auth"]


def test_single_step_connector_round_trips_as_single_step(alice, alice_web, api_server):
    connector = make_connector(
        workspace_of(alice),
        {"url": api_server.url("/one"), "method": "POST", "body": {"a": 1}},
        name="single",
    )
    data = form_data(alice_web.get(f"/connectors/{connector.pk}/").content.decode())
    data["action"] = ["save"]
    assert alice_web.post(f"/connectors/{connector.pk}", data).status_code == 302
    connector.refresh_from_db()
    assert connector.kind == "single-step"
    assert connector.config == {
        "method": "POST",
        "url": api_server.url("/one"),
        "body": {"a": 1},
        "bodyType": "json",
    }


def test_validation_errors_rerender_next_to_their_fields_with_the_input_kept(alice, alice_web):
    data = _post_data(
        _step_fields("a", name="find", url="https://api.example.com/users"),
        _step_fields("b", name="update", method="PATCH", url="", body='{"phone": ', headers="no colon here"),
        _step_fields("c", name="later", url="https://x/{{ steps.nope.id }}", timeout_ms="-5"),
        workspace=str(workspace_of(alice).pk),
        timeout_ms="abc",
        name="Still typed",
    )
    res = alice_web.post("/connectors/new", data)
    assert res.status_code == 400
    html = res.content.decode()
    assert not Connector.objects.exists()
    assert "problems to fix" in html
    form = res.context["form"]
    assert [s.key for s in form.steps] == ["a", "b", "c"]
    assert not form.steps[0].errors
    assert set(form.steps[1].errors) >= {"url", "body", "headers"}
    assert "url is required" in form.steps[1].errors["url"][0]
    assert any("not an earlier step" in m for m in form.steps[2].errors["url"])
    assert "timeout_ms" in form.steps[2].errors and "timeout_ms" in form.errors
    # What was typed comes back as typed.
    assert 'value="Still typed"' in html and "no colon here</textarea>" in html
    assert "{&quot;phone&quot;: </textarea>" in html or '{"phone": </textarea>' in html
    # A message renders inside its own step block.
    step_b = html[html.index('data-key="b"') : html.index('data-key="c"')]
    assert "url is required" in step_b and 'aria-invalid="true"' in step_b


def test_duplicate_name_and_config_problems_from_the_service_are_shown(alice, alice_web, api_server):
    make_connector(workspace_of(alice), {"url": api_server.url("/x")}, name="Taken")
    data = _post_data(
        _step_fields("a", url="ftp://files", auth_type="bearer"),
        workspace=str(workspace_of(alice).pk),
        name="Taken",
    )
    res = alice_web.post("/connectors/new", data)
    assert res.status_code == 400
    form = res.context["form"]
    assert "url" in form.steps[0].errors and "auth_token" in form.steps[0].errors
    data = _post_data(
        _step_fields("a", url=api_server.url("/y")), workspace=str(workspace_of(alice).pk), name="Taken"
    )
    res = alice_web.post("/connectors/new", data)
    assert res.status_code == 400
    assert "already has a connector called 'Taken'" in res.context["form"].errors["name"][0]
    assert Connector.objects.count() == 1


def test_test_button_saves_runs_and_shows_the_stored_execution(alice, alice_web, api_server):
    make_credential(workspace_of(alice), "api_token", {"token": SECRET}, kind="bearer")
    api_server.route("GET", "/users", (200, {"id": 7}))
    api_server.route("GET", "/users/7", (503, {"error": "down"}))
    data = _post_data(
        _step_fields(
            "a",
            name="find",
            url=api_server.url("/users"),
            auth_type="bearer",
            auth_token="{{ workspace.api_token }}",
        ),
        _step_fields("b", name="get", url=api_server.url("/users/{{ steps.find.id }}")),
        workspace=str(workspace_of(alice).pk),
        retries="0",
        sample_input='{"email": "a@example.com"}',
        action="test",
    )
    res = alice_web.post("/connectors/new", data)
    assert res.status_code == 302
    execution = ConnectorExecution.objects.get()
    assert res["Location"].endswith(f"?execution={execution.pk}#result")
    assert execution.status == "failed" and execution.error_category == "SERVICE_UNAVAILABLE"
    html = alice_web.get(res["Location"]).content.decode()
    assert str(execution.pk) in html and "SERVICE_UNAVAILABLE" in html and "step &#x27;get&#x27;" in html
    assert html.count('data-testid="exec-step"') == 2 and "/users/7" in html and "503" in html
    assert SECRET not in html and "***" in html
    assert "a@example.com" in html  # the test input is kept for the next run
    assert api_server.requests_to("/users")[0].headers["authorization"] == f"Bearer {SECRET}"


def test_test_input_must_be_json(alice, alice_web, api_server):
    data = _post_data(
        _step_fields("a", url=api_server.url("/x")),
        workspace=str(workspace_of(alice).pk),
        sample_input="{not json",
        action="test",
    )
    res = alice_web.post("/connectors/new", data)
    assert res.status_code == 400 and "must be JSON" in res.context["form"].errors["sample_input"][0]
    assert not Connector.objects.exists() and not api_server.seen


def test_unknown_execution_on_a_connector_page_is_404(alice, alice_web, api_server):
    connector = make_connector(workspace_of(alice), {"url": api_server.url("/x")})
    assert alice_web.get(f"/connectors/{connector.pk}/?execution=not-a-uuid").status_code == 404
    assert alice_web.get(f"/connectors/{connector.pk}/?execution={connector.pk}").status_code == 404


def test_delete_connector_asks_first(alice, alice_web, api_server):
    connector = make_connector(workspace_of(alice), {"url": api_server.url("/x")}, name="gone")
    assert "Delete connector" in alice_web.get(f"/connectors/{connector.pk}/delete").content.decode()
    assert Connector.objects.exists()
    res = alice_web.post(f"/connectors/{connector.pk}/delete")
    assert res.status_code == 302 and res["Location"] == "/connectors/"
    assert not Connector.objects.exists()


def test_list_shows_statistics(alice, alice_web, api_server):
    from connectors.services import execute_connector

    api_server.route("GET", "/ok", (200, {"ok": True}))
    connector = make_connector(
        workspace_of(alice), {"url": api_server.url("/ok"), "retry": {"max_attempts": 1}}, name="stats"
    )
    execute_connector(connector=connector, input={})
    Connector.objects.filter(pk=connector.pk).update(
        config={"url": api_server.url("/missing"), "retry": {"max_attempts": 1}}
    )
    execute_connector(connector=Connector.objects.get(pk=connector.pk), input={})
    html = alice_web.get("/connectors/").content.decode()
    row = html[html.index(">stats<") : html.index("</tr>", html.index(">stats<"))]
    cells = [
        " ".join(re.sub(r"<[^>]+>", " ", cell.split(">", 1)[1]).split()) for cell in row.split("<td")[1:]
    ]
    # type, workspace, total, succeeded, failed, success rate, average duration, last executed
    assert cells[0] == "Single step" and cells[2:6] == ["2", "1", "1", "50%"], cells
    assert cells[6].endswith("ms") and cells[7] == "just now", cells


# ------------------------------------------------------------------------ credentials


def test_credential_values_never_appear_in_any_page(alice, alice_web, api_server):
    workspace = workspace_of(alice)
    res = alice_web.post(
        "/credentials/",
        {"name": "api_token", "kind": "bearer", "workspace": str(workspace.pk), "field_token": SECRET},
    )
    assert res.status_code == 302
    credential = Credential.objects.get()
    assert credential.data == {"token": SECRET}
    # A failed add does not echo what was typed.
    failed = alice_web.post(
        "/credentials/",
        {
            "name": "api_token",
            "kind": "bearer",
            "workspace": str(workspace.pk),
            "field_token": SECRET + "-again",
        },
    )
    assert failed.status_code == 400 and "already has a credential" in failed.content.decode()
    api_server.route("GET", "/me", (200, {"me": 1}))
    connector = make_connector(
        workspace,
        {"url": api_server.url("/me"), "auth": {"type": "bearer", "token": "{{ workspace.api_token }}"}},
    )
    from connectors.services import execute_connector

    execution = execute_connector(connector=connector, input={}, user=alice)
    pages = [
        failed,
        alice_web.get("/credentials/"),
        alice_web.get(f"/credentials/{credential.pk}/"),
        alice_web.get(f"/credentials/{credential.pk}/delete"),
        alice_web.get(f"/connectors/{connector.pk}/"),
        alice_web.get(f"/connectors/{connector.pk}/?execution={execution.pk}"),
        alice_web.get("/connectors/"),
    ]
    for page in pages:
        assert SECRET not in page.content.decode()
    listing = pages[1].content.decode()
    assert 'token <span class="set-mark">set</span>' in listing
    assert "alice" in listing and "just now" in listing  # who used it, from the audit
    detail = pages[2].content.decode()
    assert 'data-testid="set-marker"' in detail and 'name="field_token" value=""' in detail
    assert "connector" in pages[3].content.decode().lower()  # the confirmation names who uses it


def test_replace_keeps_blank_fields_and_removes_ticked_ones(alice, alice_web):
    credential = make_credential(
        workspace_of(alice), "crm", {"username": "ada", "password": SECRET, "tenant": "t1"}, kind="basic"
    )
    res = alice_web.post(
        f"/credentials/{credential.pk}/",
        {
            "name": "crm",
            "kind": "basic",
            "field_username": "",
            "field_password": "new-pw",
            "custom_name": ["tenant", "region"],
            "custom_value": ["", "eu"],
            "remove": ["username"],
        },
    )
    assert res.status_code == 302
    credential.refresh_from_db()
    assert credential.data == {"password": "new-pw", "tenant": "t1", "region": "eu"}
    bad = alice_web.post(
        f"/credentials/{credential.pk}/",
        {"name": "bad name", "kind": "basic", "field_password": "typed-secret"},
    )
    assert bad.status_code == 400 and "must match" in bad.content.decode()
    assert "typed-secret" not in bad.content.decode() and "new-pw" not in bad.content.decode()


def test_add_credential_requires_the_kinds_fields(alice, alice_web):
    res = alice_web.post(
        "/credentials/",
        {
            "name": "crm",
            "kind": "basic",
            "workspace": str(workspace_of(alice).pk),
            "field_username": "ada",
            "field_password": "",
        },
    )
    assert res.status_code == 400 and "password is required" in res.content.decode()
    assert not Credential.objects.exists()


def test_delete_credential_asks_first(alice, alice_web):
    credential = make_credential(workspace_of(alice), "old", {"token": SECRET}, kind="bearer")
    page = alice_web.get(f"/credentials/{credential.pk}/delete").content.decode()
    assert "Delete credential" in page and SECRET not in page
    assert alice_web.post(f"/credentials/{credential.pk}/delete").status_code == 302
    assert not Credential.objects.exists()
