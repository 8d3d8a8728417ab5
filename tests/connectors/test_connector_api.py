"""/api/v1/connectors/: CRUD with config validation, execute (async and wait), executions,
statistics, response mapping onto contacts, and workspace scoping."""

from __future__ import annotations

import pytest

from connectors.models import Connector, ConnectorExecution, Contact
from workflows.services import add_member

from .factories import FAST_RETRY, echo, make_connector, workspace_of

pytestmark = pytest.mark.usefixtures("private_outbound")


def create(api, **body):
    body.setdefault("name", "lookup")
    return api.post("/api/v1/connectors/", body, format="json")


def test_create_list_retrieve_update_delete(api, api_server):
    res = create(api, config={"url": api_server.url("/x")}, description="d", timeout_ms=1000)
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["kind"] == "single-step" and body["timeout_ms"] == 1000
    assert body["statistics"] == {
        "total_executions": 0,
        "successful_executions": 0,
        "failed_executions": 0,
        "average_duration_ms": None,
        "last_executed_at": None,
    }
    cid = body["id"]
    listed = api.get("/api/v1/connectors").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == cid and "next" in listed
    assert api.get(f"/api/v1/connectors/{cid}/").json()["name"] == "lookup"
    multi = {"steps": [{"name": "a", "url": api_server.url("/a")}]}
    res = api.patch(f"/api/v1/connectors/{cid}", {"config": multi}, format="json")
    assert res.status_code == 200 and res.json()["kind"] == "multi-step" and res.json()["description"] == "d"
    res = api.put(
        f"/api/v1/connectors/{cid}/",
        {"name": "renamed", "config": {"url": api_server.url("/y")}},
        format="json",
    )
    assert res.status_code == 200 and res.json()["name"] == "renamed" and res.json()["kind"] == "single-step"
    assert api.delete(f"/api/v1/connectors/{cid}").status_code == 204
    assert api.get(f"/api/v1/connectors/{cid}").status_code == 404


def test_bad_step_config_is_a_400_naming_the_step_and_field(api):
    config = {
        "steps": [
            {"name": "find", "url": "https://api.example.com/users"},
            {"name": "update", "method": "PATCH", "bodyType": "yaml"},
        ]
    }
    res = create(api, config=config)
    assert res.status_code == 400
    error = res.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert (
        "config.steps.1.url" in error["details"] and "'update'" in error["details"]["config.steps.1.url"][0]
    )
    assert "config.steps.1.bodyType" in error["details"]
    assert "config.steps.1" in error["message"]
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    "config, field",
    [
        ({"url": "ftp://files"}, "config.url"),
        ({"url": "https://x", "auth": {"type": "bearer"}}, "config.auth.token"),
        ({"url": "https://x", "auth": {"type": "oauth9"}}, "config.auth.type"),
        ({"url": "https://x/{{ input.a "}, "config.url"),
        ({"url": "https://x", "retry": {"max_attempts": 0}}, "config.retry.max_attempts"),
        ({"steps": []}, "config.steps"),
        (
            {
                "steps": [
                    {"name": "a", "url": "https://x/{{ steps.b.id }}"},
                    {"name": "b", "url": "https://x"},
                ]
            },
            "config.steps.0.url",
        ),
        (
            {"steps": [{"name": "a", "url": "https://x"}, {"name": "a", "url": "https://y"}]},
            "config.steps.1.name",
        ),
        (
            {"url": "https://x", "response_mapping": {"shoe_size": "{{ output.s }}"}},
            "config.response_mapping.shoe_size",
        ),
        ("not an object", "config"),
    ],
)
def test_invalid_configs_are_refused(api, config, field):
    res = create(api, config=config)
    assert res.status_code == 400 and field in res.json()["error"]["details"], res.json()


