"""A remote answer holding NUL characters (JSON `\\u0000` or raw text): the connector's
execution record and the run are stored (NUL shown as U+FFFD; PostgreSQL stores no NUL in
text or jsonb), the run finishes and the next node gets the answer as it came."""

from __future__ import annotations

import pytest

from connectors.models import ConnectorExecution

from .test_connector_node import execute, make_connector, make_workflow

pytestmark = pytest.mark.usefixtures("inline_queue")


def test_a_connector_answer_with_nul_characters_is_recorded_and_the_run_finishes(api, api_server):
    api_server.route("GET", "/json", (200, {"name": "a\x00b", "k\x00": 1}))
    api_server.route("GET", "/text", (200, b"plain\x00text", {"Content-Type": "text/plain"}))
    make_connector(
        api,
        {
            "steps": [
                {"name": "json", "url": api_server.url("/json")},
                {"name": "text", "url": api_server.url("/text")},
            ]
        },
        name="nul_answers",
    )
    run = execute(api, make_workflow(api, {"connector": "nul_answers"}), {})
    assert run["status"] == "completed", run
    execution = ConnectorExecution.objects.get()
    assert execution.status == "completed", execution.error
    stored = str([execution.input, execution.output, execution.steps, execution.error])
    assert "\x00" not in stored
    assert "plain\ufffdtext" in stored  # the text answer, as recorded
