"""The server log (the handler `LOGGING` configures, what `make run` prints) never writes a
trigger URL token whole: Django's own warning for a refused webhook names the path."""

import io
import logging

import pytest

from config.log_format import MaskHookTokens, mask_hook_tokens
from workflows.models import TriggerEndpoint

pytestmark = pytest.mark.django_db

WORKFLOW = {
    "schema": "switchyard.workflow/1",
    "name": "guarded",
    "nodes": [
        {
            "id": "hook",
            "type": "trigger.webhook",
            "config": {"method": "POST", "auth": {"type": "header", "name": "X-Key", "token": "k-0042-k"}},
        }
    ],
    "edges": [],
}


@pytest.fixture
def server_log():
    """What the configured console handler writes, while the test runs."""
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, MaskHookTokens) for f in h.filters)
    ]
    assert handlers, "LOGGING's console handler masks hook tokens"
    stream = io.StringIO()
    previous = handlers[0].setStream(stream)
    try:
        yield stream
    finally:
        handlers[0].setStream(previous)


def test_a_refused_webhook_is_logged_without_its_token(api, client, server_log):
    wid = api.post("/api/v1/workflows/", WORKFLOW, format="json").json()["id"]
    assert api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").status_code == 200
    token = TriggerEndpoint.objects.get(workflow_id=wid, node_id="hook").token
    path = f"/hooks/{token}"
    assert client.post(path, b"{}", content_type="application/json").status_code == 401
    assert client.post(path + "-unknown", b"{}", content_type="application/json").status_code == 404
    written = server_log.getvalue()
    assert f"/hooks/{token[:4]}***" in written
    assert token[:8] not in written


def test_other_paths_are_left_as_they_are():
    assert mask_hook_tokens("GET /runs/abc?x=1") == "GET /runs/abc?x=1"
    assert mask_hook_tokens('"/hooks/abcdefgh" and /hooks/xy') == '"/hooks/abcd***" and /hooks/xy***'


def test_a_malformed_log_call_is_left_to_the_handler_to_report():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s and %s", ("one",), None)
    assert MaskHookTokens().filter(record) is True
