"""A SQLite database named through `DATABASE_URL=sqlite:///…` is set up like the default
path: WAL journal, IMMEDIATE transactions, a lock wait instead of "database is locked", and
the writers' turn-taking of the store."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.db import connection
from runs.store import write_lock
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy_ms = cursor.fetchone()[0]
print(json.dumps({
    "journal": journal,
    "busy_ms": busy_ms,
    "transaction_mode": connection.transaction_mode,
    "turns": type(write_lock()).__name__,
    "name": str(connection.settings_dict["NAME"]),
    "test_name": str(connection.settings_dict["TEST"]["NAME"]),
}))
"""


def probe(tmp_path, **env_overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DB_TEST_NAME")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", SWITCHYARD_STATE_DIR=str(tmp_path / "state"))
    env.update(env_overrides)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sqlite_by_url_gets_the_default_paths_settings(tmp_path):
    path = tmp_path / "by-url.sqlite3"
    by_url = probe(tmp_path, DATABASE_URL=f"sqlite:///{path}")
    default = probe(tmp_path, SQLITE_PATH=str(tmp_path / "default.sqlite3"))
    assert by_url["name"] == str(path)
    assert by_url["journal"] == default["journal"] == "wal"
    assert by_url["transaction_mode"] == default["transaction_mode"] == "IMMEDIATE"
    assert by_url["busy_ms"] == default["busy_ms"] == 30_000
    assert by_url["turns"] == default["turns"] != "nullcontext"  # writers take turns (runs.store)
    assert by_url["test_name"].endswith(".sqlite3")  # tests on a file, not a per-thread memory db
