"""Secrets typed into an HTTP request's config (auth token, credential-named headers and
query parameters): sealed at rest, `***` in every answer, sent as typed, kept when `***`
comes back."""

import base64
import json

import pytest
from django.db import connection

pytestmark = pytest.mark.usefixtures("inline_queue")

TOKEN = "literal-Bearer-Token-5150"
KEY = "literal-Header-Key-2112"
QUERY = "literal-Query-Key-1984"


def document(url, **http):
    config = {
        "url": url,
        "auth": {"type": "bearer", "token": TOKEN},
        "headers": {"X-Api-Key": KEY, "Accept": "application/json"},
        "query": {"api_key": QUERY, "page": "1"},
        **http,
    }
    return {
        "schema": "switchyard.workflow/1",
        "name": "literal",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "call", "type": "http.request", "config": config},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }


def stored_text() -> str:
    with connection.cursor() as cursor:
        texts = []
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            texts.append(json.dumps(cursor.fetchall(), default=str))
    return "\n".join(texts)


def run(api, wid):
    res = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}, "wait": True}, format="json")
    assert res.status_code == 200, res.content
    return res


def test_literal_http_secrets_are_sent_but_never_shown_or_stored(api, echo_server):
    res = api.post("/api/v1/workflows/", document(echo_server.url("/echo")), format="json")
    assert res.status_code == 201, res.content
    wid = res.json()["id"]
    config = api.get(f"/api/v1/workflows/{wid}").json()["nodes"][1]["config"]
    assert config["auth"]["token"] == "***" and config["headers"] == {
        "X-Api-Key": "***",
        "Accept": "application/json",
    }
    assert config["query"] == {"api_key": "***", "page": "1"}

    answer = run(api, wid)
    assert answer.json()["status"] == "completed", answer.content
    seen = echo_server.requests_to("/echo")[0]
    assert seen.headers["authorization"] == f"Bearer {TOKEN}" and seen.headers["x-api-key"] == KEY
    assert seen.query["api_key"] in (QUERY, [QUERY])

    # sent back as shown: the same secrets are kept
    shown = api.get(f"/api/v1/workflows/{wid}/export").json()
    assert api.put(f"/api/v1/workflows/{wid}", shown, format="json").json()["version"] == 1
    run(api, wid)
    assert echo_server.requests_to("/echo")[1].headers["authorization"] == f"Bearer {TOKEN}"

    everything = stored_text() + answer.content.decode()
    everything += api.get(f"/api/v1/workflows/{wid}/versions/1").content.decode()
    for secret in (TOKEN, KEY, QUERY):
        assert secret not in everything


def test_a_node_tested_alone_with_the_editor_copy_uses_the_stored_secret(api, echo_server):
    wid = api.post("/api/v1/workflows/", document(echo_server.url("/echo")), format="json").json()["id"]
    node = api.get(f"/api/v1/workflows/{wid}").json()["nodes"][1]  # as the editor has it: ***
    res = api.post(f"/api/v1/workflows/{wid}/nodes/call/test", {"input": {}, "node": node}, format="json")
    assert res.status_code == 200, res.content
    assert echo_server.requests_to("/echo")[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_copy_whose_typed_secret_was_masked_does_not_run_until_it_is_typed_again(api, echo_server):
    """Duplicated or imported from an export: the HTTP node's token is `***` with nothing
    stored to keep. A run would send `***` as the credential; it is refused naming the field."""
    doc = document(echo_server.url("/echo"), auth={"type": "bearer", "token": "***"})
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    res = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {}, "wait": True}, format="json")
    assert res.status_code == 400, res.content
    assert "nodes.call.config.auth.token" in res.json()["error"]["details"]
    assert echo_server.requests_to("/echo") == []
    assert (
        api.put(f"/api/v1/workflows/{wid}", document(echo_server.url("/echo")), format="json").status_code
        == 200
    )
    assert run(api, wid).json()["status"] == "completed"


URL_PASSWORD = "url-Pass%40word-4711"  # percent-encoded `@`: sent as `url-Pass@word-4711`
LISTED = ["listed-Query-Key-1111", "listed-Query-Key-2222"]
IN_URL = ["in-Url-Token-3333", "in-Url-Token-4444"]  # `?access_token=...` written into the URL


def with_userinfo(url: str, password: str = URL_PASSWORD) -> str:
    return url.replace("://", f"://svc:{password}@", 1)


