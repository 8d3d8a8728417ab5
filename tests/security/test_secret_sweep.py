"""Plant secrets, use them in every node type and auth style (see `uses.py`), then sweep
every table, log line, API answer, websocket frame and page for any readable form of
them: plain, URL-encoded, JSON-escaped, base64 (also as `user:password`) or a truncated
prefix. It must find none."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application
from connectors.models import ConnectorExecution
from runs.models import WorkflowRun
from tests.connectors.api_server import ApiServer
from tests.connectors.factories import echo, make_connector, make_credential, workspace_of

from . import uses
from .sweep import NODE_USES, Sweep

pytestmark = pytest.mark.usefixtures("inline_queue")
PLANT = uses.PLANT


@pytest.fixture
def target():
    server = ApiServer()
    for method in ("GET", "POST"):
        server.route(method, "/echo", echo)
    padding = "x" * 990  # the echoed header straddles the 1000-character cut of error bodies
    server.route("GET", "/fail", lambda seen: (500, padding + json.dumps(seen.headers)))
    yield server
    server.close()


def _workflow_document(target):
    nodes, edges, connectors = [], [], []
    trigger = {
        "id": "hook",
        "type": "trigger.webhook",
        "config": {
            "method": "POST",
            "respond": "on_completion",
            "auth": {"type": "header", "name": "X-Hook-Token", "token": PLANT.literals["hook_token"]},
        },
    }
    for use_fn in NODE_USES:
        use = use_fn(PLANT, target.url)
        nodes += use.nodes
        edge = {"source": "hook", "target": use.nodes[0]["id"]}
        if use.mapping:
            edge["mapping"] = use.mapping
        edges.append(edge)
        edges += [
            {"source": a["id"], "target": b["id"]} for a, b in zip(use.nodes, use.nodes[1:], strict=False)
        ]
        connectors += use.connectors
    document = {
        "schema": "switchyard.workflow/1",
        "name": "sweep",
        "nodes": [trigger, *nodes],
        "edges": edges,
    }
    return document, connectors


def _hmac_document():
    trigger = {
        "id": "signed",
        "type": "trigger.webhook",
        "config": {
            "method": "POST",
            "auth": {"type": "hmac_sha256", "secret": PLANT.literals["hmac_secret"]},
        },
    }
    echo_node = {"id": "keep", "type": "data.transform", "config": {"set": {"h": "{{ input.headers }}"}}}
    return {
        "schema": "switchyard.workflow/1",
        "name": "signed",
        "nodes": [trigger, echo_node],
        "edges": [{"source": "signed", "target": "keep"}],
    }


def _create_and_activate(api, document):
    res = api.post("/api/v1/workflows/", document, format="json")
    assert res.status_code == 201, res.content
    wid = res.json()["id"]
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    assert res.status_code == 200, res.content
    url = next(t["url"] for t in res.json()["triggers"] if t["type"] == "trigger.webhook")
    return wid, url.split("testserver", 1)[1]


def _frames(path):
    async def scenario():
        comm = WebsocketCommunicator(
            application, path, headers=[(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")]
        )
        connected, _ = await comm.connect()
        assert connected
        frames = []
        while True:
            try:
                frames.append(await comm.receive_json_from(timeout=1))
            except (TimeoutError, asyncio.CancelledError):  # nothing more within 1 s: all sent
                return frames

    return async_to_sync(scenario)()


def test_no_planted_secret_is_readable_anywhere(api, alice, client, admin_client, target, caplog):
    caplog.set_level(logging.DEBUG)
    workspace = workspace_of(alice)
    for name, data in PLANT.credentials.items():
        make_credential(workspace, name, data)
    document, connectors = _workflow_document(target)
    for connector in connectors:
        make_connector(workspace, connector["config"], name=connector["name"])
    wid, hook = _create_and_activate(api, document)
    hmac_wid, hmac_hook = _create_and_activate(api, _hmac_document())

    sweep = Sweep(PLANT)
    answer = client.post(
        hook + "?token=" + PLANT.literals["hook_token"],
        json.dumps({"hello": "world"}),
        content_type="application/json",
        HTTP_X_HOOK_TOKEN=PLANT.literals["hook_token"],
        HTTP_AUTHORIZATION="Bearer " + PLANT.credentials["bearer"]["token"],
        HTTP_COOKIE="session=" + PLANT.literals["hook_token"],
    )
    sweep.add("webhook answer", answer.content.decode())
    assert answer.status_code == 200, answer.content
    body = json.dumps({"n": 1}).encode()
    signature = hmac.new(PLANT.literals["hmac_secret"].encode(), body, hashlib.sha256).hexdigest()
    signed = client.post(
        hmac_hook, body, content_type="application/json", HTTP_X_SIGNATURE_256=f"sha256={signature}"
    )
    assert signed.status_code == 202, signed.content
    sweep.add("signed webhook answer", signed.content.decode())

    run = WorkflowRun.objects.get(workflow_id=wid)
    nodes = {n["node_id"]: n for n in api.get(f"/api/v1/runs/{run.pk}").json()["nodes"]}
    # every use really ran and really handled its secret
    assert run.status == "partial", (run.status, run.error)  # the two error uses failed on purpose
    assert nodes["http_error"]["status"] == "failed" and nodes["bad_int"]["status"] == "failed"
    assert all(n["status"] == "succeeded" for k, n in nodes.items() if k not in ("http_error", "bad_int")), (
        nodes
    )
    assert any(s.path == "/fail" for s in target.seen) and len(target.seen) >= 7
    sent = json.dumps([s.headers for s in target.seen] + [s.query for s in target.seen])
    assert PLANT.credentials["conn_own"]["token"] in sent and PLANT.credentials["templated"]["token"] in sent
    assert PLANT.literals["http_literal"] in sent and PLANT.literals["http_literal_key"] in sent
    userinfo = base64.b64encode(b"url-user:" + PLANT.literals["url_password"].encode()).decode()
    assert (
        userinfo in sent and PLANT.literals["listed_key_a"] in sent and PLANT.literals["listed_key_b"] in sent
    )
    assert PLANT.literals["url_query_token"] in sent

    # The builder's working copy too: the document sent back as the API shows it (secrets `***`).
    shown = api.get(f"/api/v1/workflows/{wid}/draft").json()["document"]
    assert api.put(f"/api/v1/workflows/{wid}/draft", {"document": shown}, format="json").status_code == 200
    sweep.database()
    sweep.logs(caplog.records)
    execution = ConnectorExecution.objects.get()
    connector_id = execution.connector_id
    sweep.api(
        api,
        [
            f"/api/v1/runs/{run.pk}",
            f"/api/v1/runs/{run.pk}/logs",
            f"/api/v1/runs/?workflow={wid}",
            f"/api/v1/workflows/{wid}/runs",
            f"/api/v1/workflows/{hmac_wid}/runs",
            f"/api/v1/connectors/{connector_id}",
            f"/api/v1/connectors/{connector_id}/executions",
            f"/api/v1/connectors/executions/{execution.pk}",
            "/api/v1/credentials/",
            "/api/v1/workflows/",
            f"/api/v1/workflows/{wid}",
            f"/api/v1/workflows/{wid}/export",
            f"/api/v1/workflows/{wid}/versions",
            f"/api/v1/workflows/{wid}/versions/1",
            f"/api/v1/workflows/{wid}/draft",
            f"/api/v1/workflows/{hmac_wid}",
            f"/api/v1/workflows/{hmac_wid}/export",
            f"/api/v1/workflows/{hmac_wid}/versions/1",
        ],
    )
    for other in WorkflowRun.objects.exclude(pk=run.pk):
        sweep.api(api, [f"/api/v1/runs/{other.pk}", f"/api/v1/runs/{other.pk}/logs"])
    client.force_login(alice)
    sweep.pages(
        client,
        [
            "/",
            f"/workflows/{wid}/",
            f"/workflows/{hmac_wid}/",
            f"/runs/{run.pk}/",
            "/connectors/",
            f"/connectors/{connector_id}/",
            "/credentials/",
        ],
    )
    sweep.admin(admin_client)
    token = Token.objects.get(user=alice).key
    sweep.frames("ws run", _frames(f"/ws/runs/{run.pk}/?token={token}"))
    sweep.frames("ws workflow", _frames(f"/ws/workflows/{wid}/?token={token}"))

    findings = sweep.findings()
    assert not findings, "\n".join(map(str, findings[:40]))
