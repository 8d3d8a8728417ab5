"""The step executor against a real HTTP server on 127.0.0.1: auth, bodies, chains,
retries, timeouts, error categories, continue_on_error, combine_outputs, masking."""

from __future__ import annotations

import base64
import json
import time

from connectors.executor import ExecutionLimits, execute_config

from .factories import FAST_RETRY, echo

LIMITS = ExecutionLimits(allow_private=True, step_timeout_ms=5000)


def run(config, *, input=None, workspace=None, limits=LIMITS):
    return execute_config(config, input=input or {}, workspace=workspace or {}, limits=limits)


# ------------------------------------------------------------------------------ auth types


def test_no_auth_sends_no_authorization_header(api_server):
    api_server.route("GET", "/me", echo)
    outcome = run({"url": api_server.url("/me"), "auth": {"type": "none"}})
    assert outcome.succeeded and "authorization" not in outcome.output["headers"]


def test_bearer_auth_sends_the_resolved_credential(api_server):
    api_server.route("GET", "/me", echo)
    outcome = run(
        {"url": api_server.url("/me"), "auth": {"type": "bearer", "token": "{{ workspace.api_token }}"}},
        workspace={"api_token": "tok-bearer-123"},
    )
    assert outcome.succeeded
    assert api_server.requests_to("/me")[0].headers["authorization"] == "Bearer tok-bearer-123"


def test_api_key_auth_in_a_header(api_server):
    api_server.route("GET", "/me", echo)
    run(
        {
            "url": api_server.url("/me"),
            "auth": {"type": "api_key", "in": "header", "name": "X-Api-Key", "value": "{{ workspace.key }}"},
        },
        workspace={"key": "k-header-456"},
    )
    assert api_server.requests_to("/me")[0].headers["x-api-key"] == "k-header-456"


def test_api_key_auth_in_the_query(api_server):
    api_server.route("GET", "/me", echo)
    run(
        {
            "url": api_server.url("/me"),
            "queryParams": {"q": "x"},
            "auth": {"type": "api_key", "in": "query", "name": "api_key", "value": "{{ workspace.key }}"},
        },
        workspace={"key": "k-query-789"},
    )
    assert api_server.requests_to("/me")[0].query == {"q": ["x"], "api_key": ["k-query-789"]}


def test_basic_auth_with_a_multi_field_credential(api_server):
    api_server.route("GET", "/me", echo)
    run(
        {
            "url": api_server.url("/me"),
            "auth": {
                "type": "basic",
                "username": "{{ workspace.crm.username }}",
                "password": "{{ workspace.crm.password }}",
            },
        },
        workspace={"crm": {"username": "ada", "password": "pw-basic-000"}},
    )
    sent = api_server.requests_to("/me")[0].headers["authorization"]
    assert base64.b64decode(sent.split(" ", 1)[1]).decode() == "ada:pw-basic-000"


# ------------------------------------------------------------------------------ body types


def test_json_body_is_rendered_and_sent_as_json(api_server):
    api_server.route("POST", "/items", echo)
    run(
        {
            "method": "POST",
            "url": api_server.url("/items"),
            "bodyType": "json",
            "body": {"phone": "{{ input.phone }}", "n": "{{ input.n }}"},
        },
        input={"phone": "+1555", "n": 3},
    )
    seen = api_server.requests_to("/items")[0]
    assert seen.headers["content-type"] == "application/json" and seen.json() == {"phone": "+1555", "n": 3}


def test_form_body_is_url_encoded(api_server):
    api_server.route("POST", "/form", echo)
    run(
        {
            "method": "POST",
            "url": api_server.url("/form"),
            "bodyType": "form",
            "body": {"a": "1 2", "b": "{{ input.b }}"},
        },
        input={"b": "x&y"},
    )
    seen = api_server.requests_to("/form")[0]
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.body == b"a=1+2&b=x%26y"


def test_xml_body_is_sent_verbatim(api_server):
    api_server.route("POST", "/xml", echo)
    run(
        {"method": "POST", "url": api_server.url("/xml"), "bodyType": "xml", "body": "<a>{{ input.v }}</a>"},
        input={"v": "7"},
    )
    seen = api_server.requests_to("/xml")[0]
    assert seen.headers["content-type"] == "application/xml" and seen.body == b"<a>7</a>"


def test_raw_body_is_sent_as_text_and_a_content_type_header_wins(api_server):
    api_server.route("PUT", "/raw", echo)
    run(
        {
            "method": "PUT",
            "url": api_server.url("/raw"),
            "bodyType": "raw",
            "body": "hello",
            "headers": {"Content-Type": "text/csv"},
        }
    )
    seen = api_server.requests_to("/raw")[0]
    assert seen.headers["content-type"] == "text/csv" and seen.body == b"hello"


# --------------------------------------------------------------------------- chained steps


