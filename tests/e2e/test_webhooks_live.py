"""Webhooks from outside the process, against a real `serve`."""
import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def send(url, body: dict, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize("respond", ["immediately", "on_completion"])
def test_webhook_runs_the_active_workflow(server, respond):
    wid = server.create_workflow(
        [{"id": "hook", "type": "trigger.webhook", "config": {"respond": respond}},
         {"id": "double", "type": "data.transform", "config": {"set": {"twice": "{{ input.body.n * 2 }}"},
                                                                "keep_input": False}}],
        [{"source": "hook", "target": "double"}])
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    url = body["triggers"][0]["url"]
    assert url.startswith(server.base + "/hooks/")
    code, answer = send(url, {"n": 21}, {"Idempotency-Key": f"k-{respond}"})
    if respond == "on_completion":
        assert (code, answer) == (200, {"twice": 42})
        code, runs = server.call("GET", f"/api/v1/workflows/{wid}/runs")
        assert runs["count"] == 1 and runs["results"][0]["mode"] == "live"
    else:
        assert code == 202
        run = server.wait_for(lambda: (r := server.run(answer["run_id"]))["status"] == "completed" and r)
        assert run["output"] == {"twice": 42} and run["trigger_type"] == "trigger.webhook"
        assert send(url, {"n": 21}, {"Idempotency-Key": "k-immediately"})[1]["run_id"] == answer["run_id"]
