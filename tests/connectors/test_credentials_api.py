"""/api/v1/credentials/: write-only data, name rules, replace/merge, and workspace scoping."""

from __future__ import annotations

import json

import pytest

from connectors.models import Credential
from workflows.services import add_member

from .factories import make_credential, workspace_of

SECRET = "cred-value-never-shown-8c1f"


def create(api, **body):
    body.setdefault("name", "stripe")
    body.setdefault("kind", "bearer")
    body.setdefault("data", {"token": SECRET})
    return api.post("/api/v1/credentials/", body, format="json")


def test_data_is_write_only_in_every_response(api):
    responses = [create(api)]
    cid = responses[0].json()["id"]
    responses += [
        api.get("/api/v1/credentials"),
        api.get(f"/api/v1/credentials/{cid}/"),
        api.patch(f"/api/v1/credentials/{cid}", {"data": {"extra": SECRET + "-2"}}, format="json"),
        api.put(
            f"/api/v1/credentials/{cid}",
            {"name": "stripe", "kind": "bearer", "data": {"token": SECRET}},
            format="json",
        ),
    ]
    for res in responses:
        assert res.status_code in (200, 201), res.content
        assert SECRET not in res.content.decode()
    body = responses[2].json()
    assert set(body) == {
        "id",
        "workspace",
        "name",
        "kind",
        "fields_set",
        "last_used_at",
        "created_at",
        "updated_at",
    }
    assert body["fields_set"] == ["token"] and body["last_used_at"] is None
    assert Credential.objects.get().data == {"token": SECRET}


def test_patch_merges_data_and_put_replaces_it(api):
    cid = create(api, kind="basic", data={"username": "ada", "password": "pw1"}).json()["id"]
    res = api.patch(
        f"/api/v1/credentials/{cid}", {"data": {"password": "pw2", "username": None}}, format="json"
    )
    assert res.json()["fields_set"] == ["password"]
    assert Credential.objects.get().data == {"password": "pw2"}
    res = api.put(
        f"/api/v1/credentials/{cid}",
        {"name": "crm", "kind": "custom", "data": {"a": "1", "b": 2}},
        format="json",
    )
    assert (
        res.json()["name"] == "crm"
        and res.json()["kind"] == "custom"
        and res.json()["fields_set"] == ["a", "b"]
    )
    assert Credential.objects.get().data == {"a": "1", "b": "2"}
    assert api.delete(f"/api/v1/credentials/{cid}/").status_code == 204
    assert not Credential.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "has space"}, "name"),
        ({"name": "9lives"}, "name"),
        ({"name": "a-b"}, "name"),
        ({"kind": "oauth"}, "kind"),
        ({"data": "token"}, "data"),
        ({"data": {"nested": {"a": 1}}}, "data.nested"),
    ],
)
def test_invalid_credentials_are_refused_naming_the_field(api, body, field):
    res = create(api, **body)
    assert res.status_code == 400 and field in res.json()["error"]["details"], res.json()
    assert not Credential.objects.exists()


def test_names_are_unique_per_workspace(api, bob_api):
    assert create(api).status_code == 201
    res = create(api)
    assert res.status_code == 400 and "name" in res.json()["error"]["details"]
    assert create(bob_api).status_code == 201  # another workspace may reuse the name
    other = create(api, name="other").json()["id"]
    res = api.patch(f"/api/v1/credentials/{other}", {"name": "stripe"}, format="json")
    assert res.status_code == 400 and "name" in res.json()["error"]["details"]


def test_another_user_gets_404_on_every_credential_endpoint(alice, bob_api):
    credential = make_credential(workspace_of(alice), "stripe", {"token": SECRET})
    base = f"/api/v1/credentials/{credential.id}"
    assert bob_api.get("/api/v1/credentials/").json()["count"] == 0
    assert bob_api.get(base).status_code == 404
    assert bob_api.put(base, {"name": "x", "data": {}}, format="json").status_code == 404
    assert bob_api.patch(base, {"data": {"token": "stolen"}}, format="json").status_code == 404
    assert bob_api.delete(base).status_code == 404
    assert Credential.objects.get().data == {"token": SECRET}


def test_a_viewer_sees_which_fields_are_set_but_cannot_change_anything(alice, bob, bob_api):
    credential = make_credential(workspace_of(alice), "stripe", {"token": SECRET})
    add_member(workspace=credential.workspace, user=bob, role="viewer")
    base = f"/api/v1/credentials/{credential.id}"
    res = bob_api.get(base)
    assert (
        res.status_code == 200
        and res.json()["fields_set"] == ["token"]
        and SECRET not in res.content.decode()
    )
    assert bob_api.patch(base, {"data": {"token": "x"}}, format="json").status_code == 403
    assert bob_api.delete(base).status_code == 403
    res = bob_api.post(
        "/api/v1/credentials/",
        {"name": "mine", "data": {"a": "b"}, "workspace": str(credential.workspace_id)},
        format="json",
    )
    assert res.status_code == 403
    assert json.dumps(Credential.objects.get().data) == json.dumps({"token": SECRET})