def test_three_step_chain_passes_data_between_steps(api_server):
    api_server.route("GET", "/users", (200, [{"id": 41, "email": "a@x"}, {"id": 42}]))
    api_server.route("GET", "/users/41", (200, {"user": {"id": 41, "team": "blue"}}))
    api_server.route("PATCH", "/users/41", echo)
    config = {
        "steps": [
            {"name": "find", "url": api_server.url("/users"), "queryParams": {"email": "{{ input.email }}"}},
            {"name": "details", "url": api_server.url("/users/{{ steps.find[0].id }}")},
            {
                "name": "update",
                "method": "PATCH",
                "url": api_server.url("/users/{{ steps.find[0].id }}"),
                "body": {"phone": "{{ input.phone }}", "team": "{{ steps.details.user.team }}"},
            },
        ]
    }
    outcome = run(config, input={"email": "a@x", "phone": "+1"})
    assert outcome.succeeded, outcome.error
    assert json.loads(outcome.output["body"]) == {"phone": "+1", "team": "blue"}  # the last step's output
    assert api_server.requests_to("/users")[0].query == {"email": ["a@x"]}
    assert [s["name"] for s in outcome.steps] == ["find", "details", "update"]
    assert all(
        s["attempts"] == 1 and s["error"] is None and s["response"]["status"] == 200 for s in outcome.steps
    )
    assert outcome.steps[2]["request"]["method"] == "PATCH"


def test_combine_outputs_returns_every_step_by_name(api_server):
    api_server.route("GET", "/a", (200, {"v": 1}))
    api_server.route("GET", "/b", (200, {"v": 2}))
    outcome = run(
        {
            "combine_outputs": True,
            "steps": [{"name": "a", "url": api_server.url("/a")}, {"name": "b", "url": api_server.url("/b")}],
        }
    )
    assert outcome.output == {"a": {"v": 1}, "b": {"v": 2}}


def test_a_failed_step_stops_the_chain(api_server):
    api_server.route("GET", "/a", (404, {"error": "nope"}))
    api_server.route("GET", "/b", (200, {}))
    outcome = run(
        {"steps": [{"name": "a", "url": api_server.url("/a")}, {"name": "b", "url": api_server.url("/b")}]}
    )
    assert outcome.error.category == "HTTP_ERROR" and "step 'a'" in outcome.error.message
    assert outcome.error.details["step"] == "a" and outcome.error.details["status"] == 404
    assert api_server.requests_to("/b") == [] and len(outcome.steps) == 1


def test_continue_on_error_records_the_error_and_runs_the_next_step(api_server):
    api_server.route("GET", "/a", (500, "boom"))
    api_server.route("POST", "/b", echo)
    config = {
        "retry": {"max_attempts": 1},
        "steps": [
            {"name": "a", "url": api_server.url("/a"), "continue_on_error": True},
            {
                "name": "b",
                "method": "POST",
                "url": api_server.url("/b"),
                "body": {"previous": "{{ steps.a.error.category }}"},
            },
        ],
    }
    outcome = run(config)
    assert outcome.succeeded
    assert outcome.steps[0]["error"]["category"] == "HTTP_ERROR"
    assert api_server.requests_to("/b")[0].json() == {"previous": "HTTP_ERROR"}


def test_connector_wide_continue_on_error_with_combined_outputs(api_server):
    api_server.route("GET", "/b", (200, {"ok": True}))
    config = {
        "continue_on_error": True,
        "combine_outputs": True,
        "steps": [
            {"name": "a", "url": "{{ input.missing }}"},
            {"name": "b", "url": api_server.url("/b")},
        ],
    }
    outcome = run(config)
    assert outcome.output["a"]["error"]["category"] == "TEMPLATE_ERROR" and outcome.output["b"] == {
        "ok": True
    }


# ------------------------------------------------------------------------ retries, timing


def test_retries_5xx_with_the_configured_spacing(api_server):
    api_server.route("GET", "/flaky", (502, "bad gateway"))
    outcome = run({"url": api_server.url("/flaky"), "retry": {"max_attempts": 3, "delays_ms": [200, 400]}})
    seen = api_server.requests_to("/flaky")
    assert len(seen) == 3 and outcome.steps[0]["attempts"] == 3
    assert outcome.error.category == "HTTP_ERROR" and outcome.error.details["status"] == 502
    first_gap, second_gap = seen[1].at - seen[0].at, seen[2].at - seen[1].at
    assert 0.15 <= first_gap < 2 and 0.3 <= second_gap < 2.5  # loose: spacing grows as configured


def test_a_retry_that_succeeds_returns_the_output(api_server):
    calls = []

    def flaky(seen):
        calls.append(seen)
        return (503, "down") if len(calls) == 1 else (200, {"ok": True})

    api_server.route("GET", "/flaky", flaky)
    outcome = run({"url": api_server.url("/flaky"), "retry": FAST_RETRY})
    assert outcome.output == {"ok": True} and outcome.steps[0]["attempts"] == 2


