"""GET /api/v1/integrations/health and the health page, from recorded operations."""

from __future__ import annotations

import pytest

from connectors.adapters.health import _percentile

from .helpers import make_credential, run_nodes, unique

pytestmark = pytest.mark.usefixtures("inline_queue")
PG = "postgresql://postgres:Health-pw-3@127.0.0.1:5432/test"


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert _percentile(values, 0.5) == 50 and _percentile(values, 0.95) == 95
    assert _percentile([7.0], 0.95) == 7 and _percentile([], 0.5) is None


def _some_operations(api):
    cred = unique("db")
    make_credential(api, cred, {"url": PG})
    ok = {"id": "ok", "type": "db.query", "config": {"credential": cred, "sql": "SELECT 1 AS one"}}
    bad = {
        "id": "bad",
        "type": "db.query",
        "config": {"credential": cred, "sql": "SELECT * FROM no_such_table_x"},
    }
    run_nodes(api, [ok, {**ok, "id": "ok2"}, {**ok, "id": "ok3"}, bad])
    return cred


def test_health_reports_rates_latency_and_the_last_error(api, bob_api):
    cred = _some_operations(api)
    res = api.get("/api/v1/integrations/health")
    assert res.status_code == 200, res.content
    (row,) = res.json()["results"]
    assert row["credential"] == cred and row["adapters"] == ["postgresql"]
    assert row["operations"] == 4 and row["succeeded"] == 3 and row["failed"] == 1
    assert row["success_rate"] == 0.75
    assert 0 < row["p50_ms"] <= row["p95_ms"]
    assert (
        row["last_error"]["category"] == "INTEGRATION_ERROR"
        and "no_such_table_x" in row["last_error"]["message"]
    )
    assert row["last_error"]["at"] and row["endpoint"] == "postgresql://postgres:***@127.0.0.1:5432/test"
    assert "Health-pw-3" not in res.content.decode()
    # Another user's workspace sees nothing of it.
    assert bob_api.get("/api/v1/integrations/health").json()["results"] == []


def test_health_filters_are_checked(api):
    res = api.get("/api/v1/integrations/health?since=yesterday")
    assert res.status_code == 400 and "since" in str(res.json()["error"]["details"])
    res = api.get("/api/v1/integrations/health?since=2999-01-01T00:00:00Z")
    assert res.status_code == 200 and res.json()["results"] == []


def test_health_page_shows_each_connection_and_an_empty_state(api, alice, bob, client):
    cred = _some_operations(api)
    client.force_login(alice)
    page = client.get("/integrations/health/").content.decode()
    assert 'data-testid="integration-health"' in page and cred in page
    assert "75.0%" in page and "INTEGRATION_ERROR" in page and "Health-pw-3" not in page
    client.force_login(bob)
    page = client.get("/integrations/health").content.decode()
    assert 'data-testid="health-empty"' in page
