"""Against a real n8n 2.41.1 on 127.0.0.1: list, preview, execute by webhook, poll to
completion, Wait-node resume, a failing workflow, inactive workflows and a 401."""

import pytest

from .conftest import connect, credential
from .test_provider_nodes import chain, execute, node

pytestmark = [pytest.mark.n8n, pytest.mark.slow]


@pytest.fixture
def n8n_connection(api, n8n, settings):
    settings.ALLOW_PRIVATE_OUTBOUND = True
    credential(api, "n8n_key", {"api_key": n8n.api_key})
    return connect(api, name="n8n local", provider="n8n", base_url=n8n.url, credential="n8n_key")


def n8n_node(node_id="flow", **config):
    return {"id": node_id, "type": "provider.n8n", "config": {"connection": "n8n local", **config}}


@pytest.mark.django_db
def test_list_pages_through_the_cursor_and_shows_n8n_metadata(api, n8n, n8n_connection):
    made = [n8n.import_workflow("sync") for _ in range(3)]
    url = f"/api/v1/providers/connections/{n8n_connection['id']}/workflows"
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get(url, {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += page["results"]
        pages += 1
        cursor = page["next"]
        if not cursor:
            break
    assert pages >= 2
    ours = {w["remote_id"]: w for w in seen if w["remote_id"] in {m["id"] for m in made}}
    assert len(ours) == 3
    entry = next(iter(ours.values()))
    assert entry["name"] == "Sync order scoring" and entry["active"] is True and entry["updated_at"]


@pytest.mark.django_db
def test_preview_converts_nodes_and_name_keyed_connections(api, n8n, n8n_connection):
    wf = n8n.import_workflow("sync")
    res = api.get(f"/api/v1/providers/connections/{n8n_connection['id']}/workflows/{wf['id']}").json()
    names = {n["id"]: n["name"] for n in res["graph"]["nodes"]}
    edges = {(names[e["source"]], names[e["target"]], e["source_handle"]) for e in res["graph"]["edges"]}
    assert edges == {
        ("Webhook", "Compute", "main"),
        ("Compute", "Amount > 100", "main"),
        ("Amount > 100", "High", "true"),
        ("Amount > 100", "Low", "false"),
    }
    assert all(len(n["position"]) == 2 for n in res["graph"]["nodes"])
    assert res["inputs"][0]["description"] == f"POST /webhook/{wf['path']}"


@pytest.mark.django_db
def test_wrong_api_key_is_an_authentication_error(api, n8n, settings):
    settings.ALLOW_PRIVATE_OUTBOUND = True
    credential(api, "bad_key", {"api_key": "not-a-key"})
    conn = connect(api, name="bad", provider="n8n", base_url=n8n.url, credential="bad_key")
    res = api.post(f"/api/v1/providers/connections/{conn['id']}/test").json()
    assert res["ok"] is False and res["error"]["category"] == "AUTHENTICATION_ERROR"
    assert res["error"]["details"]["status"] == 401


@pytest.mark.usefixtures("inline_queue")
def test_execute_by_webhook_answers_on_the_last_node(api, n8n, n8n_connection):
    wf = n8n.import_workflow("sync")
    run = execute(api, chain(api, n8n_node(workflow=wf["id"], data={"name": "ada", "amount": 150})))
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    out = node(run, "flow")["output"]
    assert out["status"] == "succeeded" and out["data"] == {"name": "ada", "amount": 150, "tier": "high"}
    assert out["execution_id"] and out["execution_id"].isdigit()  # found by our reference header


@pytest.mark.usefixtures("inline_queue")
def test_started_execution_is_polled_to_completion(api, n8n, n8n_connection):
    wf = n8n.import_workflow("async")
    flow = n8n_node(workflow=wf["id"], data={"name": "bo", "amount": 21}, poll={"interval_s": 0.5})
    run = execute(api, chain(api, flow))
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    out = node(run, "flow")["output"]
    assert out["data"] == {"enriched": "bo-enriched", "score": 42} and out["execution_id"].isdigit()
    logs = [e["message"] for e in api.get(f"/api/v1/runs/{run['id']}/logs", {"node": "flow"}).json()]
    assert any(m.startswith("poll ") and "success" in m for m in logs)


@pytest.mark.usefixtures("inline_queue")
def test_failed_n8n_execution_fails_the_node_with_the_n8n_error(api, n8n, n8n_connection):
    wf = n8n.import_workflow("failing")
    run = execute(api, chain(api, n8n_node(workflow=wf["id"], data={}, poll={"interval_s": 0.3})))
    assert run["status"] == "failed"
    error = node(run, "flow")["error"]
    assert error["category"] == "INTEGRATION_ERROR"
    assert error["details"]["remote"]["message"] == "order refused by n8n"
    assert error["details"]["remote"]["node"] == "Refuse"


@pytest.mark.usefixtures("inline_queue")
def test_wait_node_is_resumed_through_its_webhook_waiting_url(api, n8n, n8n_connection):
    wf = n8n.import_workflow("wait_resume")
    waiting = {"left": "{{ remote.remote_status }}", "op": "eq", "right": "waiting"}
    wid = chain(
        api,
        n8n_node(
            "start_it",
            workflow=wf["id"],
            data={"order": 1},
            poll={"interval_s": 0.3, "success_condition": waiting},
        ),
        n8n_node(
            "approve",
            execution="{{ nodes.start_it.execution_id }}",
            data={"approved": True, "by": "switchyard"},
            poll={"interval_s": 0.3},
        ),
    )
    run = execute(api, wid)
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    first, second = node(run, "start_it")["output"], node(run, "approve")["output"]
    assert first["execution_id"] == second["execution_id"]
    assert second["data"] == {"approved": True, "by": "switchyard"}
    status, execution = n8n.api("GET", f"executions/{first['execution_id']}")
    assert status == 200 and execution["status"] == "success"


@pytest.mark.usefixtures("inline_queue")
def test_inactive_workflow_says_to_activate_it_in_n8n(api, n8n, n8n_connection):
    wf = n8n.import_workflow("sync", active=False)
    run = execute(api, chain(api, n8n_node(workflow=wf["id"], data={})))
    error = node(run, "flow")["error"]
    assert run["status"] == "failed" and "not active" in error["message"] and "activate" in error["message"]


@pytest.mark.usefixtures("inline_queue")
def test_workflow_without_webhook_names_what_to_add(api, n8n, n8n_connection):
    status, created = n8n.api(
        "POST",
        "workflows",
        {
            "name": "No trigger",
            "settings": {"executionOrder": "v1"},
            "connections": {},
            "nodes": [
                {
                    "id": "f0000000-0000-4000-8000-000000000001",
                    "name": "Note",
                    "type": "n8n-nodes-base.noOp",
                    "typeVersion": 1,
                    "position": [0, 0],
                    "parameters": {},
                }
            ],
        },
    )
    assert status == 200, created
    run = execute(api, chain(api, n8n_node(workflow=created["id"], data={})))
    assert "no Webhook node" in node(run, "flow")["error"]["message"]