def test_other_bad_input_is_a_json_400_never_a_500(api, api_server):
    assert create(api, config={"url": api_server.url("/x")}, timeout_ms="soon").status_code == 400
    assert api.post("/api/v1/connectors/", [1, 2], format="json").status_code == 400
    assert api.post("/api/v1/connectors/", "x", content_type="text/plain").status_code in (400, 415)
    cid = create(api, config={"url": api_server.url("/x")}).json()["id"]
    res = create(api, config={"url": api_server.url("/x")})
    assert res.status_code == 400 and "name" in res.json()["error"]["details"]
    res = api.post(f"/api/v1/connectors/{cid}/execute", {"input": {}, "contact": "nope"}, format="json")
    assert res.status_code == 400 and "contact" in res.json()["error"]["details"]


def test_execute_with_wait_returns_the_finished_record(api, api_server):
    api_server.route("POST", "/people", echo)
    cid = create(
        api,
        config={"method": "POST", "url": api_server.url("/people"), "body": {"email": "{{ input.email }}"}},
    ).json()["id"]
    res = api.post(f"/api/v1/connectors/{cid}/execute?wait=true", {"input": {"email": "a@x"}}, format="json")
    assert res.status_code == 200, res.content
    record = res.json()
    assert record["status"] == "completed" and record["error"] is None
    assert record["input"] == {"email": "a@x"} and record["output"]["body"] == '{"email":"a@x"}'
    assert record["started_at"] and record["completed_at"] and record["execution_time_ms"] >= 0
    step = record["steps"][0]
    assert step["request"]["method"] == "POST" and step["response"]["status"] == 200 and step["attempts"] == 1
    stats = api.get(f"/api/v1/connectors/{cid}").json()["statistics"]
    assert stats["total_executions"] == 1 and stats["successful_executions"] == 1
    assert stats["average_duration_ms"] is not None and stats["last_executed_at"]


def test_failed_execution_is_recorded_with_its_category(api, api_server):
    api_server.route("GET", "/gone", (410, {"error": "gone"}))
    cid = create(api, config={"url": api_server.url("/gone"), "retry": FAST_RETRY}).json()["id"]
    record = api.post(f"/api/v1/connectors/{cid}/execute", {"input": {}, "wait": True}, format="json").json()
    assert record["status"] == "failed" and record["error_category"] == "HTTP_ERROR"
    assert record["error"]["category"] == "HTTP_ERROR" and record["output"] is None
    stats = api.get(f"/api/v1/connectors/{cid}").json()["statistics"]
    assert (stats["total_executions"], stats["failed_executions"], stats["successful_executions"]) == (
        1,
        1,
        0,
    )


def test_execute_without_wait_is_queued_and_run_by_a_worker(api, api_server, inline_queue):
    api_server.route("GET", "/ping", (200, {"pong": True}))
    cid = create(api, config={"url": api_server.url("/ping")}).json()["id"]
    res = api.post(f"/api/v1/connectors/{cid}/execute", {"input": {"a": 1}}, format="json")
    assert res.status_code == 202
    execution_id = res.json()["execution_id"]
    record = api.get(f"/api/v1/connectors/executions/{execution_id}").json()
    assert record["status"] == "completed" and record["output"] == {"pong": True}


def test_executions_are_listed_newest_first(api, api_server):
    api_server.route("GET", "/n", lambda seen: (200, {"q": seen.query["n"][0]}))
    cid = create(api, config={"url": api_server.url("/n"), "queryParams": {"n": "{{ input.n }}"}}).json()[
        "id"
    ]
    for n in range(3):
        api.post(f"/api/v1/connectors/{cid}/execute", {"input": {"n": n}, "wait": True}, format="json")
    page = api.get(f"/api/v1/connectors/{cid}/executions/").json()
    assert page["count"] == 3 and [r["output"]["q"] for r in page["results"]] == ["2", "1", "0"]
    assert api.get(f"/api/v1/connectors/{cid}/executions?status=failed").json()["count"] == 0


