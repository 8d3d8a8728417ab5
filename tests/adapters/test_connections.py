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


def _backend_alive(pid: int) -> bool:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as admin:
        return bool(admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone())


def _gone(pid: int) -> bool:
    """The server ends a backend a moment after its client closes the socket."""
    import time

    for _ in range(100):
        if not _backend_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_rotating_a_credential_closes_its_pooled_postgres_connection_at_once(api):
    """No further operation needed: the save itself closes the connection made with the old data."""
    cred = unique("db")
    made = make_credential(api, cred, {"url": PG})
    run = run_nodes(api, [_query(cred, "pid", "SELECT pg_backend_pid() AS pid")])
    pid = run["output"]["rows"][0]["pid"]
    assert pool.idle_count(made["id"]) == 1 and _backend_alive(pid)
    res = api.patch(
        f"/api/v1/credentials/{made['id']}/", {"data": {"url": PG + "?sslmode=disable"}}, format="json"
    )
    assert res.status_code == 200, res.content
    assert pool.idle_count(made["id"]) == 0
    assert _gone(pid)
    # The next operation connects with the new data (and pools that connection).
    again = run_nodes(api, [_query(cred, "pid", "SELECT pg_backend_pid() AS pid")])
    assert again["output"]["rows"][0]["pid"] != pid and pool.idle_count(made["id"]) == 1
    # Deleting the credential closes it too.
    newer = again["output"]["rows"][0]["pid"]
    assert api.delete(f"/api/v1/credentials/{made['id']}/").status_code == 204
    assert pool.idle_count(made["id"]) == 0 and _gone(newer)


def test_a_rotation_in_another_process_closes_the_connections_pooled_here(api, settings):
    """Workers are other processes: the change reaches their pools through Redis."""
    import os
    import subprocess
    import sys

    settings.REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"
    from connectors.adapters import rotation

    rotation.listen()
    cred = unique("db")
    made = make_credential(api, cred, {"url": PG})
    run = run_nodes(api, [_query(cred, "pid", "SELECT pg_backend_pid() AS pid")])
    pid = run["output"]["rows"][0]["pid"]
    assert pool.idle_count(made["id"]) == 1
    announce = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "django.setup();"
        f"from connectors.adapters.rotation import credential_changed; credential_changed({made['id']!r})"
    )
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
    subprocess.run([sys.executable, "-c", announce], check=True, env=env, timeout=120)
    assert _gone(pid)
    assert pool.idle_count(made["id"]) == 0
