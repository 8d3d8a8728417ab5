"""TLS for `db.query` / `db.execute` against private PostgreSQL and MariaDB servers.

Both negotiate TLS inside their own protocol, so no TLS terminator fits: the session starts
its own `postgres` (15) and `mariadbd`, each with its own data directory, socket and port
under a temp directory, a certificate from a throwaway CA and TLS capped at 1.2, and stops
them (and removes the directories) at the end. The matrix is test_tls's: trusted,
untrusted, unverified, tls13. Each credential sets TLS options, which for a database means
TLS or no connection: PostgreSQL's pg_hba refuses plain connections and MariaDB's user
`REQUIRE SSL`, so an unencrypted connection would not count as "connects".
"""

from __future__ import annotations

import os
import re
import threading
import time

import psycopg
import pymysql
import pytest

from connectors.adapters.pool import pool

from .helpers import make_credential, node_of, run_nodes, unique
from .test_tls import CASES, MATRIX, run_with_tls
from .tls import make_tls, mariadb_tls_server, postgres_tls_server

pytestmark = pytest.mark.usefixtures("inline_queue")

DB_USER, DB_PASSWORD, DB_NAME = "tls_user", "tls-pw-Q7z", "tls_db"
STARTUP_S: dict[str, float] = {}


def _postgres_available() -> str | None:
    if not os.path.exists("/usr/lib/postgresql/15/bin/initdb"):
        return "PostgreSQL 15 binaries not installed"
    if os.geteuid() != 0:
        return "initdb refuses root and runs here as the postgres OS user, which needs root (runuser)"
    return None


def _ready(connect, timeout_s: float = 15):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return connect()
        except Exception:  # noqa: BLE001 - the server is still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _start_postgres(tls, out: dict) -> None:
    started = time.monotonic()
    server = postgres_tls_server(tls)
    out["postgres"] = server
    admin = _ready(
        lambda: psycopg.connect(
            host=str(server.directory), port=server.port, user="postgres", dbname="postgres", autocommit=True
        )
    )
    with admin:
        admin.execute(f"CREATE ROLE {DB_USER} LOGIN")
        admin.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
    STARTUP_S["postgres"] = time.monotonic() - started


