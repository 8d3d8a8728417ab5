"""Activation and the webhook trigger: URLs, auth, respond modes, idempotency, limits."""

import hashlib
import hmac
import json

import pytest

from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, hook_path, trigger_workflow

pytestmark = pytest.mark.usefixtures("inline_queue")


def hook_workflow(api, config=None, settings=None, extra_nodes=()):
    return trigger_workflow(
        api,
        {"id": "hook", "type": "trigger.webhook", "config": {"method": "POST", **(config or {})}},
        {"seen": "{{ input.body.n }}"},
        settings=settings,
        name="hook",
        extra_nodes=extra_nodes,
    )


def activate(api, wid):
    return hook_path(activate_ok(api, wid), "trigger.webhook")


def post(client, path, body=b'{"n": 7}', ctype="application/json", **headers):
    return client.post(
        path,
        body,
        content_type=ctype,
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


def test_activation_lists_an_unguessable_webhook_url(api):
    wid = hook_workflow(api)
    path = activate(api, wid)
    token = path.rsplit("/", 1)[1]
    assert path.startswith("/hooks/") and len(token) >= 22  # ≥ 128 bits, url-safe
    triggers = api.get(f"/api/v1/workflows/{wid}").json()["triggers"]
    assert triggers == [
        {"node_id": "hook", "type": "trigger.webhook", "url": f"http://testserver{path}", "next_runs": []}
    ]


def test_webhook_starts_a_stored_live_run_and_answers_202(api, client):
    path = activate(api, hook_workflow(api))
    res = post(client, path)
    assert res.status_code == 202
    run = WorkflowRun.objects.get(pk=res.json()["run_id"])
    assert run.mode == "live" and run.trigger_type == "trigger.webhook" and run.status == "completed"
    assert run.input["body"] == {"n": 7} and run.input["method"] == "POST"
    assert run.output == {"seen": 7}


def test_on_completion_answers_with_the_workflow_output(api, client):
    path = activate(api, hook_workflow(api, {"respond": "on_completion"}))
    res = post(client, path)
    assert res.status_code == 200 and res.json() == {"seen": 7}


def test_inactive_or_unknown_webhook_is_404(api, client):
    wid = hook_workflow(api)
    path = activate(api, wid)
    assert api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json").json()["status"] == "inactive"
    assert post(client, path).status_code == 404
    assert post(client, "/hooks/not-a-real-token").status_code == 404
    assert activate(api, wid) == path  # re-activation keeps the same URL
    assert post(client, path).status_code == 202


def test_wrong_method_is_405(api, client):
    path = activate(api, hook_workflow(api))
    assert client.get(path).status_code == 405


def test_header_token_auth(api, client):
    path = activate(
        api, hook_workflow(api, {"auth": {"type": "header", "name": "X-Token", "token": "s3cret"}})
    )
    assert post(client, path).status_code == 401
    assert post(client, path, **{"X-Token": "wrong"}).status_code == 401
    assert post(client, path, **{"X-Token": "s3cret"}).status_code == 202


def test_hmac_signature_of_the_raw_body(api, client):
    path = activate(api, hook_workflow(api, {"auth": {"type": "hmac_sha256", "secret": "k3y"}}))
    body = b'{"n": 7}'
    good = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert post(client, path, body, **{"X-Signature-256": f"sha256={good}"}).status_code == 202
    assert post(client, path, b'{"n": 8}', **{"X-Signature-256": f"sha256={good}"}).status_code == 401
    assert post(client, path, body).status_code == 401


def credential(api, name, value):
    res = api.post(
        "/api/v1/credentials/", {"name": name, "kind": "custom", "data": {"token": value}}, format="json"
    )
    assert res.status_code == 201, res.content


def test_header_token_can_be_a_workspace_credential(api, client):
    credential(api, "hook_token", "from-vault")
    auth = {"type": "header", "name": "X-Token", "token": "{{ workspace.hook_token }}"}
    path = activate(api, hook_workflow(api, {"auth": auth}))
    assert post(client, path, **{"X-Token": "{{ workspace.hook_token }}"}).status_code == 401
    assert post(client, path, **{"X-Token": "from-vault"}).status_code == 202


def test_hmac_secret_can_be_a_workspace_credential(api, client):
    credential(api, "hook_key", "vault-k3y")
    path = activate(
        api, hook_workflow(api, {"auth": {"type": "hmac_sha256", "secret": "{{ workspace.hook_key }}"}})
    )
    body = b'{"n": 7}'
    literal = hmac.new(b"{{ workspace.hook_key }}", body, hashlib.sha256).hexdigest()
    real = hmac.new(b"vault-k3y", body, hashlib.sha256).hexdigest()
    assert post(client, path, body, **{"X-Signature-256": f"sha256={literal}"}).status_code == 401
    assert post(client, path, body, **{"X-Signature-256": f"sha256={real}"}).status_code == 202


def test_idempotency_key_returns_the_first_run(api, client):
    path = activate(api, hook_workflow(api))
    first = post(client, path, **{"Idempotency-Key": "order-1"}).json()["run_id"]
    again = post(client, path, **{"Idempotency-Key": "order-1"}).json()["run_id"]
    assert first == again and WorkflowRun.objects.count() == 1


def test_invalid_json_is_400_and_starts_nothing(api, client):
    path = activate(api, hook_workflow(api))
    res = post(client, path, b"{not json")
    assert res.status_code == 400 and res.json()["error"]["code"] == "PARSE_ERROR"
    assert WorkflowRun.objects.count() == 0


def test_oversized_body_is_413(api, client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    path = activate(api, hook_workflow(api))
    res = post(client, path, json.dumps({"n": "x" * 200}).encode())
    assert res.status_code == 413 and WorkflowRun.objects.count() == 0


def test_daily_limit_answers_429_with_a_clear_message(api, client):
    path = activate(api, hook_workflow(api, settings={"max_runs_per_day": 2}))
    assert [post(client, path).status_code for _ in range(3)] == [202, 202, 429]
    assert "2 runs per day" in post(client, path).json()["error"]["message"]
    assert WorkflowRun.objects.count() == 2


def test_activation_refuses_with_per_node_errors_and_stays_inactive(api):
    wid = hook_workflow(
        api,
        extra_nodes=[
            {
                "id": "sub",
                "type": "flow.subworkflow",
                "config": {"workflow": "00000000-0000-0000-0000-000000000000"},
            }
        ],
    )
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    assert res.status_code == 400
    errors = res.json()["error"]["details"]["errors"]
    assert any(e["node"] == "sub" and e["field"] == "config.workflow" for e in errors)
    assert api.get(f"/api/v1/workflows/{wid}").json()["status"] == "inactive"


def test_editing_an_active_workflow_does_not_change_what_webhooks_run(api, client):
    wid = hook_workflow(api)
    path = activate(api, wid)
    doc = api.get(f"/api/v1/workflows/{wid}/export").json()
    doc["nodes"][1]["config"]["set"] = {"seen": "edited"}
    assert api.put(f"/api/v1/workflows/{wid}", doc, format="json").status_code == 200
    run = WorkflowRun.objects.get(pk=post(client, path).json()["run_id"])
    assert run.output == {"seen": 7} and run.version.number == 1


def test_other_user_cannot_activate(api, bob_api):
    wid = hook_workflow(api)
    assert bob_api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").status_code == 404
    assert bob_api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json").status_code == 404


def test_activation_names_missing_credentials_in_either_template_form(api):
    wid = hook_workflow(
        api,
        extra_nodes=[
            {
                "id": "call",
                "type": "http.request",
                "config": {
                    "url": "http://example.com",
                    "headers": {"A": "{{ workspace.alpha }}", "B": "{{ workspace['beta'] }}"},
                },
            }
        ],
    )
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    messages = [e["message"] for e in res.json()["error"]["details"]["errors"] if e["node"] == "call"]
    assert any("'alpha'" in m for m in messages) and any("'beta'" in m for m in messages)


def test_the_header_auth_token_is_not_stored_in_the_run_input(api, client):
    token = "whk-stored-token-0123456789"
    path = activate(
        api, hook_workflow(api, {"auth": {"type": "header", "name": "X-Hook-Token", "token": token}})
    )
    res = post(client, path + "?token=" + token, **{"X-Hook-Token": token, "X-Other": "kept"})
    assert res.status_code == 202
    stored = WorkflowRun.objects.get(pk=res.json()["run_id"]).input
    assert stored["headers"]["x-hook-token"] == "***" and stored["headers"]["x-other"] == "kept"
    assert stored["query"] == {"token": "***"}
    assert token not in json.dumps(stored)
