"""Requests to /hooks/ served in one hop to the request thread (config.asgi_hooks) get the
answer Django's ASGI handler gives them, header for header and byte for byte: runs started,
auth failures, unknown tokens, wrong methods, bad JSON, bodies too large, NUL in the URL,
errors, and cookies the session and CSRF middleware answer."""

import asyncio
import re

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler

from config.asgi_hooks import HookRequests
from config.asgi_limits import BodyLimit
from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, hook_path, trigger_workflow

pytestmark = pytest.mark.usefixtures("inline_queue")

LIMIT = 4000  # BodyLimit's (MAX_REQUEST_BODY_BYTES); the webhook's own limit is set below it
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CSRF_COOKIE = re.compile(rb"csrftoken=[A-Za-z0-9]+")


async def _call(app, method, path, query, headers, body):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin1"),
        "root_path": "",
        "query_string": query,
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Future()  # the client stays connected until the answer

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], start["headers"], content


def answer(app, method, path, *, query=b"", headers=None, body=b""):
    return async_to_sync(_call)(app, method, path, query, headers or {}, body)


@pytest.fixture
def apps(settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2000
    django_app = ASGIHandler()
    return BodyLimit(django_app, LIMIT), BodyLimit(HookRequests(django_app), LIMIT)


def activate(api, config=None, auth=None) -> str:
    trigger = {"id": "hook", "type": "trigger.webhook", "config": {"method": "POST", **(config or {})}}
    if auth:
        trigger["config"]["auth"] = auth
    wid = trigger_workflow(api, trigger, {"seen": "{{ input.body.n }}"}, name="hook")
    return hook_path(activate_ok(api, wid), "trigger.webhook")


def same_answer(apps, method, path, **request):
    """Both paths' answers to the same request, equal once run ids and fresh CSRF tokens are
    masked; the new path's answer."""
    before, after = (answer(app, method, path, **request) for app in apps)

    def masked(reply):
        status, headers, body = reply
        headers = [(k, CSRF_COOKIE.sub(b"csrftoken=*", v)) for k, v in headers]
        return status, headers, UUID.sub(b"<uuid>", body)

    assert masked(after) == masked(before)
    return after


def header(reply, name: bytes):
    return dict(reply[1]).get(name)


SECURITY = {
    b"X-Frame-Options": b"DENY",
    b"X-Content-Type-Options": b"nosniff",
    b"Referrer-Policy": b"same-origin",
    b"Cross-Origin-Opener-Policy": b"same-origin",
}


def test_a_run_started_answers_as_before_and_is_stored(api, apps):
    path = activate(api)
    json_post = {"headers": {"Content-Type": "application/json"}, "body": b'{"n": 7}'}
    reply = same_answer(apps, "POST", path, **json_post)
    assert reply[0] == 202
    assert {k: v for k, v in reply[1] if k in SECURITY} == SECURITY
    assert header(reply, b"Content-Length") == str(len(reply[2])).encode()
    run = WorkflowRun.objects.get(pk=UUID.search(reply[2]).group().decode())
    assert run.status == "completed" and run.output == {"seen": 7} and run.input["method"] == "POST"
    # The same body again with the query string and headers a sender adds.
    same_answer(apps, "POST", path, query=b"a=1&b=2", **json_post)
    # A body of many chunks.
    same_answer(apps, "POST", path, headers={"Content-Type": "text/plain"}, body=b"x" * 1500)
    assert WorkflowRun.objects.count() == 6


def test_an_answer_on_completion_is_the_same(api, apps):
    path = activate(api, {"respond": "on_completion"})
    reply = same_answer(apps, "POST", path, headers={"Content-Type": "application/json"}, body=b'{"n": 3}')
    assert reply[0] == 200 and reply[2] == b'{"seen": 3}'


def test_refusals_are_the_same_json_answers(api, apps):
    path = activate(api, auth={"type": "header", "name": "X-Token", "token": "s3cret-value"})
    json_ctype = {"Content-Type": "application/json"}
    cases = [
        # auth failure
        ("POST", path, {"headers": {**json_ctype, "X-Token": "wrong"}, "body": b"{}"}, 401),
        # unknown token, unknown path under /hooks/, no token
        ("POST", "/hooks/not-a-real-token", {"body": b"{}"}, 404),
        ("POST", "/hooks/a/b/c", {"body": b"{}"}, 404),
        ("GET", "/hooks/", {}, 404),
        # wrong methods
        ("GET", path, {}, 405),
        ("HEAD", path, {}, 405),
        ("OPTIONS", path, {}, 405),
        ("PUT", path, {"body": b"{}"}, 405),
        # bad JSON, NUL in JSON
        ("POST", path, {"headers": {**json_ctype, "X-Token": "s3cret-value"}, "body": b"{nope"}, 400),
        (
            "POST",
            path,
            {"headers": {**json_ctype, "X-Token": "s3cret-value"}, "body": b'{"a": "\\u0000"}'},
            400,
        ),
        # over the webhook's limit, and over every request's limit (declared or sent)
        ("POST", path, {"headers": {"X-Token": "s3cret-value"}, "body": b"x" * 3000}, 413),
        ("POST", path, {"headers": {"Content-Length": str(LIMIT + 1)}, "body": b"x"}, 413),
        ("POST", path, {"body": b"x" * (LIMIT + 1)}, 413),
        # NUL in the path or the query string
        ("POST", "/hooks/ab\x00cd", {"body": b"{}"}, 400),
        ("POST", path, {"query": b"a=%00", "body": b"{}"}, 400),
    ]
    for method, where, request, status in cases:
        reply = same_answer(apps, method, where, **request)
        assert reply[0] == status, (method, where, reply)
        assert reply[2].startswith(b'{"error": {"code": '), reply
    assert WorkflowRun.objects.count() == 0
    # The 405 names the method the trigger takes; the 404 is the app's JSON one.
    assert header(same_answer(apps, "GET", path), b"Allow") == b"POST"
    assert b'"NOT_FOUND"' in same_answer(apps, "POST", "/hooks/a/b/c")[2]


def test_a_webhook_taking_any_method_answers_get_and_head_the_same(api, apps):
    path = activate(api, {"method": "ANY"})
    for method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        assert same_answer(apps, method, path, query=b"x=1")[0] == 202
    assert sorted(WorkflowRun.objects.values_list("input__method", flat=True)) == [
        "DELETE",
        "DELETE",
        "GET",
        "GET",
        "HEAD",
        "HEAD",
        "OPTIONS",
        "OPTIONS",
    ]


def test_an_error_in_a_hook_is_the_apps_json_500(api, apps, monkeypatch):
    path = activate(api)

    def broken(token, node_type=None):
        raise RuntimeError("boom")

    monkeypatch.setattr("runs.intake.active_trigger", broken)
    reply = same_answer(apps, "POST", path, body=b"{}")
    assert reply[0] == 500 and b'"INTERNAL_ERROR"' in reply[2]
    assert {k: v for k, v in reply[1] if k in SECURITY} == SECURITY


def test_cookies_get_the_session_and_csrf_middlewares_answers(api, apps):
    path = activate(api)
    reply = same_answer(apps, "POST", path, headers={"Cookie": "sessionid=x; csrftoken=bad"}, body=b"{}")
    cookies = [v for k, v in reply[1] if k == b"Set-Cookie"]
    assert reply[0] == 202 and len(cookies) == 2, reply


def test_other_paths_are_left_to_django(apps):
    app = apps[1]
    assert answer(app, "GET", "/healthz")[2] == b'{"status": "ok"}'
    assert answer(app, "GET", "/api/v1/workflows/")[0] == 401
