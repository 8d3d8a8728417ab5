"""A new HTTP-borne trigger type is one module: the type, its `TriggerSpec` and how a
request becomes a run, all here. Activation gives it a `/hooks/<token>` address, the
workflow's `triggers` list that address, and a request there starts a stored live run."""

import json

import pytest

from runs.intake.body import json_error, read_body
from runs.intake.secret import secret_field
from runs.intake.start import start_live_run
from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, hook_path, trigger_workflow
from workflows.engine.registry import NodeResult, NodeType, TriggerSpec, registry

pytestmark = pytest.mark.usefixtures("inline_queue")

PING = "test.ping"


def receive_ping(request, *, workflow, endpoint, node):
    raw = read_body(request)
    if not isinstance(raw, bytes):
        return raw
    if request.headers.get("X-Ping-Key", "") != secret_field(workflow, node, "key"):
        return json_error(401, "AUTHENTICATION_FAILED", "The ping key did not match.")
    ping = json.loads(raw or b"{}")
    return start_live_run(
        workflow=workflow, node=node, payload={"pong": ping.get("n")}, key=f"ping:{ping.get('id', '')}"
    )


@pytest.fixture
def ping_type():
    registry.register(
        NodeType(
            type=PING,
            label="Ping",
            category="trigger",
            is_trigger=True,
            execute=lambda ctx: NodeResult(output=ctx.input),
            config_schema={"type": "object", "properties": {"key": {"type": "string"}}},
            trigger=TriggerSpec(endpoint="hook", label="Ping", secret_fields=("key",), receive=receive_ping),
        )
    )
    yield
    registry.unregister(PING)


def test_a_trigger_type_defined_in_one_module_is_reached_at_its_hook(api, client, ping_type):
    wid = trigger_workflow(
        api, {"id": "ping", "type": PING, "config": {"key": "k1"}}, {"got": "{{ input.pong }}"}
    )
    body = activate_ok(api, wid)
    path = hook_path(body, PING)
    [listed] = body["triggers"]
    assert listed["node_id"] == "ping" and listed["url"].endswith(path)

    refused = client.post(path, b'{"n": 1}', content_type="application/json", HTTP_X_PING_KEY="wrong")
    assert refused.status_code == 401
    res = client.post(path, b'{"n": 5, "id": "a"}', content_type="application/json", HTTP_X_PING_KEY="k1")
    assert res.status_code == 202
    run = WorkflowRun.objects.get(pk=res.json()["run_id"])
    assert run.trigger_type == PING and run.trigger_node == "ping" and run.mode == "live"
    assert run.status == "completed" and run.output == {"got": 5}
    again = client.post(path, b'{"n": 5, "id": "a"}', content_type="application/json", HTTP_X_PING_KEY="k1")
    assert again.json()["run_id"] == str(run.pk)  # its own idempotency key

    api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json")
    assert client.post(path, b"{}", content_type="application/json", HTTP_X_PING_KEY="k1").status_code == 404
