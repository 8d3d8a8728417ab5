"""`connector.run` inside workflows executed through the API, and secrets kept out of
every stored row."""

from __future__ import annotations

import json

import pytest
from django.core import serializers

from connectors.models import ConnectorExecution, Contact, CredentialAccess
from runs.models import ExecutionLog, NodeExecution, WorkflowRun

from .factories import echo

pytestmark = pytest.mark.usefixtures("inline_queue")

SECRET = "sk_live_Zq8-distinctive-secret-51"


def make_workflow(api, call_config, *, on_error="fail"):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "uses a connector",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "call", "type": "connector.run", "config": call_config, "on_error": on_error},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def execute(api, workflow_id, input):
    res = api.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        {"input": input, "wait": True, "timeout_s": 30},
        format="json",
    )
    assert res.status_code == 200, res.content
    return res.json()


def make_connector(api, config, name="crm_lookup"):
    res = api.post("/api/v1/connectors/", {"name": name, "config": config}, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def test_connector_run_by_name_returns_the_connector_output(api, api_server):
    api_server.route("GET", "/users", (200, [{"id": 7}]))
    api_server.route("GET", "/users/7", (200, {"id": 7, "plan": "pro"}))
    make_connector(
        api,
        {
            "steps": [
                {
                    "name": "find",
                    "url": api_server.url("/users"),
                    "queryParams": {"email": "{{ input.email }}"},
                },
                {"name": "get", "url": api_server.url("/users/{{ steps.find[0].id }}")},
            ]
        },
    )
    workflow_id = make_workflow(api, {"connector": "crm_lookup", "input": {"email": "{{ input.email }}"}})
    run = execute(api, workflow_id, {"email": "a@x"})
    assert run["status"] == "completed" and run["output"] == {"id": 7, "plan": "pro"}
    node = next(n for n in run["nodes"] if n["node_id"] == "call")
    assert node["status"] == "succeeded" and node["output"] == {"id": 7, "plan": "pro"}
    assert api_server.requests_to("/users")[0].query == {"email": ["a@x"]}
    execution = ConnectorExecution.objects.get()
    assert str(execution.run_id) == run["id"] and execution.node_id == "call"


def test_connector_run_by_id_defaults_to_the_node_input(api, api_server):
    api_server.route("POST", "/echo", lambda seen: (200, seen.json()))
    connector_id = make_connector(
        api, {"method": "POST", "url": api_server.url("/echo"), "body": {"n": "{{ input.n }}"}}
    )
    run = execute(api, make_workflow(api, {"connector": connector_id}), {"n": 5})
    assert run["status"] == "completed" and run["output"] == {"n": 5}


def test_a_failing_connector_fails_the_node_with_its_category(api, api_server):
    api_server.route("GET", "/auth", (401, {"error": "bad token"}))
    make_connector(api, {"url": api_server.url("/auth")})
    run = execute(api, make_workflow(api, {"connector": "crm_lookup"}), {})
    node = next(n for n in run["nodes"] if n["node_id"] == "call")
    assert run["status"] == "failed" and node["error"]["category"] == "AUTHENTICATION_ERROR"
    assert "crm_lookup" in node["error"]["message"] and node["error"]["details"]["execution_id"]


def test_an_unknown_connector_fails_the_node(api):
    run = execute(api, make_workflow(api, {"connector": "nope"}), {})
    node = next(n for n in run["nodes"] if n["node_id"] == "call")
    assert run["status"] == "failed" and node["error"]["category"] == "VALIDATION_ERROR"


def test_the_secret_is_absent_from_every_stored_row(api, alice, api_server):
    """The connector sends the credential and the server echoes it back; nothing stored
    (executions, node states, logs, runs, contacts) and nothing returned may contain it."""
    res = api.post(
        "/api/v1/credentials/", {"name": "crm", "kind": "bearer", "data": {"token": SECRET}}, format="json"
    )
    assert res.status_code == 201
    api_server.route("POST", "/echo", echo)
    from workflows.services import ensure_personal_workspace

    contact = Contact.objects.create(workspace=ensure_personal_workspace(user=alice), email="c@x")
    config = {
        "method": "POST",
        "url": api_server.url("/echo"),
        "auth": {"type": "bearer", "token": "{{ workspace.crm }}"},
        "headers": {"X-Copy": "{{ workspace.crm }}"},
        "queryParams": {"key": "{{ workspace.crm }}"},
        "body": {"secret": "{{ workspace.crm }}", "email": "{{ input.email }}"},
        "response_mapping": {"data.echo": "{{ output.body }}"},
    }
    connector_id = make_connector(api, config)
    workflow_id = make_workflow(api, {"connector": "crm_lookup", "input": {"email": "{{ input.email }}"}})
    run = execute(api, workflow_id, {"email": "a@x"})
    direct = api.post(
        f"/api/v1/connectors/{connector_id}/execute?wait=true",
        {"input": {"email": "b@x"}, "contact": str(contact.id)},
        format="json",
    )
    assert run["status"] == "completed" and direct.json()["status"] == "completed"
    seen = api_server.requests_to("/echo")
    assert len(seen) == 2 and SECRET in seen[0].body.decode() and seen[0].headers["x-copy"] == SECRET
    assert "***" in json.dumps(run["output"])

    responses = [
        json.dumps(run),
        direct.content.decode(),
        api.get(f"/api/v1/runs/{run['id']}/logs").content.decode(),
        api.get(f"/api/v1/connectors/{connector_id}/executions").content.decode(),
    ]
    stored = [
        serializers.serialize("json", model.objects.all())
        for model in (ConnectorExecution, ExecutionLog, NodeExecution, WorkflowRun, Contact, CredentialAccess)
    ]
    assert ConnectorExecution.objects.count() == 2 and NodeExecution.objects.exists()
    for text in responses + stored:
        assert SECRET not in text
    assert Contact.objects.get().data["echo"]  # the mapping ran, with the masked echo


def test_workspace_credentials_templated_into_the_input_are_masked_in_the_execution(api, alice, api_server):
    """Not the connector's own credential: one the workflow renders into `input`."""
    api_server.route("POST", "/echo", echo)
    res = api.post("/api/v1/credentials/", {"name": "other", "data": {"token": SECRET}}, format="json")
    assert res.status_code == 201
    make_connector(api, {"method": "POST", "url": api_server.url("/echo"), "body": {"k": "{{ input.key }}"}})
    run = execute(
        api, make_workflow(api, {"connector": "crm_lookup", "input": {"key": "{{ workspace.other }}"}}), {}
    )
    assert run["status"] == "completed", run
    assert api_server.requests_to("/echo")[0].json() == {"k": SECRET}
    execution = ConnectorExecution.objects.get()
    assert execution.input == {"key": "***"}
    shown = api.get(f"/api/v1/connectors/executions/{execution.pk}").content.decode()
    assert SECRET not in shown and SECRET not in json.dumps(serializers.serialize("json", [execution]))
