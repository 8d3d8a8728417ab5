"""`db.query` / `db.execute` against the PostgreSQL and MariaDB servers on this machine."""

from __future__ import annotations

import psycopg
import pymysql
import pytest

from connectors.models import CredentialAccess, IntegrationOperation

from .helpers import logs_of, make_credential, node_of, run_nodes, unique

pytestmark = pytest.mark.usefixtures("inline_queue")

SERVERS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}


def _admin(kind):
    if kind == "postgresql":
        return psycopg.connect(SERVERS[kind], autocommit=True)
    return pymysql.connect(host="127.0.0.1", user="root", password="", database="test", autocommit=True)


@pytest.fixture(params=sorted(SERVERS))
def table(request):
    """A fresh table `people(id, name, score)` on each server, dropped afterwards."""
    kind = request.param
    name = unique("people")
    conn = _admin(kind)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, score INT)")
        cur.execute(f"INSERT INTO {name} VALUES (1, 'ada', 90), (2, 'bob', 40), (3, 'cy', 75)")
    yield kind, name
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
    conn.close()


def _db_credential(api, kind, **extra):
    name = unique("db")
    make_credential(api, name, {"url": SERVERS[kind], **extra})
    return name


def test_query_binds_named_parameters_and_returns_rows(api, table):
    kind, people = table
    cred = _db_credential(api, kind)
    run = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "db.query",
                "config": {
                    "credential": cred,
                    "sql": f"SELECT id, name FROM {people} WHERE score >= :min ORDER BY id",
                    "params": {"min": "{{ input.min }}"},
                },
            }
        ],
        {"min": 70},
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert run["output"] == {"rows": [{"id": 1, "name": "ada"}, {"id": 3, "name": "cy"}], "row_count": 2}


def test_a_parameter_value_is_never_spliced_into_the_sql(api, table):
    kind, people = table
    cred = _db_credential(api, kind)
    hostile = f"x' OR '1'='1'; DROP TABLE {people}; --"
    run = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "db.query",
                "config": {
                    "credential": cred,
                    "sql": f"SELECT id FROM {people} WHERE name = :name",
                    "params": {"name": hostile},
                },
            }
        ],
    )
    assert run["output"] == {"rows": [], "row_count": 0}
    with _admin(kind).cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {people}")
        assert cur.fetchone()[0] == 3


def test_max_rows_bounds_the_result_and_says_it_was_cut(api, table):
    kind, people = table
    cred = _db_credential(api, kind)
    run = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "db.query",
                "config": {"credential": cred, "sql": f"SELECT id FROM {people} ORDER BY id", "max_rows": 2},
            },
            # The connection that was cut short is not reused in a broken state.
            {
                "id": "again",
                "type": "db.query",
                "config": {"credential": cred, "sql": f"SELECT count(*) AS n FROM {people}"},
            },
        ],
    )
    assert node_of(run, "q")["output"] == {"rows": [{"id": 1}, {"id": 2}], "row_count": 2, "truncated": True}
    assert run["output"] == {"rows": [{"n": 3}], "row_count": 1}


