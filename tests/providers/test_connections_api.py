"""/api/v1/providers/connections/ (SPEC §6) against fake Make and Zapier servers."""

import pytest

from .conftest import connect, credential
from .fakes import FakeMake

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_outbound(settings):
    settings.ALLOW_PRIVATE_OUTBOUND = True


def test_connection_is_created_with_a_named_credential_and_never_shows_a_secret(api, make_connection):
    assert make_connection["credential"] == "make_token"
    assert make_connection["status"] == "untested" and make_connection["last_error"] is None
    listed = api.get("/api/v1/providers/connections/").json()
    assert listed["count"] == 1
    assert FakeMake.TOKEN not in str(listed) and FakeMake.TOKEN not in str(make_connection)


def test_a_connection_needs_the_credential_field_its_provider_reads(api, fake_make):
    credential(api, "wrong", {"api_key": "x"})
    res = api.post(
        "/api/v1/providers/connections/",
        {"name": "m", "provider": "make", "base_url": fake_make.base, "credential": "wrong"},
        format="json",
    )
    assert res.status_code == 400
    body = res.json()["error"]
    assert body["code"] == "VALIDATION_ERROR" and "credential" in body["details"]
    assert "'token'" in body["details"]["credential"][0]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "provider": "nope", "base_url": "https://a.example"}, "provider"),
        ({"name": "x", "provider": "zapier", "base_url": "ftp://a.example"}, "base_url"),
        ({"name": "x", "provider": "n8n", "base_url": "https://me:s3cret-Pw@a.example"}, "base_url"),
        ({"name": "x", "provider": "n8n", "base_url": "https://a.example/?api_key=s3cret-Key"}, "base_url"),
        (
            {"name": "x", "provider": "n8n", "base_url": "https://a.example", "credential": "missing"},
            "credential",
        ),
    ],
)
def test_bad_connection_fields_are_a_400_naming_the_field(api, body, field):
    res = api.post("/api/v1/providers/connections/", body, format="json")
    assert res.status_code == 400
    assert field in res.json()["error"]["details"]


def test_test_reports_ok_and_records_the_status(api, make_connection):
    res = api.post(f"/api/v1/providers/connections/{make_connection['id']}/test")
    assert res.json() == {"ok": True, "error": None}
    assert api.get(f"/api/v1/providers/connections/{make_connection['id']}").json()["status"] == "ok"


def test_auth_failure_is_an_authentication_error_and_marks_the_connection(api, fake_make):
    credential(api, "bad_token", {"token": "not-the-token"})
    conn = connect(
        api,
        name="bad",
        provider="make",
        base_url=fake_make.base,
        credential="bad_token",
        settings={"team_id": FakeMake.TEAM},
    )
    res = api.post(f"/api/v1/providers/connections/{conn['id']}/test").json()
    assert res["ok"] is False and res["error"]["category"] == "AUTHENTICATION_ERROR"
    again = api.get(f"/api/v1/providers/connections/{conn['id']}").json()
    assert again["status"] == "error" and "AUTHENTICATION_ERROR" in again["last_error"]
    assert "not-the-token" not in str(again)
    listing = api.get(f"/api/v1/providers/connections/{conn['id']}/workflows")
    assert listing.status_code == 502 and listing.json()["error"]["code"] == "AUTHENTICATION_ERROR"


def test_remote_list_follows_the_providers_pagination_past_one_page(api, fake_make, make_connection):
    for i in range(4, 8):
        fake_make.add(str(100 + i), f"Scenario {i:03d}")
    url = f"/api/v1/providers/connections/{make_connection['id']}/workflows"
    first = api.get(url, {"limit": 3}).json()
    assert [w["name"] for w in first["results"]] == ["Scenario 001", "Scenario 002", "Scenario 003"]
    assert first["next"] == "3"
    second = api.get(url, {"limit": 3, "cursor": first["next"]}).json()
    third = api.get(url, {"limit": 3, "cursor": second["next"]}).json()
    names = [w["name"] for w in first["results"] + second["results"] + third["results"]]
    assert names == [f"Scenario {i:03d}" for i in range(1, 8)] and third["next"] is None
    assert first["results"][0] == {
        "remote_id": "101",
        "name": "Scenario 001",
        "active": True,
        "tags": [],
        "updated_at": "2026-11-20T10:00:00.000Z",
    }
    offsets = [r["query"].get("pg[offset]") for r in fake_make.requests if r["path"].endswith("/scenarios")]
    assert offsets == [["0"], ["3"], ["6"]]
    assert api.get(f"/api/v1/providers/connections/{make_connection['id']}").json()["last_sync"]


