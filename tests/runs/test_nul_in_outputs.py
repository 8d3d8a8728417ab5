"""A node output holding a NUL character is stored (as U+FFFD) and the run finishes: on
PostgreSQL, which stores no NUL in text or jsonb, the write failed and the run stayed pending."""

import pytest

from runs.models import NodeExecution, WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_whose_node_outputs_a_nul_completes_and_stores_it_as_a_replacement_character(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "nul output",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "t", "type": "data.transform", "config": {"set": {"x": "{{ 'a\\x00b' }}"}}},
        ],
        "edges": [{"source": "start", "target": "t"}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    res = api.post(
        f"/api/v1/workflows/{res.json()['id']}/execute/",
        {"input": {}, "wait": True, "timeout_s": 60},
        format="json",
    )
    assert res.status_code == 200, res.content
    assert res.json()["status"] == "completed", res.content
    run = WorkflowRun.objects.get(pk=res.json()["id"])
    assert run.status == "completed"
    assert run.output["x"] == "a\ufffdb"
    assert NodeExecution.objects.get(run=run, node_id="t").output["x"] == "a\ufffdb"
