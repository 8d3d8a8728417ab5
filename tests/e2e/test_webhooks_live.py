"""Webhooks from outside the process, against a real `serve`."""

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def send(url, body: dict, headers=None):
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize("respond", ["immediately", "on_completion"])
def test_webhook_runs_the_active_workflow(server, respond):
    wid = server.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": respond}},
            {
                "id": "double",
                "type": "data.transform",
                "config": {"set": {"twice": "{{ input.body.n * 2 }}"}, "keep_input": False},
            },
        ],
        [{"source": "hook", "target": "double"}],
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    url = body["triggers"][0]["url"]
    assert url.startswith(server.base + "/hooks/")
    code, answer = send(url, {"n": 21}, {"Idempotency-Key": f"k-{respond}"})
    if respond == "on_completion":
        assert (code, answer) == (200, {"twice": 42})
        code, runs = server.call("GET", f"/api/v1/workflows/{wid}/runs")
        assert runs["count"] == 1 and runs["results"][0]["mode"] == "live"
    else:
        assert code == 202
        run = server.wait_for(lambda: (r := server.run(answer["run_id"]))["status"] == "completed" and r)
        assert run["output"] == {"twice": 42} and run["trigger_type"] == "trigger.webhook"
        assert send(url, {"n": 21}, {"Idempotency-Key": "k-immediately"})[1]["run_id"] == answer["run_id"]


def raw_send(url, data: bytes, headers=None, method="POST"):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def activate_hook(server, config: dict, *, settings=None, extra_nodes=(), extra_edges=()) -> tuple[str, str]:
    wid = server.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": config},
            {
                "id": "echo",
                "type": "data.transform",
                "config": {"set": {"got": "{{ input.body }}"}, "keep_input": False},
            },
            *extra_nodes,
        ],
        [{"source": "hook", "target": "echo"}, *extra_edges],
        **({"settings": settings} if settings else {}),
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    return wid, body["triggers"][0]["url"]


def run_count(server, wid) -> int:
    return server.call("GET", f"/api/v1/workflows/{wid}/runs")[1]["count"]


def test_header_token_auth_over_http(server):
    wid, url = activate_hook(server, {"auth": {"type": "header", "name": "X-Token", "token": "s3cret-token"}})
    assert send(url, {"a": 1})[0] == 401
    assert send(url, {"a": 1}, {"X-Token": "s3cret-tokeN"})[0] == 401
    code, body = send(url, {"a": 1}, {"X-Token": "s3cret-token"})
    assert code == 202 and "run_id" in body
    assert run_count(server, wid) == 1


def test_hmac_signature_over_http(server):
    import hashlib
    import hmac

    wid, url = activate_hook(server, {"auth": {"type": "hmac_sha256", "secret": "shh"}})
    raw = json.dumps({"order": 7}).encode()
    good = hmac.new(b"shh", raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    assert raw_send(url, raw, {**headers, "X-Signature-256": "sha256=" + "0" * 64})[0] == 401
    assert raw_send(url, raw + b" ", {**headers, "X-Signature-256": "sha256=" + good})[0] == 401  # tampered
    code, body = raw_send(url, raw, {**headers, "X-Signature-256": "sha256=" + good})
    assert code == 202
    run = server.wait_for(lambda: (r := server.run(body["run_id"]))["status"] == "completed" and r)
    assert run["output"] == {"got": {"order": 7}}
    assert run_count(server, wid) == 1


def test_bad_bodies_methods_and_limits_over_http(server):
    wid, url = activate_hook(server, {"method": "POST"}, settings={"max_runs_per_day": 2})
    code, body = raw_send(url, b'{"broken": ', {"Content-Type": "application/json"})
    assert code == 400 and body["error"]["code"] == "PARSE_ERROR"
    code, body = raw_send(url, b"x" * (1024 * 1024 + 1), {"Content-Type": "text/plain"})
    assert code == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert raw_send(url, b"", method="GET")[0] == 405
    assert run_count(server, wid) == 0  # nothing refused was stored
    assert send(url, {"n": 1})[0] == 202
    assert send(url, {"n": 2})[0] == 202
    code, body = send(url, {"n": 3})
    assert code == 429 and "2" in body["error"]["message"]
    assert run_count(server, wid) == 2


def test_deactivated_and_unknown_webhooks_are_404_over_http(server):
    wid, url = activate_hook(server, {})
    assert server.call("POST", f"/api/v1/workflows/{wid}/deactivate", {})[0] == 200
    code, body = send(url, {"a": 1})
    assert code == 404 and body["error"]["code"] == "NOT_FOUND"
    assert send(server.base + "/hooks/not-a-real-token", {"a": 1})[0] == 404
    assert run_count(server, wid) == 0
    assert server.call("POST", f"/api/v1/workflows/{wid}/activate", {})[1]["triggers"][0]["url"] == url
    assert send(url, {"a": 1})[0] == 202


def test_on_completion_falls_back_to_202_when_the_run_takes_longer(server):
    wid, url = activate_hook(
        server,
        {"respond": "on_completion", "respond_timeout_s": 0.5},
        extra_nodes=[{"id": "slow", "type": "logic.wait", "config": {"duration_s": 2}}],
        extra_edges=[{"source": "echo", "target": "slow"}],
    )
    code, body = send(url, {"a": 1})
    assert code == 202 and body["run_id"]
    run = server.wait_for(lambda: (r := server.run(body["run_id"]))["status"] == "completed" and r)
    assert run["output"] == {"got": {"a": 1}}


def test_hosted_form_over_http(server):
    import re

    import requests

    wid = server.create_workflow(
        [
            {
                "id": "signup",
                "type": "trigger.form",
                "config": {
                    "title": "Sign up",
                    "fields": [
                        {"name": "email", "label": "Email", "type": "email", "required": True},
                        {"name": "seats", "label": "Seats", "type": "number"},
                    ],
                },
            },
            {"id": "keep", "type": "data.transform", "config": {}},
        ],
        [{"source": "signup", "target": "keep"}],
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    url = next(t["url"] for t in body["triggers"] if t["type"] == "trigger.form")
    assert url.startswith(server.base + "/forms/")
    browser = requests.Session()
    page = browser.get(url, timeout=30)
    assert page.status_code == 200 and "Sign up" in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    extra = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    # Inputs are named f-<field name>.
    assert (
        requests.post(url, data={**extra, "f-email": "ada@example.com"}, timeout=30).status_code == 403
    )  # no CSRF
    bad = browser.post(url, data={**extra, "csrfmiddlewaretoken": token, "f-email": "nope"}, timeout=30)
    assert bad.status_code == 400 and "valid email" in bad.text and run_count(server, wid) == 0
    good = browser.post(
        url,
        data={**extra, "csrfmiddlewaretoken": token, "f-email": "ada@example.com", "f-seats": "3"},
        headers={"Referer": url},
        timeout=30,
    )
    assert good.status_code == 200 and good.url.rstrip("/").endswith("thanks")
    runs = server.call("GET", f"/api/v1/workflows/{wid}/runs")[1]["results"]
    assert len(runs) == 1 and runs[0]["mode"] == "live"
    run = server.wait_for(lambda: (r := server.run(runs[0]["id"]))["status"] == "completed" and r)
    assert run["input"] == {"fields": {"email": "ada@example.com", "seats": 3}}
