"""A real n8n (2.41.1, installed under /tmp/peers/n8n by the shared `install.sh`) on a free
port of 127.0.0.1 with its own data folder, started by the shared `start.sh`; the owner and
an API key are set up through n8n's REST API the way `setup_owner_and_key.sh` does (without
touching that script's shared key file)."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

from bench._harness import ROOT, free_port

N8N_ROOT = Path("/tmp/peers/n8n")
N8N_BIN = N8N_ROOT / "app/node_modules/.bin/n8n"
WORKFLOWS = Path(__file__).parent / "n8n_workflows"
OWNER = {"email": "owner@example.com", "firstName": "Test", "lastName": "Owner", "password": "Switchyard123"}


def peer_scripts() -> Path | None:
    """The shared n8n scripts: ../shared next to the clone (CI), or the session's copy."""
    for candidate in (ROOT.parent / "shared/peers/n8n", Path("/work/shared/peers/n8n")):
        if (candidate / "start.sh").exists():
            return candidate
    return None


class N8n:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="switchyard-n8n-"))
        self.pid: int | None = None
        self.api_key = ""

    def start(self) -> None:
        scripts = peer_scripts()
        if scripts is None or not N8N_BIN.exists():
            raise RuntimeError(
                "n8n tests need n8n 2.41.1 under /tmp/peers/n8n: run ../shared/peers/n8n/install.sh "
                "(.ci/run does it when n8n is missing)"
            )
        # The shared start.sh, with its pid and log files moved into our own folder so a
        # peer instance started by someone else keeps its files.
        script = (scripts / "start.sh").read_text()
        script = (
            script.replace('"$ROOT/n8n.pid"', f'"{self.dir}/n8n.pid"')
            .replace('"$ROOT/n8n.log"', f'"{self.dir}/n8n.log"')
            .replace("log=$ROOT/n8n.log", f"log={self.dir}/n8n.log")
        )
        (self.dir / "start.sh").write_text(script)
        env = {
            **os.environ,
            "N8N_PORT": str(self.port),
            "N8N_DATA_DIR": str(self.dir / "data"),
            "N8N_RUNNERS_BROKER_PORT": str(free_port()),
            "N8N_LOG_LEVEL": "warn",
        }
        out = subprocess.run(
            ["bash", str(self.dir / "start.sh")], env=env, capture_output=True, text=True, timeout=400
        )
        found = re.search(r"PID=(\d+)", out.stdout)
        self.pid = int(found.group(1)) if found else None
        if out.returncode != 0 and self.pid and "not healthy" in out.stdout:
            out.returncode = 0 if self._ready_within(300) else out.returncode  # a busy machine
        if out.returncode != 0:
            self.stop()
            raise RuntimeError(f"n8n did not start:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        self.api_key = self._owner_and_key()

    def _ready_within(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/healthz/readiness", timeout=5) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(1)
        return False

    def _owner_and_key(self) -> str:
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def call(method, path, body=None):
            req = urllib.request.Request(
                self.url + path, method=method, data=None if body is None else json.dumps(body).encode()
            )
            req.add_header("Content-Type", "application/json")
            with opener.open(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")

        call("POST", "/rest/owner/setup", OWNER)
        call("POST", "/rest/login", {"emailOrLdapLoginId": OWNER["email"], "password": OWNER["password"]})
        scopes = call("GET", "/rest/api-keys/scopes")["data"]
        key = call(
            "POST", "/rest/api-keys", {"label": "switchyard-tests", "scopes": scopes, "expiresAt": None}
        )
        return key["data"]["rawApiKey"]

    def api(self, method: str, path: str, body=None, key: str | None = None):
        req = urllib.request.Request(
            self.url + "/api/v1/" + path.lstrip("/"),
            method=method,
            data=None if body is None else json.dumps(body).encode(),
        )
        req.add_header("Content-Type", "application/json")
        req.add_header("X-N8N-API-KEY", self.api_key if key is None else key)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def import_workflow(self, name: str, *, active: bool = True) -> dict:
        """Create one of tests/providers/n8n_workflows/<name>.json with a unique webhook path;
        activate it and wait until its production webhook is registered."""
        document = copy.deepcopy(json.loads((WORKFLOWS / f"{name}.json").read_text()))
        path = f"{name}-{uuid.uuid4().hex[:10]}"
        for node in document["nodes"]:
            if "webhookId" in node:
                node["webhookId"] = str(uuid.uuid4())
            if node["type"] == "n8n-nodes-base.webhook":
                node["parameters"]["path"] = path
        status, created = self.api("POST", "workflows", document)
        assert status == 200, created
        if active:
            status, body = self.api("POST", f"workflows/{created['id']}/activate", {})
            assert status == 200, body
            self._wait_for_webhook(path)
        return {"id": created["id"], "path": path, "name": document["name"]}

    def _wait_for_webhook(self, path: str, timeout_s: float = 20) -> None:
        # Activation answers before the webhook is registered: probe with an unsupported
        # method (a registered path answers something other than 404 "not registered").
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            req = urllib.request.Request(f"{self.url}/webhook/{path}", method="PATCH")
            try:
                urllib.request.urlopen(req, timeout=5)
                return
            except urllib.error.HTTPError as err:
                body = err.read().decode("utf-8", "replace")
                if "is not registered." not in body:  # e.g. "not registered for PATCH requests"
                    return
            time.sleep(0.2)

    def stop(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(self.pid, 0)
                    time.sleep(0.1)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