def test_a_url_password_and_a_listed_secret_query_value_are_sent_but_never_shown_or_stored(
    api, echo_server, client, alice
):
    url = echo_server.url("/echo")
    doc = document(with_userinfo(url), auth={"type": "none"}, query={"api_key": LISTED, "page": "1"})
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    wid = res.json()["id"]
    for path in ("", "/export", "/versions/1", "/draft"):
        answer = api.get(f"/api/v1/workflows/{wid}{path}").json()
        nodes = (answer.get("document") or answer)["nodes"]
        config = next(n for n in nodes if n["id"] == "call")["config"]
        assert config["url"] == with_userinfo(url, "***"), path
        assert config["query"] == {"api_key": ["***", "***"], "page": "1"}, path

    answer = run(api, wid)
    assert answer.json()["status"] == "completed", answer.content
    seen = echo_server.requests_to("/echo")[0]
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"svc:url-Pass@word-4711").decode()
    assert seen.query["api_key"] == LISTED

    # sent back as shown: the same secrets are kept, no new version
    shown = api.get(f"/api/v1/workflows/{wid}/export").json()
    assert api.put(f"/api/v1/workflows/{wid}", shown, format="json").json()["version"] == 1
    draft = api.get(f"/api/v1/workflows/{wid}/draft").json()["document"]
    assert api.put(f"/api/v1/workflows/{wid}/draft", {"document": draft}, format="json").status_code == 200
    run(api, wid)
    again = echo_server.requests_to("/echo")[1]
    assert again.headers["authorization"] == seen.headers["authorization"]
    assert again.query["api_key"] == LISTED

    client.force_login(alice)
    everything = stored_text() + answer.content.decode() + client.get(f"/workflows/{wid}/").content.decode()
    for path in ("", "/export", "/versions", "/versions/1", "/draft", "/runs"):
        everything += api.get(f"/api/v1/workflows/{wid}{path}").content.decode()
    for run_id in api.get(f"/api/v1/workflows/{wid}/runs").json()["results"]:
        everything += api.get(f"/api/v1/runs/{run_id['id']}").content.decode()
        everything += api.get(f"/api/v1/runs/{run_id['id']}/logs").content.decode()
    for secret in (URL_PASSWORD, "url-Pass@word-4711", *LISTED):
        assert secret not in everything


def test_a_url_password_is_kept_out_of_the_error_of_a_request_that_quotes_the_url(api):
    """requests refuses `http://svc:<password>@/x` with an error quoting the whole URL."""
    doc = document(with_userinfo("http:///echo"), auth={"type": "none"})
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    answer = run(api, wid)
    call = next(n for n in answer.json()["nodes"] if n["node_id"] == "call")
    assert call["status"] == "failed" and "svc:***@" in json.dumps(call), call
    everything = stored_text() + answer.content.decode()
    everything += api.get(f"/api/v1/runs/{answer.json()['id']}/logs").content.decode()
    for secret in (URL_PASSWORD, "url-Pass@word-4711"):
        assert secret not in everything


def test_secret_query_parameters_written_into_the_url_are_sent_but_never_shown_or_stored(api, echo_server):
    url = echo_server.url("/echo")
    written = f"{url}?access_token={IN_URL[0]}&page=2&access_token={IN_URL[1]}"
    doc = document(written, auth={"type": "none"}, query={})
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    shown = f"{url}?access_token=***&page=2&access_token=***"
    for path in ("", "/export", "/versions/1", "/draft"):
        answer = api.get(f"/api/v1/workflows/{wid}{path}").json()
        nodes = (answer.get("document") or answer)["nodes"]
        assert next(n for n in nodes if n["id"] == "call")["config"]["url"] == shown, path

    answer = run(api, wid)
    assert answer.json()["status"] == "completed", answer.content
    assert echo_server.requests_to("/echo")[0].query == {"access_token": IN_URL, "page": ["2"]}
    export = api.get(f"/api/v1/workflows/{wid}/export").json()
    assert api.put(f"/api/v1/workflows/{wid}", export, format="json").json()["version"] == 1
    run(api, wid)
    assert echo_server.requests_to("/echo")[1].query == {"access_token": IN_URL, "page": ["2"]}

    everything = stored_text() + answer.content.decode()
    everything += api.get(f"/api/v1/runs/{answer.json()['id']}/logs").content.decode()
    for secret in IN_URL:
        assert secret not in everything