def _start_mariadb(tls, directory, out: dict) -> None:
    started = time.monotonic()
    server = mariadb_tls_server(tls, directory)
    out["mariadb"] = server
    admin = _ready(lambda: pymysql.connect(unix_socket=str(directory / "mysqld.sock"), user="root"))
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DB_NAME}")
        cur.execute(f"CREATE USER '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}' REQUIRE SSL")
        cur.execute(f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1'")
    out["mariadb_admin"] = admin
    STARTUP_S["mariadb"] = time.monotonic() - started


@pytest.fixture(scope="session")
def db_tls_servers(tmp_path_factory):
    """(TLS files, {"postgres": server, "mariadb": server, "mariadb_admin": connection}),
    both servers started side by side; everything stopped at the end of the session."""
    tls = make_tls(tmp_path_factory.mktemp("db-tls"))
    servers: dict = {}
    failures: list[BaseException] = []

    def start(target, *args):
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after both finished
            failures.append(exc)

    threads = [
        threading.Thread(
            target=start, args=(_start_mariadb, tls, tmp_path_factory.mktemp("mariadb"), servers)
        )
    ]
    if _postgres_available() is None:
        threads.append(threading.Thread(target=start, args=(_start_postgres, tls, servers)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if failures:
            raise failures[0]
        yield tls, servers
    finally:
        pool.close_all()
        if "mariadb_admin" in servers:
            servers["mariadb_admin"].close()
        for name in ("postgres", "mariadb"):
            if name in servers:
                servers[name].close()
                assert servers[name].process.poll() is not None
                assert not servers[name].directory.exists()


@pytest.fixture
def postgres_tls(db_tls_servers):
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    tls, servers = db_tls_servers
    return tls, servers["postgres"]


@pytest.fixture
def mariadb_tls(db_tls_servers):
    tls, servers = db_tls_servers
    return tls, servers["mariadb"], servers["mariadb_admin"]


def _pg_url(server) -> str:
    return f"postgresql://{DB_USER}@127.0.0.1:{server.port}/{DB_NAME}"


def _mariadb_url(server) -> str:
    return f"mysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{server.port}/{DB_NAME}"


# What each server says about the session's own TLS, as rows: proof the connection is encrypted.
PG_QUERY = {
    "type": "db.query",
    "config": {
        "sql": "SELECT ssl, version, :n + 1 AS n FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        "params": {"n": 41},
    },
}
MARIADB_QUERY = {
    "type": "db.query",
    "config": {
        "sql": "SELECT VARIABLE_VALUE AS version, :n + 1 AS n FROM information_schema.SESSION_STATUS"
        " WHERE VARIABLE_NAME = 'SSL_VERSION'",
        "params": {"n": 41},
    },
}


@pytest.mark.parametrize("case", CASES)
def test_postgres_tls(api, postgres_tls, case):
    tls, server = postgres_tls
    out = run_with_tls(api, case, tls, {"url": _pg_url(server), "tls_verify": "true"}, PG_QUERY)
    if MATRIX[case][1]:
        assert out["rows"] == [{"ssl": True, "version": "TLSv1.2", "n": 42}]
    else:
        reason = "CERTIFICATE_VERIFY_FAILED" if case == "untrusted" else "TLSV1_ALERT_PROTOCOL_VERSION"
        assert out["details"]["tls"] == reason, out


@pytest.mark.parametrize("case", CASES)
def test_mariadb_tls(api, mariadb_tls, case):
    tls, server, _ = mariadb_tls
    out = run_with_tls(api, case, tls, {"url": _mariadb_url(server), "tls_verify": "true"}, MARIADB_QUERY)
    if MATRIX[case][1]:
        assert out["rows"] == [{"version": "TLSv1.2", "n": 42}]
    else:
        assert out["details"]["tls"] in (
            ("CERTIFICATE_VERIFY_FAILED",)
            if case == "untrusted"
            else ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL")
        ), out


def test_postgres_tls_execute_in_a_transaction(api, postgres_tls):
    tls, server = postgres_tls
    table = unique("tls")
    cred = unique("tls")
    make_credential(api, cred, {"url": _pg_url(server), "tls_ca_bundle": tls.ca_pem})
    run = run_nodes(
        api,
        [
            {
                "id": "n",
                "type": "db.execute",
                "config": {
                    "credential": cred,
                    "statements": [
                        {"sql": f"CREATE TABLE {table} (v text)"},
                        {"sql": f"INSERT INTO {table} VALUES (:v) RETURNING v", "params": {"v": "over TLS"}},
                    ],
                },
            }
        ],
    )
    assert run["status"] == "completed", node_of(run, "n")["error"]
    assert node_of(run, "n")["output"]["rows"] == [{"v": "over TLS"}]


def test_mariadb_tls_execute_in_a_transaction(api, mariadb_tls):
    tls, server, admin = mariadb_tls
    table = unique("tls")
    with admin.cursor() as cur:
        cur.execute(f"CREATE TABLE {DB_NAME}.{table} (v varchar(20))")
    cred = unique("tls")
    make_credential(api, cred, {"url": _mariadb_url(server), "tls_ca_bundle": tls.ca_pem})
    node = {
        "id": "n",
        "type": "db.execute",
        "config": {
            "credential": cred,
            "sql": f"INSERT INTO {table} VALUES (:v)",
            "params": {"v": "over TLS"},
        },
    }
    run = run_nodes(api, [node])
    assert run["status"] == "completed", node_of(run, "n")["error"]
    assert node_of(run, "n")["output"]["row_count"] == 1
    with admin.cursor() as cur:
        cur.execute(f"SELECT v FROM {DB_NAME}.{table}")
        assert cur.fetchall() == (("over TLS",),)


def test_db_tls_honours_the_address_rule(api, settings, postgres_tls, mariadb_tls):
    """With ALLOW_PRIVATE_OUTBOUND off, neither server sees a connection (verify off or not)."""
    _, pg = postgres_tls
    _, maria, admin = mariadb_tls

    def pg_connections() -> int:
        return len(re.findall(r"connection received: host=127\.0\.0\.1", pg.log.read_text()))

    def maria_connections() -> int:
        with admin.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
            return int(cur.fetchone()[1])

    from .test_tls import assert_refused_by_address_rule

    assert_refused_by_address_rule(api, settings, {"url": _pg_url(pg)}, PG_QUERY, pg_connections)
    assert_refused_by_address_rule(
        api, settings, {"url": _mariadb_url(maria)}, MARIADB_QUERY, maria_connections
    )


def test_db_tls_servers_start_quickly(db_tls_servers):
    assert STARTUP_S and max(STARTUP_S.values()) < 15, STARTUP_S