def test_preview_converts_modules_and_router_routes_to_our_graph(api, make_connection):
    res = api.get(f"/api/v1/providers/connections/{make_connection['id']}/workflows/101").json()
    assert res["remote_id"] == "101" and res["name"] == "Scenario 001"
    assert [n["id"] for n in res["graph"]["nodes"]] == ["1", "2", "3", "4", "5"]
    assert {(e["source"], e["target"], e["source_handle"]) for e in res["graph"]["edges"]} == {
        ("1", "2", "main"),
        ("2", "3", "route_0"),
        ("2", "4", "route_1"),
        ("4", "5", "main"),
    }
    assert res["inputs"][0]["name"] == "order" and res["outputs"][0]["name"] == "total"


def test_execute_with_poll_answers_the_provider_node_output(api, make_connection):
    res = api.post(
        f"/api/v1/providers/connections/{make_connection['id']}/workflows/101/execute",
        {"data": {"order": "A-1"}, "wait": "poll", "poll": {"interval_s": 0.05}},
        format="json",
    )
    assert res.status_code == 200, res.content
    out = res.json()
    assert out["provider"] == "make" and out["remote_id"] == "101" and out["status"] == "succeeded"
    assert out["data"] == {"total": 42, "echo": {"order": "A-1"}} and out["execution_id"]
    executions = api.get(f"/api/v1/providers/connections/{make_connection['id']}/executions").json()
    assert executions["results"][0]["status"] == "succeeded" and executions["results"][0]["polls"] == 2


def test_execute_of_an_inactive_scenario_says_what_to_fix_in_make(api, fake_make, make_connection):
    fake_make.scenarios["102"]["isActive"] = False
    res = api.post(
        f"/api/v1/providers/connections/{make_connection['id']}/workflows/102/execute",
        {"data": {}},
        format="json",
    )
    assert res.status_code == 502
    assert "must be active" in res.json()["error"]["message"]


def test_zapier_test_webhook_posts_a_marked_payload(api, fake_zapier, zapier_connection):
    res = api.post(f"/api/v1/providers/connections/{zapier_connection['id']}/test").json()
    assert res == {"ok": True, "error": None}
    assert fake_zapier.requests[-1]["body"]["switchyard_test"] is True


def test_zapier_unknown_hook_fails_the_test_with_what_to_do(api, fake_zapier):
    conn = connect(api, name="gone", provider="zapier", base_url=fake_zapier.hook_url("gone"))
    res = api.post(f"/api/v1/providers/connections/{conn['id']}/test").json()
    assert res["ok"] is False and "Catch Hook" in res["error"]["message"]


def test_other_workspaces_cannot_see_connections_and_viewers_cannot_execute(api, bob_api, make_connection):
    assert bob_api.get(f"/api/v1/providers/connections/{make_connection['id']}").status_code == 404
    assert bob_api.get("/api/v1/providers/connections/").json()["count"] == 0
    from django.contrib.auth import get_user_model

    from workflows.models import Membership

    bob = get_user_model().objects.get(username="bob")
    Membership.objects.create(workspace_id=make_connection["workspace"], user=bob, role="viewer")
    assert bob_api.get(f"/api/v1/providers/connections/{make_connection['id']}").status_code == 200
    res = bob_api.post(
        f"/api/v1/providers/connections/{make_connection['id']}/workflows/101/execute",
        {"data": {}},
        format="json",
    )
    assert res.status_code == 403
    assert bob_api.delete(f"/api/v1/providers/connections/{make_connection['id']}").status_code == 403