def test_a_large_result_streams_up_to_the_limit(api, table):
    kind, _ = table
    cred = _db_credential(api, kind)
    sql = (
        "SELECT g AS n FROM generate_series(1, 2000000) AS g"
        if kind == "postgresql"
        else "SELECT seq AS n FROM seq_1_to_2000000"
    )
    run = run_nodes(
        api, [{"id": "q", "type": "db.query", "config": {"credential": cred, "sql": sql, "max_rows": 5}}]
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert [r["n"] for r in run["output"]["rows"]] == [1, 2, 3, 4, 5]
    assert run["output"]["truncated"] is True


def test_execute_runs_statements_in_one_transaction(api, table):
    kind, people = table
    cred = _db_credential(api, kind)
    good = run_nodes(
        api,
        [
            {
                "id": "w",
                "type": "db.execute",
                "config": {
                    "credential": cred,
                    "statements": [
                        {"sql": f"UPDATE {people} SET score = score + :bonus", "params": {"bonus": 5}},
                        {"sql": f"DELETE FROM {people} WHERE name = :name", "params": {"name": "bob"}},
                    ],
                },
            }
        ],
    )
    assert good["status"] == "completed", good
    assert good["output"] == {"rows": [], "row_count": 4}
    bad = run_nodes(
        api,
        [
            {
                "id": "w",
                "type": "db.execute",
                "config": {
                    "credential": cred,
                    "statements": [
                        {"sql": f"UPDATE {people} SET score = 0"},
                        {
                            "sql": f"INSERT INTO {people} (id, name) VALUES (:id, :name)",
                            "params": {"id": 1, "name": "dup"},
                        },
                    ],
                },
            }
        ],
    )
    assert bad["status"] == "failed"
    assert node_of(bad, "w")["error"]["category"] == "INTEGRATION_ERROR"
    with _admin(kind).cursor() as cur:
        cur.execute(f"SELECT name, score FROM {people} ORDER BY id")
        assert cur.fetchall() in ([("ada", 95), ("cy", 80)], (("ada", 95), ("cy", 80)))


def test_read_only_connection_refuses_writes(api, table):
    kind, people = table
    cred = _db_credential(api, kind, read_only="true")
    refused = run_nodes(
        api,
        [{"id": "w", "type": "db.execute", "config": {"credential": cred, "sql": f"DELETE FROM {people}"}}],
    )
    assert node_of(refused, "w")["error"]["category"] == "VALIDATION_ERROR"
    sneaky = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "db.query",
                "config": {
                    "credential": cred,
                    "sql": f"UPDATE {people} SET score = 0 RETURNING id"
                    if kind == "postgresql"
                    else f"DELETE FROM {people}",
                },
            }
        ],
    )
    assert sneaky["status"] == "failed"
    with _admin(kind).cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {people} WHERE score > 0")
        assert cur.fetchone()[0] == 3


def test_lifecycle_and_metadata_are_logged_with_the_password_masked(api, table, settings):
    kind, people = table
    cred = unique("db")
    url = (
        "postgresql://postgres:Pw-s3cret-77@127.0.0.1:5432/test"
        if kind == "postgresql"
        else "mysql://root:Pw-s3cret-77@127.0.0.1:3306/test"
    )
    make_credential(api, cred, {"url": url})
    run = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "db.query",
                "config": {"credential": cred, "sql": f"SELECT 1 AS one FROM {people}"},
            }
        ],
    )
    logs = logs_of(api, run, "q")
    states = [
        entry["data"]["state"]
        for entry in logs
        if isinstance(entry.get("data"), dict) and "state" in entry["data"]
    ]
    if kind == "postgresql":  # trust auth: a password is ignored
        assert states == ["RECEIVED", "PREPARING", "CONNECTING", "EXECUTING", "COMPLETED"]
        done = (
            logs[-1]["data"]
            if logs[-1]["data"].get("state") == "COMPLETED"
            else next(e["data"] for e in logs if (e.get("data") or {}).get("state") == "COMPLETED")
        )
        assert done["adapter"] == "postgresql" and done["operation"] == "query" and done["rows"] == 3
        assert done["endpoint"] == "postgresql://postgres:***@127.0.0.1:5432/test"
    else:  # MariaDB's root has no password: the wrong one is refused
        assert states[-1] == "FAILED"
        assert node_of(run, "q")["error"]["category"] == "AUTHENTICATION_ERROR"
    assert "Pw-s3cret-77" not in str(logs) and "Pw-s3cret-77" not in str(run)
    assert all(e["data"]["at"] for e in logs if (e.get("data") or {}).get("state"))
    op = IntegrationOperation.objects.get()
    assert op.credential_name == cred and "Pw-s3cret-77" not in op.endpoint + op.error_message
    assert CredentialAccess.objects.filter(credential__name=cred).count() == 1


def test_missing_parameter_is_rejected_before_connecting(api, table):
    kind, people = table
    cred = _db_credential(api, kind)
    run = run_nodes(
        api,
        [
            {
                "id": "q",
                "type": "db.query",
                "config": {"credential": cred, "sql": f"SELECT * FROM {people} WHERE id = :id"},
            }
        ],
    )
    error = node_of(run, "q")["error"]
    assert error["category"] == "VALIDATION_ERROR" and ":id" in error["message"]
