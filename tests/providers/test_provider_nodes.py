"""provider.* nodes in workflow runs: execute + poll, execute + callback, callbacks before
the node waits, expired/unknown tokens, failure conditions, timeouts, durable waits."""

import time

import pytest

from runs.models import CallbackReceipt, CorrelationToken, WorkflowRun

from .fakes import post_json

START = {"id": "start", "type": "trigger.manual"}


def create(api, nodes, edges):
    res = api.post(
        "/api/v1/workflows/",
        {"schema": "switchyard.workflow/1", "name": "providers", "nodes": nodes, "edges": edges},
        format="json",
    )
    assert res.status_code == 201, res.content
    return res.json()["id"]


def chain(api, *nodes):
    ids = ["start", *[n["id"] for n in nodes]]
    return create(
        api, [START, *nodes], [{"source": a, "target": b} for a, b in zip(ids, ids[1:], strict=False)]
    )


def execute(api, wid, input=None, wait=True):
    res = api.post(
        f"/api/v1/workflows/{wid}/execute",
        {"input": input or {}, "wait": wait, "timeout_s": 30},
        format="json",
    )
    assert res.status_code in (200, 202), res.content
    return res.json()


def wait_for_run(api, run_id, statuses=("completed", "failed", "partial"), timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run still {run['status']}: {run}")


def node(run, node_id):
    return next(n for n in run["nodes"] if n["node_id"] == node_id)


def make_node(**config):
    return {
        "id": "make",
        "type": "provider.make",
        "config": {
            "connection": "Make EU",
            "workflow": "101",
            "data": {"order": "{{ input.order | default(null) }}"},
            **config,
        },
    }


@pytest.mark.usefixtures("inline_queue")
def test_make_scenario_is_executed_and_polled_to_its_outputs(api, make_connection):
    wid = chain(api, make_node(wait="poll", poll={"interval_s": 0.05, "max_attempts": 5}))
    run = execute(api, wid, {"order": "A-7"})
    assert run["status"] == "completed", run
    out = node(run, "make")["output"]
    assert out["provider"] == "make" and out["status"] == "succeeded" and out["remote_id"] == "101"
    assert out["data"] == {"total": 42, "echo": {"order": "A-7"}}
    logs = api.get(f"/api/v1/runs/{run['id']}/logs", {"node": "make"}).json()
    polls = [entry["message"] for entry in logs if entry["message"].startswith("poll ")]
    assert polls == ["poll 1 of 5: RUNNING (running)", "poll 2 of 5: SUCCESS (succeeded)"]


@pytest.mark.usefixtures("inline_queue")
def test_remote_failure_fails_the_node_with_integration_error_and_the_remote_error(
    api, fake_make, make_connection
):
    fake_make.scenarios["101"]["outcome"] = "ERROR"
    run = execute(api, chain(api, make_node(poll={"interval_s": 0.05})))
    assert run["status"] == "failed"
    error = node(run, "make")["error"]
    assert error["category"] == "INTEGRATION_ERROR"
    assert error["details"]["remote"]["message"] == "module 3 failed"


@pytest.mark.usefixtures("inline_queue")
def test_poll_failure_condition_fails_the_node(api, make_connection):
    condition = {"left": "{{ remote.data.total | default(0) }}", "op": "eq", "right": 42}
    run = execute(api, chain(api, make_node(poll={"interval_s": 0.05, "failure_condition": condition})))
    assert run["status"] == "failed"
    error = node(run, "make")["error"]
    assert error["category"] == "INTEGRATION_ERROR" and "failure condition" in error["message"]


@pytest.mark.usefixtures("inline_queue")
def test_polls_that_never_finish_time_out(api, fake_make, make_connection):
    fake_make.scenarios["101"]["polls"] = 100
    run = execute(api, chain(api, make_node(poll={"interval_s": 0.02, "max_attempts": 3})))
    assert run["status"] == "failed"
    error = node(run, "make")["error"]
    assert error["category"] == "TIMEOUT_ERROR" and error["details"]["polls"] == 3


@pytest.mark.usefixtures("inline_queue")
def test_wait_none_outputs_the_answer_as_accepted(api, make_connection):
    run = execute(api, chain(api, make_node(wait="none")))
    out = node(run, "make")["output"]
    assert run["status"] == "completed" and out["status"] == "accepted" and out["execution_id"]


@pytest.mark.usefixtures("inline_queue")
def test_long_poll_intervals_park_the_run_holding_no_worker(api, settings, make_connection):
    settings.WAIT_INLINE_MAX_S = 0.2
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    run = execute(api, chain(api, make_node(poll={"interval_s": 0.5})), wait=False)
    row = WorkflowRun.objects.get(pk=run["run_id"])
    assert row.status == "waiting" and row.lease_owner == "" and row.resume_at is not None
    assert node(api.get(f"/api/v1/runs/{row.pk}").json(), "make")["status"] == "waiting"
    from runs.timekeeping import resume_due_runs

    resumed = 0
    deadline = time.monotonic() + 20
    while WorkflowRun.objects.get(pk=row.pk).status == "waiting" and time.monotonic() < deadline:
        time.sleep(0.1)
        resumed += resume_due_runs()  # what the timekeeper does
    done = wait_for_run(api, row.pk)
    assert done["status"] == "completed" and node(done, "make")["output"]["status"] == "succeeded"
    assert resumed == 2  # one resume per poll: between them the run held no worker


def test_make_callback_resumes_the_node_and_is_listed_in_the_run(api, make_connection, callbacks_live):
    run = execute(api, chain(api, make_node(wait="callback")), wait=False)
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "completed", [n["error"] for n in done["nodes"]]
    out = node(done, "make")["output"]
    assert out["status"] == "succeeded" and out["data"]["outputs"] == {"total": 42, "echo": {"order": None}}
    [received] = done["callbacks"]
    assert received["node_id"] == "make" and received["outcome"] in ("accepted", "early")
    assert received["payload"]["status"] == "SUCCESS"
    assert received["context"]["provider"] == "make"


def test_zapier_hook_answer_is_only_accepted_the_outcome_comes_by_callback(
    api, fake_zapier, zapier_connection, callbacks_live
):
    wid = chain(
        api,
        {
            "id": "zap",
            "type": "provider.zapier",
            "config": {"connection": "Zap orders", "data": {"sku": "{{ input.sku }}"}},
        },
    )
    run = execute(api, wid, {"sku": "X1"}, wait=False)
    done = wait_for_run(api, run["run_id"])
    out = node(done, "zap")["output"]
    assert out == {
        "provider": "zapier",
        "remote_id": "",
        "execution_id": out["execution_id"],
        "status": "succeeded",
        "data": {"zap": "orders", "received": {"sku": "X1"}},
    }
    sent = fake_zapier.requests[-1]
    assert sent["body"]["callback_url"].startswith(callbacks_live.url + "/api/v1/callbacks/")
    assert len(sent["headers"]["X-Switchyard-Ref"]) == 32  # our reference for the call


def test_a_callback_that_arrives_before_the_node_waits_is_kept_and_consumed(
    api, fake_zapier, zapier_connection, callbacks_live
):
    fake_zapier.hooks["orders"]["before_answer"] = True  # the Zap answers during our POST
    run = execute(
        api,
        chain(api, {"id": "zap", "type": "provider.zapier", "config": {"connection": "Zap orders"}}),
        wait=False,
    )
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "completed", [n["error"] for n in done["nodes"]]
    assert [c["outcome"] for c in done["callbacks"]] == ["early"]
    assert node(done, "zap")["output"]["data"]["zap"] == "orders"


def test_zapier_failure_reported_by_callback_fails_the_node(
    api, fake_zapier, zapier_connection, callbacks_live
):
    fake_zapier.hooks["orders"]["fail"] = True
    run = execute(
        api,
        chain(api, {"id": "zap", "type": "provider.zapier", "config": {"connection": "Zap orders"}}),
        wait=False,
    )
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "failed"
    assert node(done, "zap")["error"]["details"]["remote"]["message"] == "Zap step 3 failed"


@pytest.mark.usefixtures("inline_queue")
def test_callback_wait_times_out_per_the_node_and_on_timeout_applies(api, fake_zapier, zapier_connection):
    fake_zapier.hooks["orders"]["delay_s"] = 60
    zap = {
        "id": "zap",
        "type": "provider.zapier",
        "config": {"connection": "Zap orders", "expires_in_s": 0.3},
        "on_timeout": "default",
        "default_output": {"late": True},
    }
    run = execute(api, chain(api, zap), wait=False)
    time.sleep(0.5)
    from runs.timekeeping import resume_due_runs

    resume_due_runs()
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "completed" and node(done, "zap")["output"] == {"late": True}
    token = CorrelationToken.objects.get(run_id=run["run_id"])
    assert post_json_client(api, token.token, {"x": 1}).status_code == 410
    assert CallbackReceipt.objects.get(token=token).outcome == "expired"


def post_json_client(api, token, body):
    from rest_framework.test import APIClient

    return APIClient().post(f"/api/v1/callbacks/{token}", body, format="json")


@pytest.mark.usefixtures("inline_queue")
def test_callback_tokens_are_long_unknown_is_404_and_used_is_410(api, zapier_connection):
    run = execute(api, chain(api, {"id": "wait", "type": "flow.callback", "config": {}}), wait=False)
    token = CorrelationToken.objects.get(run_id=run["run_id"])
    assert len(token.token) >= 43  # 256 random bits, URL-safe
    assert post_json_client(api, "x" * 43, {}).status_code == 404
    first = post_json_client(api, token.token, {"ok": 1})
    assert first.status_code == 202
    assert post_json_client(api, token.token, {"ok": 2}).status_code == 410
    done = wait_for_run(api, run["run_id"])
    assert [c["outcome"] for c in done["callbacks"]] == ["accepted", "duplicate"]
    assert node(done, "wait")["output"] == {"ok": 1}


@pytest.mark.usefixtures("inline_queue")
def test_callback_headers_are_stored_with_secrets_masked(api):
    run = execute(api, chain(api, {"id": "wait", "type": "flow.callback", "config": {}}), wait=False)
    token = CorrelationToken.objects.get(run_id=run["run_id"]).token
    from rest_framework.test import APIClient

    APIClient().post(
        f"/api/v1/callbacks/{token}",
        {"a": 1},
        format="json",
        HTTP_AUTHORIZATION="Bearer s3cr3t",
        HTTP_X_REQUEST_ID="r-1",
    )
    done = wait_for_run(api, run["run_id"])
    headers = done["callbacks"][0]["headers"]
    assert headers["Authorization"] == "***" and headers["X-Request-Id"] == "r-1"
    assert "s3cr3t" not in str(done)


def test_signed_callbacks_need_the_connection_secret(api, fake_zapier, callbacks_live):
    from runs.callbacks import sign

    from .conftest import connect, credential

    credential(api, "zap_signing", {"callback_secret": "whsec-123"})
    connect(
        api, name="Signed zap", provider="zapier", base_url=fake_zapier.hook_url(), credential="zap_signing"
    )
    fake_zapier.hooks["orders"]["delay_s"] = 60  # we call back ourselves below
    run = execute(
        api,
        chain(api, {"id": "zap", "type": "provider.zapier", "config": {"connection": "Signed zap"}}),
        wait=False,
    )
    wait_for_run(api, run["run_id"], statuses=("waiting",))
    token = CorrelationToken.objects.get(run_id=run["run_id"]).token
    url = f"{callbacks_live.url}/api/v1/callbacks/{token}"
    assert post_json(url, {"done": True}) == 401
    import json

    body = json.dumps({"done": True}).encode()
    import urllib.request

    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("X-Switchyard-Signature", sign("whsec-123", body))
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "completed"
    assert [c["outcome"] for c in done["callbacks"]] == ["bad_signature", "accepted"]
    assert done["callbacks"][1]["signed"] is True


def test_callback_urls_follow_the_address_the_server_answers_on(
    api, fake_zapier, zapier_connection, callbacks_live
):
    fake_zapier.hooks["orders"]["delay_s"] = 60
    run = execute(api, chain(api, {"id": "wait", "type": "flow.callback", "config": {}}), wait=False)
    row = wait_for_run(api, run["run_id"], statuses=("waiting",))
    assert node(row, "wait")["callback_url"].startswith("http://testserver/api/v1/callbacks/")  # this request
    stored = CorrelationToken.objects.get(run_id=run["run_id"])
    port = callbacks_live.url.rsplit(":", 1)[1]
    assert port != "8000"
    assert post_json(f"{callbacks_live.url}/api/v1/callbacks/{stored.token}", {"v": 1}) == 202
    assert wait_for_run(api, run["run_id"])["status"] == "completed"


def test_http_request_waits_for_the_callback_it_sent_and_outputs_both(api, fake_zapier, callbacks_live):
    """`{{ callback.url }}` in the request's own body; the Zap posts back to it."""
    wid = chain(
        api,
        {
            "id": "ask",
            "type": "http.request",
            "config": {
                "method": "POST",
                "url": fake_zapier.hook_url(),
                "body": {"question": "ok?", "callback_url": "{{ callback.url }}"},
                "wait_for_callback": True,
                "callback_expires_in_s": 60,
            },
        },
        {
            "id": "after",
            "type": "data.transform",
            "config": {"set": {"answer": "{{ nodes.ask.callback.zap }}"}},
        },
    )
    run = execute(api, wid, wait=False)
    done = wait_for_run(api, run["run_id"])
    assert done["status"] == "completed", [n["error"] for n in done["nodes"]]
    out = node(done, "ask")["output"]
    assert out["status"] == 200 and out["body"]["status"] == "success"
    assert out["callback"] == {"zap": "orders", "received": {"question": "ok?"}}
    assert node(done, "after")["output"]["answer"] == "orders"
    assert done["callbacks"][0]["context"] == {"type": "http.request"}


@pytest.mark.usefixtures("inline_queue")
def test_a_remote_answer_holding_a_nul_is_recorded_and_the_run_finishes(api, make_connection):
    from providers.models import ProviderExecution

    node_config = make_node(wait="poll", poll={"interval_s": 0.05, "max_attempts": 5})
    node_config["config"]["data"] = {"order": "{{ 'K\\x00' }}"}  # echoed back in the outputs
    run = execute(api, chain(api, node_config))
    assert run["status"] == "completed", run
    record = ProviderExecution.objects.get(run_id=run["id"])
    assert record.data["echo"] == {"order": "K\ufffd"}  # stored as U+FFFD (PostgreSQL stores no NUL)