def test_response_mapping_updates_the_contact(api, alice, api_server):
    api_server.route("GET", "/lookup", (200, {"phone": "+15550001", "score": 7, "company": {"name": "Acme"}}))
    contact = Contact.objects.create(workspace=workspace_of(alice), email="c@x", data={"keep": 1})
    cid = create(
        api,
        config={
            "url": api_server.url("/lookup"),
            "response_mapping": {
                "phone": "{{ output.phone }}",
                "data.score": "{{ output.score }}",
                "data.company.name": "{{ output.company.name }}",
                "data.source": "{{ input.source }}",
            },
        },
    ).json()["id"]
    res = api.post(
        f"/api/v1/connectors/{cid}/execute",
        {"input": {"source": "crm"}, "contact": str(contact.id), "wait": True},
        format="json",
    )
    assert res.json()["status"] == "completed" and res.json()["contact"] == str(contact.id)
    contact.refresh_from_db()
    assert contact.phone == "+15550001"
    assert contact.data == {"keep": 1, "score": 7, "company": {"name": "Acme"}, "source": "crm"}


def test_credentials_are_resolved_only_when_referenced_and_audited(api, alice, api_server):
    from connectors.models import CredentialAccess

    from .factories import make_credential

    ws = workspace_of(alice)
    used = make_credential(ws, "used", {"token": "t-used-1"})
    make_credential(ws, "unused", {"token": "t-unused-2"})
    api_server.route("GET", "/a", echo)
    cid = create(
        api, config={"url": api_server.url("/a"), "auth": {"type": "bearer", "token": "{{ workspace.used }}"}}
    ).json()["id"]
    record = api.post(f"/api/v1/connectors/{cid}/execute?wait=1", {}, format="json").json()
    accesses = list(CredentialAccess.objects.all())
    assert [a.credential_id for a in accesses] == [used.pk]
    assert str(accesses[0].connector_execution_id) == record["id"] and accesses[0].user == alice


# ------------------------------------------------------------------------------- scoping


def test_another_user_gets_404_on_every_connector_endpoint(api, bob_api, alice, api_server):
    api_server.route("GET", "/x", (200, {}))
    connector = make_connector(workspace_of(alice), {"url": api_server.url("/x")})
    execution_id = api.post(f"/api/v1/connectors/{connector.id}/execute?wait=true", {}, format="json").json()[
        "id"
    ]
    base = f"/api/v1/connectors/{connector.id}"
    assert bob_api.get("/api/v1/connectors/").json()["count"] == 0
    assert bob_api.get(base).status_code == 404
    assert bob_api.put(base, {"name": "x", "config": {"url": "https://x"}}, format="json").status_code == 404
    assert bob_api.patch(base, {"name": "x"}, format="json").status_code == 404
    assert bob_api.delete(base).status_code == 404
    assert bob_api.post(f"{base}/execute", {"wait": True}, format="json").status_code == 404
    assert bob_api.get(f"{base}/executions").status_code == 404
    assert bob_api.get(f"/api/v1/connectors/executions/{execution_id}").status_code == 404
    res = bob_api.post(
        "/api/v1/connectors/",
        {"name": "x", "config": {"url": "https://x"}, "workspace": str(connector.workspace_id)},
        format="json",
    )
    assert res.status_code == 400 and "workspace" in res.json()["error"]["details"]
    assert ConnectorExecution.objects.count() == 1 and Connector.objects.get().name == "conn"


def test_a_viewer_reads_but_cannot_write_or_execute(api, bob, bob_api, alice, api_server):
    connector = make_connector(workspace_of(alice), {"url": api_server.url("/x")})
    add_member(workspace=connector.workspace, user=bob, role="viewer")
    base = f"/api/v1/connectors/{connector.id}"
    assert bob_api.get(base).status_code == 200
    assert bob_api.get(f"{base}/executions").status_code == 200
    assert bob_api.patch(base, {"name": "x"}, format="json").status_code == 403
    assert bob_api.delete(base).status_code == 403
    assert bob_api.post(f"{base}/execute", {"wait": True}, format="json").status_code == 403
    res = bob_api.post(
        "/api/v1/connectors/",
        {"name": "x", "config": {"url": "https://x"}, "workspace": str(connector.workspace_id)},
        format="json",
    )
    assert res.status_code == 403
    assert not ConnectorExecution.objects.exists()
