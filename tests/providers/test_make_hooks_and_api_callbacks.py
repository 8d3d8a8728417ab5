"""Make custom webhooks (`GET /hooks`, x-make-apikey) through the API and as a node target,
and API executions that wait for a callback (the token lives on the execution record)."""

import time

import pytest

from providers.models import ProviderExecution

from .conftest import connect, credential
from .fakes import FakeMake, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_outbound(settings):
    settings.ALLOW_PRIVATE_OUTBOUND = True


@pytest.fixture
def public_live(live_server, settings, inline_queue):
    """Callback URLs made in a request point at a real server the fakes can reach."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def make_hooks_connection(api, fake_make):
    credential(api, "make_hooks", {"token": FakeMake.TOKEN, "hook_api_key": "hook-key-1"})
    return connect(
        api,
        name="Make hooks",
        provider="make",
        base_url=fake_make.base,
        credential="make_hooks",
        settings={"team_id": FakeMake.TEAM},
    )


def wait_until(check, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not in time")


def test_hooks_lists_the_teams_custom_webhooks(api, fake_make, make_hooks_connection):
    res = api.get(f"/api/v1/providers/connections/{make_hooks_connection['id']}/hooks")
    assert res.status_code == 200, res.content
    assert res.json()["results"] == [
        {
            "id": 9,
            "name": "Orders in",
            "url": f"{fake_make.url}/hook/abc",
            "enabled": True,
            "scenario_id": 101,
            "queue_count": 0,
        }
    ]  # the mailhook is not a webhook
    listed = next(r for r in fake_make.requests if r["path"] == "/api/v2/hooks")
    assert listed["query"]["teamId"] == [FakeMake.TEAM] and listed["query"]["typeName"] == ["gateway-webhook"]


def test_hooks_of_a_zapier_connection_is_a_400(api, zapier_connection):
    res = api.get(f"/api/v1/providers/connections/{zapier_connection['id']}/hooks")
    assert res.status_code == 400 and "connection" in res.json()["error"]["details"]


def test_hook_execute_sends_the_api_key_and_the_callback_finishes_the_record(
    api, fake_make, make_hooks_connection, public_live
):
    conn = make_hooks_connection["id"]
    res = api.post(
        f"/api/v1/providers/connections/{conn}/hooks/9/execute",
        {"data": {"order": "H-1"}, "wait": "callback"},
        format="json",
    )
    assert res.status_code == 202, res.content
    out = res.json()
    assert out["status"] == "accepted" and out["provider"] == "make" and out["remote_id"] == "9"
    assert out["execution"]["callback_url"].startswith(f"{public_live.url}/api/v1/callbacks/")
    sent = next(r for r in fake_make.requests if r["path"] == "/hook/abc")
    assert sent["headers"]["x-make-apikey"] == "hook-key-1"
    assert sent["body"]["order"] == "H-1"
    detail_url = f"/api/v1/providers/connections/{conn}/executions/{out['execution']['id']}"
    done = wait_until(lambda: (d := api.get(detail_url).json())["status"] != "running" and d)
    assert done["status"] == "succeeded"
    assert done["data"] == {"hook": "abc", "received": {"order": "H-1"}}
    [received] = done["callbacks"]
    assert received["outcome"] == "accepted" and received["payload"]["hook"] == "abc"
    assert "hook-key-1" not in str(done)


def test_a_hook_with_api_keys_refuses_a_call_without_one_and_says_what_to_set(api, fake_make):
    credential(api, "make_nokey", {"token": FakeMake.TOKEN})
    conn = connect(
        api,
        name="Make no key",
        provider="make",
        base_url=fake_make.base,
        credential="make_nokey",
        settings={"team_id": FakeMake.TEAM},
    )
    res = api.post(f"/api/v1/providers/connections/{conn['id']}/hooks/9/execute", {"data": {}}, format="json")
    assert res.status_code == 502
    error = res.json()["error"]
    assert error["code"] == "AUTHENTICATION_ERROR" and "hook_api_key" in error["message"]


def test_the_hook_key_goes_only_to_urls_make_lists(api, fake_make, make_hooks_connection):
    """A node (or API caller) naming another URL gets no x-make-apikey sent there."""
    fake_make.add_hook(11, "Open hook", "open")
    elsewhere = f"{fake_make.url}/hook/open?elsewhere=1"
    res = api.post(
        f"/api/v1/providers/connections/{make_hooks_connection['id']}/workflows/101/execute",
        {"data": {"a": 1}, "options": {"hook": elsewhere}},
        format="json",
    )
    assert res.status_code == 200, res.content
    sent = next(r for r in fake_make.requests if r["path"] == "/hook/open")
    assert "x-make-apikey" not in {k.lower() for k in sent["headers"]}


def test_unknown_hook_id_is_named(api, make_hooks_connection):
    res = api.post(
        f"/api/v1/providers/connections/{make_hooks_connection['id']}/hooks/404/execute",
        {"data": {}},
        format="json",
    )
    assert res.status_code == 400 and "no custom webhook '404'" in res.json()["error"]["message"]


def test_hook_execute_cannot_poll(api, make_hooks_connection):
    res = api.post(
        f"/api/v1/providers/connections/{make_hooks_connection['id']}/hooks/9/execute",
        {"data": {}, "wait": "poll"},
        format="json",
    )
    assert res.status_code == 400 and "wait" in res.json()["error"]["details"]


def test_scenario_run_waits_for_its_callback_within_timeout_s(api, make_connection, public_live):
    res = api.post(
        f"/api/v1/providers/connections/{make_connection['id']}/workflows/101/execute",
        {"data": {"order": "C-1"}, "wait": "callback", "timeout_s": 20},
        format="json",
    )
    assert res.status_code == 200, res.content
    out = res.json()
    assert out["status"] == "succeeded" and out["execution_id"]
    assert out["data"]["outputs"] == {"total": 42, "echo": {"order": "C-1"}}
    assert out["execution"]["status"] == "succeeded"


def test_api_callback_failure_expiry_and_unknown_tokens(api, fake_make, make_connection, public_live):
    fake_make.scenarios["101"]["outcome"] = "ERROR"
    conn = make_connection["id"]
    res = api.post(
        f"/api/v1/providers/connections/{conn}/workflows/101/execute",
        {"wait": "callback", "timeout_s": 20},
        format="json",
    )
    out = res.json()
    assert out["status"] == "failed" and out["execution"]["error"]["message"] == "module 3 failed"
    url = out["execution"]["callback_url"]
    assert post_json(url, {"again": True}) == 410  # used
    assert post_json(url.rsplit("/", 1)[0] + "/" + "x" * 43, {}) == 404

    fake_make.callback_delay_s = 3600
    res = api.post(
        f"/api/v1/providers/connections/{conn}/workflows/102/execute",
        {"wait": "callback", "expires_in_s": 1},
        format="json",
    )
    assert res.status_code == 202
    late = res.json()["execution"]
    ProviderExecution.objects.filter(pk=late["id"]).update(callback_expires_at="2000-01-01T00:00:00Z")
    detail = api.get(f"/api/v1/providers/connections/{conn}/executions/{late['id']}").json()
    assert detail["status"] == "failed" and detail["error"]["category"] == "TIMEOUT_ERROR"  # no callback yet
    assert post_json(late["callback_url"], {"late": True}) == 410
    detail = api.get(f"/api/v1/providers/connections/{conn}/executions/{late['id']}").json()
    assert detail["status"] == "failed" and detail["error"]["category"] == "TIMEOUT_ERROR"
    assert [c["outcome"] for c in detail["callbacks"]] == ["expired"]


def test_a_make_webhook_node_waits_for_its_callback(api, fake_make, make_hooks_connection, callbacks_live):
    from .test_provider_nodes import chain, execute, node, wait_for_run

    wid = chain(
        api,
        {
            "id": "hook",
            "type": "provider.make",
            "config": {
                "connection": "Make hooks",
                "options": {"hook": "9"},
                "wait": "callback",
                "data": {"order": "{{ input.order }}"},
            },
        },
    )
    run = execute(api, wid, {"order": "N-1"}, wait=False)
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "completed", [n["error"] for n in done["nodes"]]
    assert node(done, "hook")["output"]["data"] == {"hook": "abc", "received": {"order": "N-1"}}


def test_a_make_webhook_node_cannot_poll(api, make_hooks_connection):
    res = api.post(
        "/api/v1/workflows/",
        {
            "schema": "switchyard.workflow/1",
            "name": "hook poll",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "hook",
                    "type": "provider.make",
                    "config": {"connection": "Make hooks", "options": {"hook": "9"}, "wait": "poll"},
                },
            ],
            "edges": [{"source": "start", "target": "hook"}],
        },
        format="json",
    )
    assert res.status_code == 400
    assert "no execution to poll" in str(res.json())
