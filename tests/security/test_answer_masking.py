"""A webhook answering `on_completion` returns the run's output from memory: every secret
typed into the workflow (sealed at rest) is masked there as in what the run stores, also
when the output is an echo of the request a node sent with it."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from runs.models import WorkflowRun

pytestmark = pytest.mark.usefixtures("inline_queue")

PASSWORD = "url-Pass-in-the-URL-4711"
QUERY_TOKEN = "query-Token-in-the-URL-5822"
LISTED = ["listed-Key-one-6933", "listed-Key-two-7044"]


def forms(secret: str) -> list[str]:
    return [secret, urllib.parse.quote(secret, safe=""), secret[:8]]


def test_secrets_typed_into_a_request_are_masked_in_the_answer_and_the_stored_run(api, client, echo_server):
    host = echo_server.url("/echo").split("://", 1)[1]
    document = {
        "schema": "switchyard.workflow/1",
        "name": "echoed",
        "nodes": [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": "on_completion"}},
            {
                "id": "call",
                "type": "http.request",
                "config": {
                    "method": "GET",
                    "url": f"http://url-user:{PASSWORD}@{host}?access_token={QUERY_TOKEN}",
                    "query": {"api_key": LISTED},
                },
            },
        ],
        "edges": [{"source": "hook", "target": "call"}],
    }
    res = api.post("/api/v1/workflows/", document, format="json")
    assert res.status_code == 201, res.content
    wid = res.json()["id"]
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    hook = next(t["url"] for t in res.json()["triggers"] if t["type"] == "trigger.webhook")
    answer = client.post(hook.split("testserver", 1)[1], b"{}", content_type="application/json")
    assert answer.status_code == 200, answer.content

    # The request really carried every secret; the echo of it is what the run outputs.
    seen = echo_server.seen[-1]
    basic = base64.b64encode(f"url-user:{PASSWORD}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {basic}"
    assert seen.query == {"access_token": [QUERY_TOKEN], "api_key": LISTED}
    stored = WorkflowRun.objects.get(workflow_id=wid)
    for text, where in ((answer.content.decode(), "answer"), (json.dumps(stored.output), "stored output")):
        assert "***" in text, where
        for secret in [PASSWORD, QUERY_TOKEN, *LISTED]:
            for form in forms(secret):
                assert form not in text, f"{form!r} in the {where}: {text}"
        assert basic[:16] not in text, f"the Basic header in the {where}: {text}"
