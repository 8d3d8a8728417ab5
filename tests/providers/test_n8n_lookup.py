"""Finding the n8n execution a webhook call started, by the reference header the Webhook node
recorded, when it is not among the newest page of executions: the lookup follows n8n's
cursor pagination. Against a fake of n8n's public API (`GET /api/v1/executions`, the n8n
API reference: `{data, nextCursor}`, `limit`, `cursor`, `workflowId`, `includeData`, auth by
`X-N8N-API-KEY`); the real-n8n tests (marked n8n) cover the rest."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers.adapters import ConnectionInfo, ProviderClient, registry
from providers.adapters.n8n import REF_HEADER, REF_PREFIX

KEY = "n8n-api-key-1"


class FakeN8nExecutions:
    """`count` executions of workflow "wf1", newest first; execution i was started by a call
    with reference `ref-<i>` (as its Webhook node records the request headers)."""

    def __init__(self, count: int):
        self.executions = [
            {
                "id": str(i),
                "workflowId": "wf1",
                "status": "success",
                "finished": True,
                "data": {
                    "resultData": {
                        "lastNodeExecuted": "Webhook",
                        "runData": {
                            "Webhook": [
                                {
                                    "data": {
                                        "main": [
                                            [{"json": {"headers": {REF_HEADER.lower(): f"ref-{i}"}, "n": i}}]
                                        ]
                                    }
                                }
                            ]
                        },
                    }
                },
            }
            for i in range(count, 0, -1)
        ]
        self.queries: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
                status, body = owner.answer(parts.path, query, self.headers.get("X-N8N-API-KEY"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path, query, key):
        if key != KEY:
            return 401, {"message": "unauthorized"}
        if path.startswith("/api/v1/executions/"):
            found = next((e for e in self.executions if e["id"] == path.rsplit("/", 1)[1]), None)
            return (200, found) if found else (404, {"message": "Not Found"})
        if path != "/api/v1/executions":
            return 404, {"message": "Not Found"}
        self.queries.append(query)
        limit = min(int(query.get("limit", 100)), 250)
        start = int(query["cursor"]) if query.get("cursor") else 0
        rows = [e for e in self.executions if e["workflowId"] == query.get("workflowId", "wf1")]
        page = rows[start : start + limit]
        if query.get("includeData") != "true":
            page = [{k: v for k, v in e.items() if k != "data"} for e in page]
        more = start + limit < len(rows)
        return 200, {"data": page, "nextCursor": str(start + limit) if more else None}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_n8n():
    server = FakeN8nExecutions(130)
    yield server
    server.close()


def adapter(fake_n8n):
    info = ConnectionInfo(base_url=fake_n8n.url, secrets={"api_key": KEY})
    return registry.get("n8n")(info, ProviderClient(base_url=fake_n8n.url, allow_private=True))


def test_an_execution_past_the_newest_page_is_found_through_the_cursor(fake_n8n):
    found = adapter(fake_n8n).find_execution(workflow="wf1", reference="ref-3")  # the third oldest
    assert found == "3"
    cursors = [q.get("cursor") for q in fake_n8n.queries]
    assert cursors[0] is None and len(cursors) >= 3 and all(cursors[1:])  # followed nextCursor
    assert all(q["workflowId"] == "wf1" and q["includeData"] == "true" for q in fake_n8n.queries)


def test_an_unknown_reference_reads_to_the_last_page_and_finds_nothing(fake_n8n):
    assert adapter(fake_n8n).find_execution(workflow="wf1", reference="nobody") is None
    assert {q.get("cursor") for q in fake_n8n.queries} == {None, "50", "100"}  # 130 executions


def test_polling_by_reference_finds_an_old_execution_and_reads_its_result(fake_n8n):
    result = adapter(fake_n8n).poll(workflow="wf1", execution_id=f"{REF_PREFIX}wf1:ref-2")
    assert result.status == "succeeded" and result.execution_id == "2"
    assert result.data["n"] == 2
