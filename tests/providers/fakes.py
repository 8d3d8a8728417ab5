"""Fake Make and Zapier servers on 127.0.0.1 that follow those providers' published docs.

FakeMake follows the Make API v2 reference (https://developers.make.com/api-documentation):
- Authentication: `Authorization: Token <token>`; a wrong token answers 401
  (api-documentation/authentication).
- `GET /users/me` (api-reference/users).
- `GET /scenarios?teamId=&pg[offset]=&pg[limit]=` -> `{"scenarios": [...], "pg": {...}}`
  (api-reference/scenarios, get--scenarios; pagination: api-documentation/pagination-sorting-filtering).
- `GET /scenarios/{id}` -> `{"scenario"}`, `/blueprint` -> `{"response": {"blueprint": {"flow"}}}`
  (api-reference/scenarios-greater-than-blueprints), `/interface` -> `{"interface": {"input", "output"}}`.
- `POST /scenarios/{id}/run` `{data, responsive, callbackUrl}` -> `{executionId}`, or with
  `responsive` `{executionId, status: 1|2|3, outputs}`
  (api-reference/scenarios/post--scenarios--scenarioid--run);
  an inactive scenario answers 400.
- `GET /scenarios/{id}/executions/{executionId}` -> `{status: RUNNING|SUCCESS|WARNING|ERROR, outputs, error}`.
- `GET /scenarios/{id}/logs` -> `{"scenarioLogs": [...]}` (api-reference/scenarios-greater-than-logs),
  `GET /hooks?teamId=&typeName=&pg[offset]=&pg[limit]=` -> `{"hooks": [{id, name, teamId, udid,
  type: "web", typeName: "gateway-webhook", enabled, gone, queueCount, scenarioId, url, ...}], "pg"}`
  (api-reference/hooks, "List hooks").
- A custom webhook URL (`https://hook.<zone>.make.com/<udid>`) answers `Accepted` (text) to a
  request; one with API keys attached wants one of them in `x-make-apikey` and answers 401
  without it (apps.make.com/gateway, "Custom webhook": API key authentication).

FakeZapier follows "Trigger Zaps from webhooks" (https://help.zapier.com/hc/en-us/articles/8496288690317):
a Catch Hook URL `/hooks/catch/<account>/<hook>/` answers every POST with
`{"attempt", "id", "request_id", "status": "success"}`; the Zap's last step ("Webhooks by
Zapier > POST", https://help.zapier.com/hc/en-us/articles/8496326446989) posts the result to
the `callback_url` found in the payload.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def post_json(url: str, body: Any, headers: dict | None = None) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


class _Server:
    def __init__(self):
        self.requests: list[dict] = []
        self.callbacks: list[tuple[str, int]] = []  # (url, status our server answered)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                query = urllib.parse.parse_qs(parts.query)
                owner.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": query,
                        "body": body,
                        "headers": dict(self.headers),
                    }
                )
                status, answer = owner.route(self.command, parts.path, query, body, dict(self.headers))
                text = isinstance(answer, str)
                data = answer.encode() if text else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain" if text else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def call_back(self, url: str, body: Any, delay_s: float = 0.0, headers: dict | None = None) -> None:
        def send():
            time.sleep(delay_s)
            self.callbacks.append((url, post_json(url, body, headers)))

        if delay_s <= 0:
            send()
        else:
            threading.Thread(target=send, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def route(self, method, path, query, body, headers):
        raise NotImplementedError


class FakeMake(_Server):
    """One team of scenarios; `scenarios[id]` holds name, isActive and behaviour:
    `polls` (RUNNING answers before the outcome), `outcome` (SUCCESS|ERROR), `outputs`."""

    TOKEN = "make-token-1234"
    TEAM = "77"

    def __init__(self, count: int = 3):
        self.scenarios: dict[str, dict] = {}
        for i in range(1, count + 1):
            self.add(str(100 + i), f"Scenario {i:03d}")
        self.executions: dict[str, dict] = {}
        self.callback_delay_s = 0.3
        super().__init__()
        self.base = f"{self.url}/api/v2"
        self.hooks: dict[str, dict] = {}
        self.add_hook(9, "Orders in", "abc", api_keys=["hook-key-1"])
        self.add_hook(10, "Mail in", "mail1", type_name="gateway-mailhook")

    def add_hook(self, hook_id: int, name: str, udid: str, *, api_keys=(), type_name="gateway-webhook"):
        """A custom webhook: a call to its URL is kept in `received` and, when the body holds
        `callback_url`, the scenario behind it posts `{"hook", "received"}` there."""
        self.hooks[udid] = {
            "id": hook_id,
            "name": name,
            "teamId": int(self.TEAM),
            "udid": udid,
            "type": "web" if type_name == "gateway-webhook" else "mail",
            "typeName": type_name,
            "packageName": None,
            "enabled": True,
            "gone": False,
            "queueCount": 0,
            "queueLimit": 10000,
            "scenarioId": 101,
            "url": f"{self.url}/hook/{udid}",
            "api_keys": list(api_keys),
            "received": [],
        }

    def _hook_call(self, udid, body, headers):
        hook = self.hooks.get(udid)
        if hook is None or not hook["enabled"]:
            return 404, "There is no scenario listening for this webhook."
        if hook["api_keys"] and headers.get("x-make-apikey") not in hook["api_keys"]:
            return 401, "Invalid API key."
        hook["received"].append(body)
        if isinstance(body, dict) and body.get("callback_url"):
            received = {k: v for k, v in body.items() if k != "callback_url"}
            self.call_back(body["callback_url"], {"hook": udid, "received": received}, self.callback_delay_s)
        return 200, "Accepted"

    def add(self, sid: str, name: str, **behaviour) -> str:
        self.scenarios[sid] = {
            "id": int(sid),
            "name": name,
            "teamId": int(self.TEAM),
            "isActive": True,
            "lastEdit": "2026-11-20T10:00:00.000Z",
            "polls": 1,
            "outcome": "SUCCESS",
            "outputs": {"total": 42},
            **behaviour,
        }
        return sid

    def route(self, method, path, query, body, headers):
        if path.startswith("/hook/"):
            return self._hook_call(path[len("/hook/") :], body, {k.lower(): v for k, v in headers.items()})
        if headers.get("Authorization") != f"Token {self.TOKEN}":
            return 401, {"detail": "Invalid access token.", "message": "Access denied.", "code": "SC401"}
        if not path.startswith("/api/v2/"):
            return 404, {"message": "Not found"}
        parts = path[len("/api/v2/") :].strip("/").split("/")
        if parts == ["users", "me"]:
            return 200, {"authUser": {"id": 1, "name": "Test", "email": "t@example.com"}}
        if parts == ["hooks"]:
            if query.get("teamId") != [self.TEAM]:
                return 400, {"detail": "teamId is required", "code": "IM004"}
            rows = [
                h
                for h in sorted(self.hooks.values(), key=lambda h: h["id"])
                if "typeName" not in query or h["typeName"] == query["typeName"][0]
            ]
            offset = int(query.get("pg[offset]", ["0"])[0])
            limit = int(query.get("pg[limit]", ["10000"])[0])
            public = [{k: v for k, v in h.items() if k not in ("api_keys", "received")} for h in rows]
            return 200, {
                "hooks": public[offset : offset + limit],
                "pg": {"sortBy": "id", "limit": limit, "sortDir": "asc", "offset": offset},
            }
        if parts == ["scenarios"] and method == "GET":
            if query.get("teamId") != [self.TEAM]:
                return 400, {"detail": "teamId or organizationId is required", "code": "IM004"}
            offset = int(query.get("pg[offset]", ["0"])[0])
            limit = int(query.get("pg[limit]", ["10000"])[0])
            rows = sorted(self.scenarios.values(), key=lambda s: s["name"])
            public = [{k: s[k] for k in ("id", "name", "teamId", "isActive", "lastEdit")} for s in rows]
            return 200, {
                "scenarios": public[offset : offset + limit],
                "pg": {"sortBy": "name", "limit": limit, "sortDir": "asc", "offset": offset},
            }
        if len(parts) >= 2 and parts[0] == "scenarios":
            scenario = self.scenarios.get(parts[1])
            if scenario is None:
                return 404, {"detail": "Scenario not found.", "code": "IM005"}
            return self._scenario(method, parts[2:], scenario, body)
        return 404, {"message": "Not found"}

    def _scenario(self, method, rest, scenario, body):
        sid = str(scenario["id"])
        if rest == []:
            return 200, {
                "scenario": {k: scenario[k] for k in ("id", "name", "teamId", "isActive", "lastEdit")}
            }
        if rest == ["blueprint"]:
            return 200, {
                "code": "OK",
                "response": {
                    "blueprint": {
                        "name": scenario["name"],
                        "flow": [
                            {
                                "id": 1,
                                "module": "gateway:CustomWebHook",
                                "metadata": {"designer": {"x": 0, "y": 0}},
                            },
                            {
                                "id": 2,
                                "module": "builtin:BasicRouter",
                                "routes": [
                                    {"flow": [{"id": 3, "module": "http:ActionSendData"}]},
                                    {
                                        "flow": [
                                            {"id": 4, "module": "google-sheets:addRow"},
                                            {"id": 5, "module": "slack:post"},
                                        ]
                                    },
                                ],
                            },
                        ],
                    }
                },
            }
        if rest == ["interface"]:
            return 200, {
                "interface": {
                    "input": [{"name": "order", "type": "text", "required": True}],
                    "output": [{"name": "total", "type": "number"}],
                }
            }
        if rest == ["logs"]:
            return 200, {
                "scenarioLogs": [
                    {
                        "id": e,
                        "status": 1 if x["outcome"] == "SUCCESS" else 3,
                        "timestamp": "2026-11-30T10:00:00Z",
                    }
                    for e, x in self.executions.items()
                    if x["scenario"] == sid
                ]
            }
        if rest == ["run"] and method == "POST":
            if not scenario["isActive"]:
                return 400, {
                    "detail": "Scenario is not active.",
                    "message": "Scenario is not active.",
                    "code": "IM306",
                }
            eid = uuid.uuid4().hex
            body = body or {}
            self.executions[eid] = {
                "scenario": sid,
                "left": scenario["polls"],
                "outcome": scenario["outcome"],
                "outputs": {**scenario["outputs"], "echo": body.get("data")},
            }
            if body.get("callbackUrl"):
                ok = scenario["outcome"] == "SUCCESS"
                payload = {
                    "executionId": eid,
                    "status": "SUCCESS" if ok else "ERROR",
                    "outputs": self.executions[eid]["outputs"] if ok else None,
                }
                if not ok:
                    payload["error"] = {"message": "module 3 failed", "name": "RuntimeError"}
                self.call_back(body["callbackUrl"], payload, self.callback_delay_s)
            if body.get("responsive"):
                done = self.executions[eid]
                return 200, {
                    "executionId": eid,
                    "status": 1 if done["outcome"] == "SUCCESS" else 3,
                    "outputs": done["outputs"],
                }
            return 200, {"executionId": eid}
        if len(rest) == 2 and rest[0] == "executions":
            execution = self.executions.get(rest[1])
            if execution is None:
                return 404, {"detail": "Execution not found."}
            if execution["left"] > 0:
                execution["left"] -= 1
                return 200, {"status": "RUNNING"}
            if execution["outcome"] == "ERROR":
                return 200, {
                    "status": "ERROR",
                    "error": {"message": "module 3 failed", "name": "RuntimeError"},
                }
            return 200, {"status": execution["outcome"], "outputs": execution["outputs"]}
        return 404, {"message": "Not found"}


class FakeZapier(_Server):
    """Catch Hooks at /hooks/catch/123/<hook>/; each call runs a 'Zap' that posts
    `{"zap": ..., "received": payload}` to the payload's callback_url."""

    def __init__(self):
        self.hooks = {"orders": {"delay_s": 0.3, "before_answer": False, "fail": False}}
        super().__init__()

    def hook_url(self, name: str = "orders") -> str:
        return f"{self.url}/hooks/catch/123/{name}/"

    def route(self, method, path, query, body, headers):
        parts = path.strip("/").split("/")
        if method != "POST" or parts[:3] != ["hooks", "catch", "123"] or len(parts) != 4:
            return 404, {"status": "error", "message": "Not found"}
        hook = self.hooks.get(parts[3])
        if hook is None:
            return 404, {"status": "error", "message": "Hook not found"}
        request_id = uuid.uuid4().hex
        callback = (body or {}).get("callback_url") if isinstance(body, dict) else None
        if callback:
            result = {"zap": parts[3], "received": {k: v for k, v in body.items() if k != "callback_url"}}
            if hook["fail"]:
                result = {"status": "error", "error": {"message": "Zap step 3 failed"}}
            self.call_back(
                callback, result, 0 if hook["before_answer"] else hook["delay_s"], hook.get("headers")
            )
        return 200, {"attempt": request_id, "id": request_id, "request_id": request_id, "status": "success"}