def test_429_honours_retry_after(api_server):
    calls = []

    def limited(seen):
        calls.append(seen)
        return (429, "slow down", {"Retry-After": "1"}) if len(calls) == 1 else (200, {"ok": 1})

    api_server.route("GET", "/limited", limited)
    outcome = run({"url": api_server.url("/limited"), "retry": {"max_attempts": 2, "delays_ms": [10]}})
    assert outcome.succeeded and len(calls) == 2
    assert calls[1].at - calls[0].at >= 0.9  # the server's Retry-After, not our 10 ms


def test_client_errors_are_not_retried(api_server):
    api_server.route("GET", "/missing", (404, {"error": "not found"}))
    outcome = run({"url": api_server.url("/missing"), "retry": FAST_RETRY})
    assert len(api_server.requests_to("/missing")) == 1 and outcome.error.category == "HTTP_ERROR"


def test_status_categories(api_server):
    for status, category in (
        (401, "AUTHENTICATION_ERROR"),
        (403, "AUTHENTICATION_ERROR"),
        (429, "RATE_LIMIT_ERROR"),
        (503, "SERVICE_UNAVAILABLE"),
        (418, "HTTP_ERROR"),
    ):
        api_server.route("GET", f"/s{status}", (status, "x"))
        outcome = run({"url": api_server.url(f"/s{status}"), "retry": {"max_attempts": 1}})
        assert outcome.error.category == category, status


def test_a_slow_step_times_out_per_step(api_server):
    api_server.route("GET", "/slow", lambda seen: (time.sleep(1.0), (200, {}))[1])
    started = time.monotonic()
    outcome = run({"url": api_server.url("/slow"), "timeout_ms": 200, "retry": {"max_attempts": 1}})
    assert outcome.error.category == "TIMEOUT_ERROR" and time.monotonic() - started < 0.9


def test_the_connector_timeout_applies_when_the_step_sets_none(api_server):
    api_server.route("GET", "/slow", lambda seen: (time.sleep(1.0), (200, {}))[1])
    outcome = run(
        {"url": api_server.url("/slow"), "retry": {"max_attempts": 1}},
        limits=ExecutionLimits(allow_private=True, step_timeout_ms=150),
    )
    assert outcome.error.category == "TIMEOUT_ERROR"


def test_the_overall_cap_stops_retrying(api_server):
    api_server.route("GET", "/down", (503, "down"))
    started = time.monotonic()
    outcome = run(
        {"url": api_server.url("/down"), "retry": {"max_attempts": 10, "delays_ms": [300]}},
        limits=ExecutionLimits(allow_private=True, overall_timeout_s=0.5),
    )
    assert outcome.error is not None and time.monotonic() - started < 1.5
    assert outcome.steps[0]["attempts"] < 10


# ------------------------------------------------------------------------ other categories


def test_connection_refused_is_a_connection_error():
    outcome = run({"url": "http://127.0.0.1:9/nothing", "retry": {"max_attempts": 1}})
    assert outcome.error.category == "CONNECTION_ERROR"


def test_private_addresses_are_refused_without_the_setting(api_server):
    api_server.route("GET", "/x", (200, {}))
    outcome = run({"url": api_server.url("/x")}, limits=ExecutionLimits(allow_private=False))
    assert outcome.error.category == "CONNECTION_ERROR" and api_server.requests_to("/x") == []


def test_invalid_json_is_a_parse_error(api_server):
    api_server.route("GET", "/bad", (200, "{not json", {"Content-Type": "application/json"}))
    outcome = run({"url": api_server.url("/bad")})
    assert outcome.error.category == "PARSE_ERROR"


def test_a_missing_input_field_is_a_template_error_naming_the_path(api_server):
    outcome = run({"url": api_server.url("/u/{{ input.user_id }}")})
    assert outcome.error.category == "TEMPLATE_ERROR" and "input.user_id" in outcome.error.message
    assert api_server.seen == []


def test_step_records_mask_secrets_everywhere(api_server):
    api_server.route("POST", "/echo", echo)
    secret = "sk-very-secret-4242"
    outcome = run(
        {
            "method": "POST",
            "url": api_server.url("/echo"),
            "auth": {"type": "bearer", "token": "{{ workspace.token }}"},
            "queryParams": {"sig": "{{ workspace.token }}"},
            "body": {"copy": "{{ workspace.token }}"},
        },
        workspace={"token": secret},
    )
    assert outcome.succeeded and secret in api_server.requests_to("/echo")[0].body.decode()
    stored = json.dumps({"output": outcome.output, "steps": outcome.steps})
    assert secret not in stored and "***" in stored
    assert outcome.steps[0]["request"]["headers"]["Authorization"].endswith("***")
