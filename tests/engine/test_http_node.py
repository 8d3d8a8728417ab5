"""The http.request node against a real threaded HTTP server on 127.0.0.1 (no patching)."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.memory import InMemoryStore
from workflows.engine.registry import NodeContext, NodeResult, Wait, registry
from workflows.engine.scheduler import Scheduler
from workflows.engine.schema_check import schema_issues
from workflows.engine.store import Services
from workflows.nodes.http import (
    CONFIG_SCHEMA,
    POLL_SCHEMA,
    http_request,
    parse_retry_after,
    poll_node,
    validate_http_config,
    validate_poll_config,
)

HITS: list[str] = []


class Target(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body: bytes, ctype="application/json", headers=(), length=True):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")  # body ends when the connection closes
        self.end_headers()
        try:
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not length:
            self.close_connection = True

    def _handle(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        HITS.append(url.path)
        parts = [p for p in url.path.split("/") if p]
        head, arg = (parts + ["", ""])[:2]
        if head == "echo":
            body = {
                "method": self.command,
                "path": url.path,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "text": raw.decode("utf-8", "replace"),
            }
            return self._send(200, json.dumps(body).encode())
        if head == "status":
            extra = [("Retry-After", query["retry_after"][0])] if "retry_after" in query else []
            return self._send(
                int(arg),
                json.dumps({"status": int(arg), "echo": query.get("say", [""])[0]}).encode(),
                headers=extra,
            )
        if head == "slow":
            time.sleep(int(arg) / 1000)
            return self._send(200, b'{"slept": true}')
        if head == "drip":  # headers at once, then a byte every 100 ms for `arg` bytes
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", arg)
            self.end_headers()
            try:
                for _ in range(int(arg)):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if head == "text":
            return self._send(200, "café".encode("latin-1"), "text/plain; charset=iso-8859-1")
        if head == "badjson":
            return self._send(200, b"{not json", "application/json")
        if head == "emptyjson":
            return self._send(200, b"", "application/json")
        if head == "problem":
            return self._send(200, b'{"title": "x"}', "application/problem+json; charset=utf-8")
        if head == "big":
            return self._send(200, b"a" * int(arg), "text/plain", length=query.get("cl") != ["0"])
        if head == "gzip":
            return self._send(
                200, gzip.compress(b"a" * int(arg)), "text/plain", headers=[("Content-Encoding", "gzip")]
            )
        if head in ("flaky", "job"):  # /flaky/<k>/<key>: 503 k times; /job/<k>/<key>: pending k times
            calls = HITS.count(url.path)
            if head == "flaky":
                return self._send(503 if calls <= int(arg) else 200, json.dumps({"calls": calls}).encode())
            state = "pending" if calls <= int(arg) else query.get("end", ["done"])[0]
            return self._send(
                200, json.dumps({"state": state, "done": state == "done", "calls": calls}).encode()
            )
        if head == "redirect":
            return self._send(302, b"", None, headers=[("Location", "/echo?redirected=1")])
        return self._send(404, b'{"error": "no such path"}')

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


@pytest.fixture(scope="module")
def target():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class PrivateOK(Services):
    allow_private_outbound = True


class SmallResponses(PrivateOK):
    max_response_bytes = 1000


def make_ctx(config, *, services=None, deadline=None, scope=None) -> NodeContext:
    return NodeContext(
        run_id="r1",
        workflow_id="w1",
        node_id="call",
        node={"id": "call", "type": "http.request", "config": config},
        config=config,
        input={},
        scope=scope or {},
        services=services or PrivateOK(),
        deadline=deadline,
    )


def call(config, **kwargs):
    return http_request(make_ctx(config, **kwargs)).output


def fails(config, category, **kwargs) -> NodeError:
    with pytest.raises(NodeError) as info:
        call(config, **kwargs)
    assert info.value.category == category, info.value.message
    return info.value


# --------------------------------------------------------------------- requests on the wire


def test_conformance_12_bearer_query_headers_json_body(target):
    out = call(
        {
            "method": "POST",
            "url": f"{target}/echo",
            "query": {"q": "shoes"},
            "headers": {"X-Trace": "t-7"},
            "auth": {"type": "bearer", "token": "s3cret"},
            "body": {"n": 7, "tags": ["a", "b"]},
            "body_type": "json",
        }
    )
    assert out["status"] == 200
    body = out["body"]
    assert body["method"] == "POST" and body["query"] == {"q": ["shoes"]}
    assert body["headers"]["authorization"] == "Bearer s3cret"
    assert body["headers"]["x-trace"] == "t-7"
    assert body["headers"]["content-type"] == "application/json"
    assert json.loads(body["text"]) == {"n": 7, "tags": ["a", "b"]}
    assert out["headers"]["content-type"] == "application/json"  # lower-case names


def test_method_defaults_to_get_and_is_case_insensitive(target):
    assert call({"url": f"{target}/echo"})["body"]["method"] == "GET"
    assert call({"url": f"{target}/echo", "method": "delete"})["body"]["method"] == "DELETE"


def test_head_has_an_empty_body(target):
    out = call({"url": f"{target}/echo", "method": "HEAD"})
    assert out["status"] == 200 and out["body"] is None  # JSON content type, no content


def test_no_auth_sends_no_authorization(target):
    for auth in (None, {"type": "none"}):
        config = {"url": f"{target}/echo"} | ({"auth": auth} if auth else {})
        assert "authorization" not in call(config)["body"]["headers"]


def test_basic_auth(target):
    out = call(
        {"url": f"{target}/echo", "auth": {"type": "basic", "username": "ada", "password": "pässword"}}
    )
    header = out["body"]["headers"]["authorization"]
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == "ada:pässword"


def test_api_key_in_header_and_in_query(target):
    out = call(
        {
            "url": f"{target}/echo",
            "auth": {"type": "api_key", "in": "header", "name": "X-Api-Key", "value": "k-123"},
        }
    )
    assert out["body"]["headers"]["x-api-key"] == "k-123"
    out = call(
        {
            "url": f"{target}/echo?a=1",
            "auth": {"type": "api_key", "in": "query", "name": "key", "value": "k-456"},
        }
    )
    assert out["body"]["query"] == {"a": ["1"], "key": ["k-456"]}


def test_query_merges_with_the_url_query(target):
    out = call({"url": f"{target}/echo?a=1", "query": {"b": 2, "c": [1, "x"], "flag": True, "skip": None}})
    assert out["body"]["query"] == {"a": ["1"], "b": ["2"], "c": ["1", "x"], "flag": ["true"]}


@pytest.mark.parametrize(
    ("body_type", "body", "ctype", "text"),
    [
        ("json", {"a": [1, None]}, "application/json", '{"a":[1,null]}'),
        ("json", '{"already": "json"}', "application/json", '{"already": "json"}'),
        ("json", "plain words", "application/json", '"plain words"'),
        (
            "form",
            {"a": "1 2", "b": [1, 2], "c": True},
            "application/x-www-form-urlencoded",
            "a=1+2&b=1&b=2&c=true",
        ),
        ("xml", "<a>é</a>", "application/xml", "<a>é</a>"),
        ("raw", "just text", "text/plain", "just text"),
    ],
)
def test_body_types(target, body_type, body, ctype, text):
    out = call({"method": "POST", "url": f"{target}/echo", "body": body, "body_type": body_type})
    assert out["body"]["headers"]["content-type"] == ctype
    assert out["body"]["text"] == text


def test_content_type_header_wins_case_insensitively(target):
    out = call(
        {
            "method": "PUT",
            "url": f"{target}/echo",
            "headers": {"content-TYPE": "application/vnd.x+json"},
            "body": {"a": 1},
        }
    )
    assert out["body"]["headers"]["content-type"] == "application/vnd.x+json"
    assert out["body"]["text"] == '{"a":1}'


def test_no_body_sends_no_content_type(target):
    assert "content-type" not in call({"method": "POST", "url": f"{target}/echo"})["body"]["headers"]


def test_redirects_are_followed(target):
    out = call({"url": f"{target}/redirect"})
    assert out["status"] == 200 and out["body"]["query"] == {"redirected": ["1"]}


# ----------------------------------------------------------------------- response parsing


def test_text_body_uses_the_declared_charset(target):
    assert call({"url": f"{target}/text"})["body"] == "café"


def test_json_suffix_types_are_parsed(target):
    assert call({"url": f"{target}/problem"})["body"] == {"title": "x"}


def test_empty_json_body_is_null(target):
    assert call({"url": f"{target}/emptyjson"})["body"] is None


def test_unparseable_json_is_a_parse_error(target):
    error = fails({"url": f"{target}/badjson"}, ErrorCategory.PARSE_ERROR)
    assert not error.retryable and error.details["body"] == "{not json"


# ---------------------------------------------------------------------- status → category


@pytest.mark.parametrize(
    ("status", "category", "retryable"),
    [
        (401, ErrorCategory.AUTHENTICATION_ERROR, False),
        (403, ErrorCategory.AUTHENTICATION_ERROR, False),
        (429, ErrorCategory.RATE_LIMIT_ERROR, True),
        (503, ErrorCategory.SERVICE_UNAVAILABLE, True),
        (404, ErrorCategory.HTTP_ERROR, False),
        (400, ErrorCategory.HTTP_ERROR, False),
        (500, ErrorCategory.HTTP_ERROR, True),
        (502, ErrorCategory.HTTP_ERROR, True),
    ],
)
def test_status_categories(target, status, category, retryable):
    error = fails({"url": f"{target}/status/{status}"}, category)
    assert error.retryable is retryable
    assert error.details["status"] == status
    assert error.details["body"] == {"status": status, "echo": ""}
    assert f"HTTP {status}" in error.message


def test_fail_on_status_false_returns_the_response(target):
    out = call({"url": f"{target}/status/404", "fail_on_status": False})
    assert out["status"] == 404 and out["body"]["status"] == 404


def test_retry_after_seconds_on_429_and_503(target):
    assert (
        fails({"url": f"{target}/status/429?retry_after=7"}, ErrorCategory.RATE_LIMIT_ERROR).retry_after_s
        == 7
    )
    assert (
        fails({"url": f"{target}/status/503?retry_after=2"}, ErrorCategory.SERVICE_UNAVAILABLE).retry_after_s
        == 2
    )
    assert fails({"url": f"{target}/status/429"}, ErrorCategory.RATE_LIMIT_ERROR).retry_after_s is None


def test_retry_after_http_date(target):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    error = fails(
        {"url": f"{target}/status/503?" + urllib.parse.urlencode({"retry_after": when})},
        ErrorCategory.SERVICE_UNAVAILABLE,
    )
    assert 25 <= error.retry_after_s <= 30


def test_parse_retry_after():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Mon, 01 Jan 2024 00:01:00 GMT", now) == 60
    assert parse_retry_after("Sun, 31 Dec 2023 23:00:00 GMT", now) == 0  # in the past
    assert (
        parse_retry_after("soon") is None
        and parse_retry_after(None) is None
        and parse_retry_after("-1") is None
    )


# ----------------------------------------------------------------------- time and size


def test_config_timeout_is_a_timeout_error(target):
    started = time.monotonic()
    error = fails({"url": f"{target}/slow/3000", "timeout_ms": 300}, ErrorCategory.TIMEOUT_ERROR)
    assert time.monotonic() - started < 1.5
    assert "0.3 s" in error.message and error.retryable


def test_attempt_deadline_bounds_the_request(target):
    started = time.monotonic()
    fails(
        {"url": f"{target}/slow/3000", "timeout_ms": 10000},
        ErrorCategory.TIMEOUT_ERROR,
        deadline=time.monotonic() + 0.3,
    )
    assert time.monotonic() - started < 1.5


def test_a_trickling_body_cannot_outlast_the_timeout(target):
    started = time.monotonic()
    fails({"url": f"{target}/drip/50", "timeout_ms": 500}, ErrorCategory.TIMEOUT_ERROR)
    assert time.monotonic() - started < 2.0


def test_no_time_left_fails_at_once(target):
    fails({"url": f"{target}/echo"}, ErrorCategory.TIMEOUT_ERROR, deadline=time.monotonic() - 1)


@pytest.mark.parametrize("declared", ["1", "0"])
def test_response_size_is_capped(target, declared):
    small = call({"url": f"{target}/big/1000?cl={declared}"}, services=SmallResponses())
    assert len(small["body"]) == 1000
    error = fails(
        {"url": f"{target}/big/5000?cl={declared}"}, ErrorCategory.HTTP_ERROR, services=SmallResponses()
    )
    assert "1000-byte limit" in error.message and not error.retryable


def test_the_cap_applies_to_the_decoded_body(target):
    assert call({"url": f"{target}/gzip/500"}, services=SmallResponses())["body"] == "a" * 500
    error = fails({"url": f"{target}/gzip/100000"}, ErrorCategory.HTTP_ERROR, services=SmallResponses())
    assert "1000-byte limit" in error.message  # a small compressed bomb is still refused


# ------------------------------------------------------------------ failures, validation


def test_connection_refused_is_a_retryable_connection_error(target):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        error = fails({"url": f"http://127.0.0.1:{port}/"}, ErrorCategory.CONNECTION_ERROR)
    assert error.retryable and "refused" in error.message.lower()


@pytest.mark.parametrize(
    "config",
    [
        {"url": "ftp://example.com/file"},
        {"url": "http://x/", "method": "FETCH"},
        {"url": "http://x/", "auth": {"type": "bearer"}},
        {"url": "http://x/", "auth": {"type": "oauth"}},
        {"url": "http://x/", "body": [1], "body_type": "form"},
        {"url": "http://x/", "body": {"a": 1}, "body_type": "xml"},
        {"url": "http://x/", "timeout_ms": "soon"},
    ],
)
def test_malformed_rendered_config_is_a_validation_error(config):
    fails(config, ErrorCategory.VALIDATION_ERROR)


def test_cancelled_before_sending(target):
    ctx = make_ctx({"url": f"{target}/echo?cancelled=1"})
    ctx.cancelled.set()
    before = len(HITS)
    with pytest.raises(NodeError) as info:
        http_request(ctx)
    assert info.value.category == ErrorCategory.CANCELLED and len(HITS) == before


def test_credentials_are_masked_in_logs_and_errors(target):
    ctx = make_ctx(
        {
            "url": f"{target}/status/500?say=tok-SECRET-1",
            "auth": {"type": "bearer", "token": "tok-SECRET-1"},
            "headers": {"X-Other": "ws-SECRET-2"},
        },
        scope={"workspace": {"cred": {"key": "ws-SECRET-2"}}},
    )
    with pytest.raises(NodeError) as info:
        http_request(ctx)
    text = json.dumps([ctx.logs, info.value.as_dict()])
    assert "SECRET" not in text and "***" in text


def test_basic_auth_header_is_masked_in_logs(target):
    ctx = make_ctx(
        {"url": f"{target}/echo", "auth": {"type": "basic", "username": "u", "password": "pw-SECRET"}}
    )
    out = http_request(ctx).output
    assert out["body"]["headers"]["authorization"].startswith("Basic ")  # the output is not masked
    logged = json.dumps(ctx.logs)
    assert "pw-SECRET" not in logged and out["body"]["headers"]["authorization"][6:] not in logged


def test_registered_in_the_registry():
    from workflows.engine.registry import registry

    node_type = registry.get("http.request")
    assert node_type.category == "http" and node_type.config_schema is CONFIG_SCHEMA
    assert node_type.output_handles({}) == ["main", "error"]


def test_schema_and_validate_config():
    conformance_12 = {
        "method": "POST",
        "url": "{{ trigger.target }}/echo",
        "query": {"q": "{{ input.term }}"},
        "headers": {"X-Trace": "t-{{ input.n }}"},
        "auth": {"type": "bearer", "token": "{{ variables.token }}"},
        "body": {"n": "{{ input.n }}", "tags": ["a", "b"]},
        "body_type": "json",
    }
    assert schema_issues(CONFIG_SCHEMA, conformance_12) == []
    assert list(validate_http_config(conformance_12)) == []
    assert schema_issues(CONFIG_SCHEMA, {"url": "http://x", "timeout_ms": "{{ variables.t }}"}) == []
    assert schema_issues(CONFIG_SCHEMA, {"url": "http://x", "method": "FETCH"}) != []
    assert schema_issues(CONFIG_SCHEMA, {"method": "GET"}) != []
    issues = dict(
        validate_http_config(
            {"url": "example.com", "auth": {"type": "api_key", "name": "k"}, "body": 5, "body_type": "xml"}
        )
    )
    assert set(issues) == {"url", "auth.value", "body"}


# ------------------------------------------------------------------------------- flow.poll


def poll_ctx(config, wait_data=None) -> NodeContext:
    ctx = make_ctx(config)
    ctx.node = {"id": "poll", "type": "flow.poll", "config": config}
    ctx.wait_data = wait_data
    return ctx


def test_poll_parks_on_a_timer_until_the_condition_holds(target):
    key = uuid.uuid4().hex
    config = {
        "url": f"{target}/job/1/{key}",
        "interval_s": 2,
        "success_condition": {"left": "{{ response.body.state }}", "op": "eq", "right": "done"},
    }
    first = poll_node(poll_ctx(config))
    assert isinstance(first, Wait) and first.kind == "timer" and first.data["polls"] == 1
    assert 1 < (first.until - datetime.now(UTC)).total_seconds() <= 2
    second = poll_node(poll_ctx(config, wait_data=first.data))
    assert isinstance(second, NodeResult) and second.output["body"]["state"] == "done"


def test_poll_failure_condition_and_exhaustion(target):
    config = {
        "url": f"{target}/job/0/{uuid.uuid4().hex}?end=failed",
        "success_condition": "{{ response.body.done }}",
        "failure_condition": {"left": "{{ response.body.state }}", "op": "eq", "right": "failed"},
    }
    with pytest.raises(NodeError) as info:
        poll_node(poll_ctx(config))
    assert info.value.category == ErrorCategory.INTEGRATION_ERROR and not info.value.retryable
    config = {
        "url": f"{target}/job/9/{uuid.uuid4().hex}",
        "max_attempts": 3,
        "success_condition": "$.body.done",
    }
    with pytest.raises(NodeError) as info:
        poll_node(poll_ctx(config, wait_data={"polls": 2}))
    assert info.value.category == ErrorCategory.TIMEOUT_ERROR and info.value.details["polls"] == 3


def test_poll_config_validation():
    good = {
        "url": "{{ input.url }}",
        "success_condition": "$.body[?(@.s == 'x')]",
        "failure_condition": {"left": "{{ response.status }}", "op": "gte", "right": 500},
    }
    assert schema_issues(POLL_SCHEMA, good) == [] and list(validate_poll_config(good)) == []
    bad = dict(
        validate_poll_config(
            {
                "url": "http://x",
                "success_condition": "$.[[",
                "failure_condition": {"left": 1, "op": "nope", "right": 2},
            }
        )
    )
    assert set(bad) >= {"success_condition"} and any(k.startswith("failure_condition") for k in bad)


# ------------------------------------------- through the scheduler (conformance-like runs)


def run_flow(target, node, *, trigger=None, extra_nodes=(), extra_edges=()):
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "t",
        "nodes": [{"id": "start", "type": "trigger.manual"}, node, *extra_nodes],
        "edges": [{"source": "start", "target": node["id"]}, *extra_edges],
    }
    store = InMemoryStore()
    run_id = store.create_run(doc, {"target": target, **(trigger or {})})
    Scheduler(store, registry, services=PrivateOK()).advance(run_id)
    return store, run_id


def test_scheduler_conformance_12(target):
    store, run_id = run_flow(
        target,
        {
            "id": "post",
            "type": "http.request",
            "config": {
                "method": "POST",
                "url": "{{ trigger.target }}/echo",
                "query": {"q": "{{ input.term }}"},
                "headers": {"X-Trace": "t-{{ input.n }}"},
                "auth": {"type": "bearer", "token": "s3cret"},
                "body": {"n": "{{ input.n }}", "tags": ["a", "b"]},
                "body_type": "json",
            },
        },
        trigger={"term": "shoes", "n": 7},
    )
    assert store.run(run_id).status == "completed"
    body = store.state(run_id, "post").output["body"]
    assert body["headers"]["authorization"] == "Bearer s3cret" and json.loads(body["text"]) == {
        "n": 7,
        "tags": ["a", "b"],
    }


def test_scheduler_retries_503_then_succeeds(target):
    store, run_id = run_flow(
        target,
        {
            "id": "call",
            "type": "http.request",
            "config": {"url": "{{ trigger.target }}/flaky/2/" + uuid.uuid4().hex},
            "retry": {"max_attempts": 3, "backoff": "fixed", "initial_delay_ms": 50, "jitter": False},
        },
    )
    state = store.state(run_id, "call")
    assert (
        store.run(run_id).status == "completed" and state.attempts == 3 and state.output["body"]["calls"] == 3
    )


def test_scheduler_node_timeout_and_default_output(target):
    node = {
        "id": "slow",
        "type": "http.request",
        "config": {"url": "{{ trigger.target }}/slow/3000"},
        "timeout_ms": 300,
    }
    started = time.monotonic()
    store, run_id = run_flow(target, node)
    assert time.monotonic() - started < 2
    assert store.run(run_id).status == "failed"
    assert store.state(run_id, "slow").error["category"] == "TIMEOUT_ERROR"
    store, run_id = run_flow(
        target, {**node, "on_timeout": "default", "default_output": {"body": {"fallback": True}}}
    )
    assert store.run(run_id).status == "completed"


def test_scheduler_skip_and_route_on_http_errors(target):
    store, run_id = run_flow(
        target,
        {
            "id": "call",
            "type": "http.request",
            "config": {"url": "{{ trigger.target }}/status/500"},
            "on_error": "skip",
        },
        extra_nodes=[{"id": "next", "type": "data.transform", "config": {"set": {"done": True}}}],
        extra_edges=[{"source": "call", "target": "next"}],
    )
    assert store.run(run_id).status == "partial"
    assert store.state(run_id, "next").output["error"]["category"] == "HTTP_ERROR"


def test_scheduler_poll_until_done(target):
    key = uuid.uuid4().hex
    store, run_id = run_flow(
        target,
        {
            "id": "poll",
            "type": "flow.poll",
            "config": {
                "url": "{{ trigger.target }}/job/2/" + key,
                "interval_s": 0.05,
                "success_condition": "$.body.done",
            },
        },
    )
    assert store.run(run_id).status == "completed"
    assert store.state(run_id, "poll").output["body"] == {"state": "done", "done": True, "calls": 3}


def test_credentials_typed_into_headers_and_query_are_masked_in_logs(target):
    ctx = make_ctx(
        {
            "url": f"{target}/echo?access_token=tok-in-url",
            "headers": {"Authorization": "Bearer hdr-tok"},
            "query": {"api_key": "qry-key"},
        }
    )
    http_request(ctx)
    logged = json.dumps(ctx.logs)
    assert "tok-in-url" not in logged and "hdr-tok" not in logged and "qry-key" not in logged


def test_a_jsonpath_regex_in_a_poll_condition_is_time_bounded(target):
    """`=~` in a JSONPath filter is a user regex too: a catastrophic one fails the node
    with TIMEOUT_ERROR rather than stalling the worker."""
    store, run_id = run_flow(
        target,
        {
            "id": "poll",
            "type": "flow.poll",
            "config": {
                "url": "{{ trigger.target }}/echo",
                "query": {"v": "a" * 40 + "!"},
                "success_condition": '$.body.query.v[?(@ =~ "(a|aa)+$")]',
                "max_attempts": 1,
            },
        },
    )
    assert store.run(run_id).status == "failed"
    error = store.state(run_id, "poll").error
    assert error["category"] == "TIMEOUT_ERROR" and "regular expression" in error["message"]
