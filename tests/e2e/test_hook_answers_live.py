"""What a real `serve` answers on /hooks/ (served in one hop to the request thread,
config.asgi_hooks): the statuses, JSON bodies and headers the middleware chain gives every
answer, for runs started and for every refusal, and the run stored."""

import http.client
import json
import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

SECURITY = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
NUL_MESSAGE = "The URL must not contain a NUL (%00) character."


def error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def ask(server, method: str, path: str, body: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw
    finally:
        conn.close()


def assert_answer(reply, status: int, body, extra_headers=None):
    """The status, the JSON body (None: not compared; HEAD answers carry none) and the
    headers every /hooks/ answer has."""
    got_status, headers, raw = reply
    assert got_status == status, reply
    expected = {
        "content-type": "application/json",
        **({"content-length": str(len(raw))} if raw else {}),
        **SECURITY,
        **(extra_headers or {}),
    }
    assert {k: headers.get(k) for k in expected} == expected, headers
    assert "set-cookie" not in headers and "vary" not in headers, headers
    if body is not None:
        assert json.loads(raw) == body


@pytest.fixture(scope="module")
def hooks(server):
    """Paths of active webhooks: plain (immediately), on completion, header auth, ANY method."""
    paths = {}
    for name, config in {
        "plain": {"respond": "immediately"},
        "completion": {"respond": "on_completion"},
        "auth": {"auth": {"type": "header", "name": "X-Token", "token": "s3cret-token-value"}},
        "any": {"method": "ANY"},
    }.items():
        wid = server.create_workflow(
            [
                {"id": "hook", "type": "trigger.webhook", "config": config},
                {
                    "id": "t",
                    "type": "data.transform",
                    "config": {"set": {"n": "{{ input.body.n }}"}, "keep_input": False},
                },
            ],
            [{"source": "hook", "target": "t"}],
        )
        code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
        assert code == 200, body
        paths[name] = urlsplit(body["triggers"][0]["url"]).path
    return paths


JSON = {"Content-Type": "application/json"}


def test_a_run_is_started_and_stored(server, hooks):
    reply = ask(server, "POST", hooks["plain"], b'{"n": 5}', {**JSON, "Idempotency-Key": "live-1"})
    assert_answer(reply, 202, None)
    run_id = json.loads(reply[2])["run_id"]
    run = server.wait_for(lambda: (r := server.run(run_id))["status"] == "completed" and r)
    assert run["output"] == {"n": 5} and run["trigger_type"] == "trigger.webhook" and run["mode"] == "live"
    again = ask(server, "POST", hooks["plain"], b'{"n": 5}', {**JSON, "Idempotency-Key": "live-1"})
    assert_answer(again, 202, {"run_id": run_id})


def test_an_answer_on_completion(server, hooks):
    assert_answer(ask(server, "POST", hooks["completion"], b'{"n": 8}', JSON), 200, {"n": 8})
    assert_answer(ask(server, "POST", hooks["completion"] + "/", b'{"n": 9}', JSON), 200, {"n": 9})


def test_refusals(server, hooks):
    plain, auth = hooks["plain"], hooks["auth"]
    assert_answer(
        ask(server, "POST", auth, b"{}", {**JSON, "X-Token": "wrong"}),
        401,
        error("AUTHENTICATION_FAILED", "The webhook's authentication did not match."),
    )
    unknown = error("NOT_FOUND", "No active webhook at this address.")
    assert_answer(ask(server, "POST", "/hooks/not-a-real-token", b"{}", JSON), 404, unknown)
    assert_answer(
        ask(server, "POST", "/hooks/a/b", b"{}", JSON),
        404,
        error("NOT_FOUND", "No such resource: /hooks/a/b"),
    )
    wrong_method = error("METHOD_NOT_ALLOWED", "This trigger accepts POST requests.")
    for method in ("GET", "OPTIONS", "PUT"):
        assert_answer(ask(server, method, plain), 405, wrong_method, {"allow": "POST"})
    assert_answer(ask(server, "HEAD", plain), 405, None, {"allow": "POST"})
    bad_json = ask(server, "POST", plain, b"{nope", JSON)
    assert_answer(bad_json, 400, None)
    assert json.loads(bad_json[2])["error"]["code"] == "PARSE_ERROR"
    too_large = ask(server, "POST", plain, b"x" * (1024 * 1024 + 1), JSON)
    assert_answer(too_large, 413, error("PAYLOAD_TOO_LARGE", f"The body is over {1024 * 1024} bytes."))
    # A NUL in the URL is refused by the first middleware, before the others add headers.
    nul = error("BAD_REQUEST", NUL_MESSAGE, {"url": [NUL_MESSAGE]})
    for path in ("/hooks/ab%00cd", plain + "?a=%00"):
        status, headers, raw = ask(server, "POST", path, b"{}", JSON)
        assert (status, headers["content-type"], json.loads(raw)) == (400, "application/json", nul)


def test_any_method_starts_runs(server, hooks):
    for method in ("GET", "OPTIONS", "DELETE"):
        reply = ask(server, method, hooks["any"] + "?x=1")
        assert_answer(reply, 202, None)
        run_id = json.loads(reply[2])["run_id"]
        run = server.run(run_id)
        assert run["input"]["method"] == method and run["input"]["query"] == {"x": "1"}
    assert_answer(ask(server, "HEAD", hooks["any"]), 202, None)


def test_a_forwarded_for_header_and_cookies(server, hooks):
    reply = ask(server, "POST", hooks["plain"], b'{"n": 1}', {**JSON, "X-Forwarded-For": "203.0.113.9"})
    assert_answer(reply, 202, None)
    # A cookie the session middleware cannot read is deleted, as on every other page.
    status, headers, _ = ask(server, "POST", hooks["plain"], b'{"n": 1}', {**JSON, "Cookie": "sessionid=x"})
    assert status == 202 and re.match(r'sessionid=""; expires=', headers["set-cookie"]), headers
