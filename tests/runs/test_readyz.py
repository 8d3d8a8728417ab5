"""/readyz answers within its time bound even when a dependency accepts connections and
never answers, and names what is down."""

import socket
import sqlite3
import threading
import time
from concurrent.futures import wait
from contextlib import closing, contextmanager

import psycopg
import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.db import connection

from runs import ops


@pytest.fixture
def silent_redis():
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def test_readyz_is_bounded_and_names_the_dependencies_that_do_not_answer(client, settings, silent_redis, db):
    settings.READYZ_TIMEOUT_S = 0.5
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": silent_redis}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [silent_redis]}}
    }
    answers = []
    probe = threading.Thread(target=lambda: answers.append(client.get("/readyz")), daemon=True)
    probe.start()
    probe.join(120)  # unbounded checks would never answer
    assert answers, "/readyz did not answer"
    res = answers[0]
    assert res.status_code == 503
    error = res.json()["error"]
    assert error["code"] == "NOT_READY"
    checks = error["details"]["checks"]
    assert checks["database"]["ok"]
    assert not checks["broker"]["ok"] and not checks["channel_layer"]["ok"]
    assert "broker" in error["message"] and "channel_layer" in error["message"]
    channel_layers.backends = {}


def test_readyz_answers_ready_when_every_dependency_answers(client, db):
    res = client.get("/readyz")
    assert res.status_code == 200, res.content
    assert {name for name, check in res.json()["checks"].items() if check["ok"]} == {
        "database",
        "broker",
        "channel_layer",
    }


# ------------------------------------------------ the database check is bounded in the driver

on_postgresql = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), reason="PostgreSQL"
)
on_sqlite = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"), reason="SQLite"
)
TIMEOUT_S = 1.0
MARGIN_S = 20.0  # a loaded machine; the unbounded driver waits 130 s (PostgreSQL) or 30 s (SQLite)


def fails_within_bound(client, check: str = "database") -> str:
    """/readyz answers 503 naming the check within the bound, and the check's thread is
    done (its driver call gave up on its own, it is not stuck): the driver's error."""
    started = time.monotonic()
    res = client.get("/readyz")
    assert time.monotonic() - started < TIMEOUT_S + MARGIN_S
    assert res.status_code == 503, res.content
    error = res.json()["error"]
    assert error["code"] == "NOT_READY" and check in error["message"], error
    assert not error["details"]["checks"][check]["ok"]
    running = ops._checks._running[check]
    wait([running], timeout=MARGIN_S)
    assert running.done(), f"the {check} check is still stuck in the driver"
    assert running.exception() is not None
    return str(running.exception())


def database_check(client, check: str = "database") -> dict:
    body = client.get("/readyz").json()
    return (body.get("checks") or body["error"]["details"]["checks"])[check]


def readyz_sessions() -> int:
    """The check's sessions PostgreSQL still has (a closed one leaves within moments)."""
    deadline = time.monotonic() + MARGIN_S
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [ops.READYZ_APPLICATION_NAME],
            )
            count = cursor.fetchone()[0]
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


@on_postgresql
def test_a_locked_table_fails_the_database_check_within_its_statement_timeout(client, settings, db):
    settings.READYZ_TIMEOUT_S = TIMEOUT_S
    params = connection.get_connection_params()
    holder = psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")}
    )
    try:
        holder.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")  # a transaction holds it
        assert "statement timeout" in fails_within_bound(client)
    finally:
        holder.close()
    assert readyz_sessions() == 0  # the check's own connection was closed
    assert database_check(client)["ok"]  # the next probe runs a new check


@on_postgresql
def test_a_database_that_accepts_and_never_answers_fails_the_check_within_its_connect_timeout(
    client, settings, db, monkeypatch
):
    """A TCP listener on 127.0.0.1 that accepts the connection and never says a word."""
    settings.READYZ_TIMEOUT_S = TIMEOUT_S
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(server.getsockname()[1]))
    try:
        assert "timeout" in fails_within_bound(client)
        server.settimeout(MARGIN_S)
        accepted, _ = server.accept()  # the check did connect...
        accepted.settimeout(MARGIN_S)
        assert accepted.recv(65536)  # ...sent its startup packet, got no answer...
        while chunk := accepted.recv(65536):  # ...and gave up: the socket is closed (EOF)
            assert chunk
        accepted.close()
    finally:
        server.close()


@contextmanager
def checked_sqlite_file(tmp_path):
    """The checks read a database file of the test's own, with the tables they read: in WAL
    mode an exclusive lock needs the only open connection to the file, and earlier tests'
    threads may keep theirs open on the test database."""
    name = str(tmp_path / "readyz.sqlite3")
    with closing(sqlite3.connect(name)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE django_migrations (id integer PRIMARY KEY, app text, name text)")
        db.execute("CREATE TABLE django_q_ormq (id integer PRIMARY KEY, key text, payload text)")
        db.commit()
    real = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield name
    finally:
        connection.close()
        connection.settings_dict["NAME"] = real


@on_sqlite
def test_a_locked_sqlite_database_fails_the_database_check_within_its_busy_timeout(
    client, settings, transactional_db, tmp_path
):
    settings.READYZ_TIMEOUT_S = TIMEOUT_S
    with checked_sqlite_file(tmp_path) as name:
        holder = sqlite3.connect(name, isolation_level=None, timeout=MARGIN_S)
        try:
            holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # in WAL mode: readers are locked out too
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("SELECT count(*) FROM django_migrations").fetchall()
            assert "locked" in fails_within_bound(client)
        finally:
            holder.close()
        assert database_check(client)["ok"]  # the next probe runs a new check


@on_sqlite
def test_a_locked_sqlite_database_fails_the_database_backed_broker_check_within_its_busy_timeout(
    client, settings, transactional_db, tmp_path
):
    """The ORM broker's queue lives in the database: a locked file is a broker that does not
    answer, and its check gives up in the driver (Django-Q's connection set-up would wait
    out the 30 s busy timeout, holding the check's thread)."""
    settings.READYZ_TIMEOUT_S = TIMEOUT_S
    with checked_sqlite_file(tmp_path) as name:
        holder = sqlite3.connect(name, isolation_level=None, timeout=MARGIN_S)
        try:
            holder.execute("PRAGMA locking_mode=EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("SELECT count(*) FROM django_q_ormq").fetchall()
            assert "locked" in fails_within_bound(client, "broker")
        finally:
            holder.close()
        assert database_check(client, "broker")["ok"]


@on_postgresql
def test_a_locked_queue_table_fails_the_database_backed_broker_check_within_its_statement_timeout(
    client, settings, db
):
    settings.READYZ_TIMEOUT_S = TIMEOUT_S
    settings.Q_CLUSTER = {k: v for k, v in settings.Q_CLUSTER.items() if k != "redis"} | {"orm": "default"}
    params = connection.get_connection_params()
    holder = psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")}
    )
    try:
        holder.execute("LOCK TABLE django_q_ormq IN ACCESS EXCLUSIVE MODE")
        assert "statement timeout" in fails_within_bound(client, "broker")
    finally:
        holder.close()
    assert readyz_sessions() == 0
    assert database_check(client, "broker")["ok"]
