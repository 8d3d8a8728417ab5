"""Secrets typed into a trigger's config (webhook header token, HMAC secret, chat secret
token): sealed at rest, `***` in every answer (to a viewer too), kept when a write sends
the mask back, and still what the trigger checks."""

import json

import pytest
from django.db import connection

from tests.triggers.helpers import activate_ok, hook_path
from workflows.models import Membership, Role, Workflow, WorkflowVersion

pytestmark = pytest.mark.usefixtures("inline_queue")

TOKEN = "hdr-Token-Planted-4711"
SECRET = "hmac-Planted-Secret-0815"


def document(auth, name="secret"):
    return {
        "schema": "switchyard.workflow/1",
        "name": name,
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "config": {"method": "POST", "auth": auth}},
            {"id": "shape", "type": "data.transform", "config": {"set": {"n": "{{ input.body.n }}"}}},
        ],
        "edges": [{"source": "hook", "target": "shape"}],
    }


HEADER = {"type": "header", "name": "X-Hook-Token", "token": TOKEN}


def create(api, auth=HEADER):
    res = api.post("/api/v1/workflows/", document(auth), format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def send(client, path, token):
    return client.post(path, b'{"n": 1}', content_type="application/json", HTTP_X_HOOK_TOKEN=token)


def everything_stored() -> str:
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table.startswith("workflows_"):
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
                texts.append(json.dumps(cursor.fetchall(), default=str))
    return "\n".join(texts)


def test_a_trigger_secret_is_never_readable_but_still_checked(api, client, alice, bob, bob_api):
    wid = create(api)
    workflow = Workflow.objects.get(pk=wid)
    Membership.objects.create(workspace=workflow.workspace, user=bob, role=Role.VIEWER)
    for reader in (api, bob_api):
        for path in ("", "/export", "/versions/1", "/draft"):
            res = reader.get(f"/api/v1/workflows/{wid}{path}")
            assert res.status_code == 200 and TOKEN not in res.content.decode(), path
        auth = reader.get(f"/api/v1/workflows/{wid}").json()["nodes"][0]["config"]["auth"]
        assert auth == {"type": "header", "name": "X-Hook-Token", "token": "***"}
    client.force_login(alice)
    assert TOKEN not in client.get(f"/workflows/{wid}/").content.decode()
    assert TOKEN not in everything_stored()  # sealed in the versions, node rows and drafts

    path = hook_path(activate_ok(api, wid), "trigger.webhook")
    assert send(client, path, TOKEN).status_code == 202
    assert send(client, path, "wrong").status_code == 401


def test_a_write_that_sends_the_mask_back_keeps_the_secret(api, client):
    wid = create(api)
    path = hook_path(activate_ok(api, wid), "trigger.webhook")
    shown = api.get(f"/api/v1/workflows/{wid}/export").json()
    res = api.put(f"/api/v1/workflows/{wid}", shown, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["version"] == 1  # the same document: no new version
    res = api.patch(f"/api/v1/workflows/{wid}", {"name": "renamed", "nodes": shown["nodes"]}, format="json")
    assert res.status_code == 200 and res.json()["version"] == 2
    activate_ok(api, wid)
    assert send(client, path, TOKEN).status_code == 202

    # the builder: the draft sent back as shown, then published
    draft = api.get(f"/api/v1/workflows/{wid}/draft").json()["document"]
    draft["description"] = "edited in the builder"
    assert api.put(f"/api/v1/workflows/{wid}/draft", {"document": draft}, format="json").status_code == 200
    assert TOKEN not in everything_stored()
    published = api.get(f"/api/v1/workflows/{wid}/draft").json()["document"]
    assert api.put(f"/api/v1/workflows/{wid}", published, format="json").status_code == 200
    activate_ok(api, wid)
    assert send(client, path, TOKEN).status_code == 202

    # a new secret replaces it (in the version activated next)
    changed = document({**HEADER, "token": "a-new-Token-99"})
    assert api.put(f"/api/v1/workflows/{wid}", changed, format="json").status_code == 200
    assert hook_path(activate_ok(api, wid), "trigger.webhook") == path
    assert send(client, path, TOKEN).status_code == 401
    assert send(client, path, "a-new-Token-99").status_code == 202


def test_a_copy_with_a_masked_secret_cannot_be_activated_until_the_secret_is_typed(api, client):
    """A workflow duplicated (or imported from an export) keeps `***` where nothing is stored:
    the secret is unset, matches no request, and activation names the field."""
    from runs.intake.secret import secret_field

    res = api.post("/api/v1/workflows/", document({**HEADER, "token": "***"}), format="json")
    assert res.status_code == 201, res.content
    wid = res.json()["id"]
    workflow = Workflow.objects.get(pk=wid)
    hook = WorkflowVersion.objects.get(workflow=workflow).document["nodes"][0]
    assert secret_field(workflow, hook, "auth.token") == ""  # "***" is no token

    issues = api.post(f"/api/v1/workflows/{wid}/validate", {}, format="json").json()
    assert not issues["valid"]
    assert {"node": "hook", "edge": None, "field": "config.auth.token"} in [
        {k: v for k, v in e.items() if k != "message"} for e in issues["errors"]
    ]
    assert api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").status_code == 400

    assert api.put(f"/api/v1/workflows/{wid}", document(HEADER), format="json").status_code == 200
    path = hook_path(activate_ok(api, wid), "trigger.webhook")
    assert send(client, path, TOKEN).status_code == 202
    assert send(client, path, "***").status_code == 401


def test_a_credential_reference_is_shown_as_written(api):
    wid = create(api, {"type": "hmac_sha256", "secret": "{{ workspace.hook_secret }}"})
    auth = api.get(f"/api/v1/workflows/{wid}").json()["nodes"][0]["config"]["auth"]
    assert auth["secret"] == "{{ workspace.hook_secret }}"


def test_a_long_chat_secret_token_still_validates_once_sealed(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "chat",
        "nodes": [{"id": "chat", "type": "trigger.chat", "config": {"secret_token": "s" * 256}}],
        "edges": [],
    }
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    res = api.post(f"/api/v1/workflows/{wid}/validate", {}, format="json")
    assert res.json() == {"valid": True, "errors": []}
    activate_ok(api, wid)
