"""Start a real `manage.py serve` (daphne + Django-Q + timekeeper) on its own database.

Shared by the end-to-end tests (`tests/e2e/server.py` re-exports it) and the benchmarks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    token: str
    env: dict
    state_dir: Path
    port: int
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    pg_db: str | None = None
    pg_admin_url: str | None = None  # the URL the database was created through (to drop it)
    extra: dict = field(default_factory=dict)

    def call(self, method: str, path: str, body=None, timeout: float = 60):
        req = urllib.request.Request(
            self.base + path, method=method, data=None if body is None else json.dumps(body).encode()
        )
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw or b"null")
            except ValueError:
                return err.code, {"raw": raw[:300].decode("utf-8", "replace")}

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def start(self, timeout_s: float = 60, serve_args: list[str] | None = None) -> None:
        self.log_path = self.state_dir / f"serve-{int(time.time() * 1000)}.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "serve",
                "--port",
                str(self.port),
                "--workers",
                "2",
                *(serve_args or []),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if self.call("GET", "/api/v1/node-types", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"serve did not answer in {timeout_s}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the server's own database directly (for what the API does not expose)."""
        if self.pg_db:
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"]) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        import sqlite3

        with sqlite3.connect(self.env["SQLITE_PATH"]) as conn:
            return conn.execute(query, params).fetchall()

    def wait_for(self, predicate, timeout_s: float = 60, interval_s: float = 0.1):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval_s)
        raise AssertionError(f"condition not met in {timeout_s}s\n--- server log ---\n{self.logs()}")

    def run(self, run_id: str) -> dict:
        return self.call("GET", f"/api/v1/runs/{run_id}")[1]

    def create_workflow(self, nodes: list, edges: list, **extra) -> str:
        code, body = self.call(
            "POST",
            "/api/v1/workflows/",
            {"schema": "switchyard.workflow/1", "nodes": nodes, "edges": edges, **extra},
        )
        assert code == 201, body
        return body["id"]

    def execute(self, workflow_id: str, input=None) -> str:
        code, body = self.call("POST", f"/api/v1/workflows/{workflow_id}/execute", {"input": input or {}})
        assert code == 202, body
        return body["run_id"]

    def logs(self) -> str:
        return self.log_path.read_text()[-5000:] if self.log_path and self.log_path.exists() else ""


def make_server(tmp_path: Path, *, base_env: dict | None = None, **env_overrides) -> Server:
    """A migrated, demo-loaded database (fresh SQLite file or PostgreSQL database, following
    DATABASE_URL in `base_env`, default the process environment) and the environment to
    serve it; call `.start()`."""
    base_env = os.environ if base_env is None else base_env
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in base_env.items() if not k.startswith("PYTEST")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    pg_db = base_url = None
    if base_env.get("DATABASE_URL", "").startswith("postgres"):
        import psycopg

        base_url = base_env["DATABASE_URL"]
        pg_db = f"switchyard_{name}"
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_db}"')
        env["DATABASE_URL"] = re.sub(r"/[^/]*$", f"/{pg_db}", base_url)
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(tmp_path / "e2e.sqlite3")
    env.update(
        {
            "SWITCHYARD_STATE_DIR": str(tmp_path),
            "ALLOW_PRIVATE_OUTBOUND": "true",
            "Q_CLUSTER_NAME": name,
            "LOG_LEVEL": "WARNING",
            **{k: str(v) for k, v in env_overrides.items()},
        }
    )
    port = free_port()
    server = Server(
        base=f"http://127.0.0.1:{port}",
        token="",
        env=env,
        state_dir=tmp_path,
        port=port,
        pg_db=pg_db,
        pg_admin_url=base_url,
    )
    server.manage("migrate", "--noinput", "-v", "0")
    out = server.manage("load_demo")
    server.token = re.search(r"API token ([0-9a-f]{40})", out).group(1)
    return server


def drop_server(server: Server) -> None:
    server.stop()
    if server.pg_db:
        import psycopg

        with psycopg.connect(server.pg_admin_url or os.environ["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{server.pg_db}" WITH (FORCE)')
