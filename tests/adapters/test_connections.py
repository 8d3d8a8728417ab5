"""What every adapter gets from the runner: the address rule, allowlists, rate limits, pooling
and credential rotation (shown on PostgreSQL, the runner is the same for all)."""

from __future__ import annotations

import pytest

from connectors.adapters.pool import pool

from .helpers import logs_of, make_credential, node_of, run_nodes, unique

pytestmark = pytest.mark.usefixtures("inline_queue")
PG = "postgresql://postgres@127.0.0.1:5432/test"


def _query(cred, node_id="q", sql="SELECT 1 AS one"):
    return {"id": node_id, "type": "db.query", "config": {"credential": cred, "sql": sql}}


def test_private_addresses_are_refused_unless_allowed(api, settings):
    settings.ALLOW_PRIVATE_OUTBOUND = False
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    cred = unique("db")
    make_credential(api, cred, {"url": PG})
    run = run_nodes(api, [_query(cred)])
    error = node_of(run, "q")["error"]
    assert error["category"] == "CONNECTION_ERROR"
    assert "ALLOW_PRIVATE_OUTBOUND" in error["message"] and "loopback" in error["message"]
    assert pool.connects == 0 or pool.idle_count() == 0


def test_a_host_outside_the_allowlist_is_refused(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG, "allowed_hosts": "db.internal.example, *.corp.example"})
    run = run_nodes(api, [_query(cred)])
    error = node_of(run, "q")["error"]
    assert error["category"] == "CONNECTION_ERROR" and "allowed_hosts" in error["message"]
    make_credential(api, cred + "_ok", {"url": PG, "allowed_hosts": "127.0.0.1"})
    assert run_nodes(api, [_query(cred + "_ok")])["status"] == "completed"


def test_pooled_connections_are_reused_and_rotation_closes_them(api):
    cred = unique("db")
    made = make_credential(api, cred, {"url": PG})
    before = pool.connects
    run = run_nodes(api, [_query(cred, "a"), _query(cred, "b"), _query(cred, "c")])
    assert run["status"] == "completed"
    assert pool.connects - before == 1 and pool.idle_count(made["id"]) == 1
    # Rotate: the next operation uses the new settings and the old connection is closed.
    res = api.patch(
        f"/api/v1/credentials/{made['id']}/",
        {"data": {"url": "postgresql://postgres@127.0.0.1:5432/test?application_name=rotated"}},
        format="json",
    )
    assert res.status_code == 200, res.content
    run = run_nodes(api, [_query(cred, "d", "SELECT current_database() AS db")])
    assert run["output"] == {"rows": [{"db": "test"}], "row_count": 1}
    assert pool.connects - before == 2 and pool.idle_count(made["id"]) == 1
    # A broken rotation fails the very next operation.
    api.patch(
        f"/api/v1/credentials/{made['id']}/",
        {"data": {"url": "postgresql://postgres@127.0.0.1:5432/no_such_db_here"}},
        format="json",
    )
    run = run_nodes(api, [_query(cred, "e")])
    assert (
        node_of(run, "e")["error"]["category"] == "INTEGRATION_ERROR"
        or node_of(run, "e")["error"]["category"] == "CONNECTION_ERROR"
    )
    assert pool.idle_count(made["id"]) == 0


def test_rate_limit_fails_fast_when_the_wait_does_not_fit(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG, "rate_limit_per_s": "0.01"})
    nodes = [_query(cred, "a"), {**_query(cred, "b"), "timeout_ms": 2000}]
    run = run_nodes(api, nodes)
    assert node_of(run, "a")["status"] == "succeeded"
    error = node_of(run, "b")["error"]
    assert error["category"] == "RATE_LIMIT_ERROR" and error["details"]["rate_limit_per_s"] == 0.01


def test_a_retryable_failure_is_logged_as_retry_pending_then_retried(api):
    cred = unique("db")
    make_credential(api, cred, {"url": "postgresql://postgres@127.0.0.1:1/test"})
    node = {**_query(cred), "retry": {"max_attempts": 2, "initial_delay_ms": 10, "jitter": False}}
    run = run_nodes(api, [node])
    q = node_of(run, "q")
    assert q["attempts"] == 2 and q["error"]["category"] == "CONNECTION_ERROR"
    states = [e["data"]["state"] for e in logs_of(api, run, "q") if (e.get("data") or {}).get("state")]
    assert states == [
        "RECEIVED",
        "PREPARING",
        "CONNECTING",
        "RETRY_PENDING",
        "CONNECTING",
        "FAILED",
    ]


def test_an_unknown_scheme_or_credential_is_rejected(api):
    cred = unique("db")
    make_credential(api, cred, {"url": "oracle://scott@127.0.0.1/orcl"})
    run = run_nodes(api, [_query(cred), _query("nope", "n")], chain=False)
    assert "postgresql://" in node_of(run, "q")["error"]["message"]
    assert node_of(run, "n")["error"]["category"] == "VALIDATION_ERROR"
    states = [e["data"]["state"] for e in logs_of(api, run, "q") if (e.get("data") or {}).get("state")]
    assert states == ["RECEIVED", "REJECTED"]


def test_an_adapter_node_can_be_tested_alone(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG})
    doc = {
        "schema": "switchyard.workflow/1",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "q",
                "type": "db.query",
                "config": {
                    "credential": cred,
                    "sql": "SELECT :n::int * 2 AS twice",
                    "params": {"n": "{{ input.n }}"},
                },
            },
        ],
        "edges": [{"source": "start", "target": "q"}],
    }
    workflow_id = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    res = api.post(f"/api/v1/workflows/{workflow_id}/nodes/q/test", {"input": {"n": 21}}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "succeeded", (body.get("error"), body.get("logs"))
    assert body["output"] == {"rows": [{"twice": 42}], "row_count": 1}
