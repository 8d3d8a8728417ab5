"""Data mapping in and out of an operation: DIRECT, TEMPLATE and SCRIPT, in a real workflow."""

from __future__ import annotations

import pytest

from .helpers import make_credential, node_of, run_nodes, unique

pytestmark = pytest.mark.usefixtures("inline_queue")
PG = "postgresql://postgres@127.0.0.1:5432/test"


def _query(cred, **extra):
    return {
        "id": "q",
        "type": "db.query",
        "config": {
            "credential": cred,
            "sql": "SELECT :name::text AS name, :n::int AS n",
            "params": {"name": "{{ input.customer.name }}", "n": "{{ input.count }}"},
            **extra,
        },
    }


def test_direct_input_mapping_and_template_output_mapping(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG})
    node = _query(
        cred,
        params={"customer": "{{ input.customer }}", "count": "{{ input.count }}"},
        input_mapping={"type": "DIRECT", "fields": {"name": "customer.name", "n": "count"}},
        output_mapping={
            "type": "TEMPLATE",
            "template": {"who": "{{ data.rows[0].name }}", "twice": "{{ data.rows[0].n * 2 }}"},
        },
    )
    run = run_nodes(api, [node], {"customer": {"name": "ada"}, "count": 21})
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"] == {"who": "ada", "twice": 42}


def test_script_mapping_runs_in_the_sandbox(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG})
    node = _query(
        cred,
        output_mapping={
            "type": "SCRIPT",
            "code": "result = {'names': [r['name'].upper() for r in input['rows']]}",
        },
    )
    run = run_nodes(api, [node], {"customer": {"name": "bob"}, "count": 1})
    assert run["output"] == {"names": ["BOB"]}
    bad = _query(cred, output_mapping={"type": "SCRIPT", "code": "import os\nresult = 1"})
    run = run_nodes(api, [bad], {"customer": {"name": "bob"}, "count": 1})
    assert node_of(run, "q")["error"]["category"] == "CODE_ERROR"


def test_a_missing_direct_source_path_is_a_template_error_and_bad_mappings_are_refused_on_save(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG})
    node = _query(cred, input_mapping={"type": "DIRECT", "fields": {"name": "nope.name"}})
    run = run_nodes(api, [node], {"customer": {"name": "x"}, "count": 1})
    error = node_of(run, "q")["error"]
    assert error["category"] == "TEMPLATE_ERROR" and "nope.name" in error["message"]
    doc = {
        "schema": "switchyard.workflow/1",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            _query(cred, output_mapping={"type": "XSLT"}),
        ],
        "edges": [{"source": "start", "target": "q"}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400
    fields = [e["field"] for e in res.json()["error"]["details"]["errors"]]
    assert any(f and f.startswith("config.output_mapping") for f in fields), fields
