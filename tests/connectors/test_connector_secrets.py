"""Secrets typed into a connector's config (auth token, credential-named headers and query
parameters): sent as typed, sealed at rest, `***` in the API and the editor, kept when
`***` comes back."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection

from .factories import echo

pytestmark = pytest.mark.usefixtures("private_outbound")

TOKEN = "conn-Literal-Token-6060"
KEY = "conn-Literal-Key-7070"
QUERY = "conn-Literal-Query-8080"


def stored_text() -> str:
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            texts.append(json.dumps(cursor.fetchall(), default=str))
    return "\n".join(texts)


def test_typed_connector_secrets_are_sent_but_never_shown_or_stored(api, api_server, client, alice):
    api_server.route("GET", "/echo", echo)
    config = {
        "method": "GET",
        "url": api_server.url("/echo"),
        "auth": {"type": "bearer", "token": TOKEN},
        "headers": {"X-Api-Key": KEY, "Accept": "application/json"},
        "queryParams": {"api_key": QUERY, "page": "1"},
    }
    res = api.post("/api/v1/connectors/", {"name": "typed", "config": config}, format="json")
    assert res.status_code == 201, res.content
    cid = res.json()["id"]
    shown = api.get(f"/api/v1/connectors/{cid}").json()["config"]
    assert shown["auth"]["token"] == "***" and shown["headers"]["X-Api-Key"] == "***"
    assert shown["queryParams"] == {"api_key": "***", "page": "1"}

    res = api.post(f"/api/v1/connectors/{cid}/execute?wait=true", {"input": {}}, format="json")
    assert res.json()["status"] == "completed", res.content
    seen = api_server.requests_to("/echo")[0]
    assert seen.headers["authorization"] == f"Bearer {TOKEN}" and seen.headers["x-api-key"] == KEY

    # sent back as shown: kept
    res = api.put(f"/api/v1/connectors/{cid}/", {"name": "typed", "config": shown}, format="json")
    assert res.status_code == 200, res.content
    api.post(f"/api/v1/connectors/{cid}/execute?wait=true", {"input": {}}, format="json")
    assert api_server.requests_to("/echo")[1].headers["authorization"] == f"Bearer {TOKEN}"

    client.force_login(alice)
    page = client.get(f"/connectors/{cid}/").content.decode()
    everything = stored_text() + page + res.content.decode()
    everything += api.get(f"/api/v1/connectors/{cid}/executions").content.decode()
    for secret in (TOKEN, KEY, QUERY):
        assert secret not in everything


def test_a_copied_connector_whose_secret_was_masked_does_not_send_it(api, api_server):
    api_server.route("GET", "/echo", echo)
    config = {"method": "GET", "url": api_server.url("/echo"), "auth": {"type": "bearer", "token": "***"}}
    cid = api.post("/api/v1/connectors/", {"name": "copy", "config": config}, format="json").json()["id"]
    res = api.post(f"/api/v1/connectors/{cid}/execute?wait=true", {"input": {}}, format="json")
    execution = res.json()
    assert execution["status"] == "failed", execution
    assert (
        execution["error"]["category"] == "VALIDATION_ERROR" and "auth.token" in execution["error"]["message"]
    )
    assert api_server.requests_to("/echo") == []


URL_PASSWORD = "conn-Url-Pass-9090"
LISTED = ["conn-Listed-Key-1212", "conn-Listed-Key-3434"]
IN_URL = "conn-In-Url-Token-5656"


def test_secrets_written_into_a_step_url_and_a_listed_secret_query_value_are_sent_but_never_shown_or_stored(
    api, api_server, client, alice
):
    api_server.route("GET", "/echo", echo)
    url = api_server.url("/echo")
    step = {
        "name": "call",
        "method": "GET",
        "url": url.replace("://", f"://svc:{URL_PASSWORD}@", 1) + f"?access_token={IN_URL}",
        "queryParams": {"api_key": LISTED, "page": "1"},
    }
    res = api.post("/api/v1/connectors/", {"name": "typed", "config": {"steps": [step]}}, format="json")
    assert res.status_code == 201, res.content
    cid = res.json()["id"]
    shown = api.get(f"/api/v1/connectors/{cid}").json()["config"]
    assert shown["steps"][0]["url"] == url.replace("://", "://svc:***@", 1) + "?access_token=***"
    assert shown["steps"][0]["queryParams"] == {"api_key": ["***", "***"], "page": "1"}

    basic = "Basic " + base64.b64encode(f"svc:{URL_PASSWORD}".encode()).decode()
    res = api.post(f"/api/v1/connectors/{cid}/execute?wait=true", {"input": {}}, format="json")
    assert res.json()["status"] == "completed", res.content
    seen = api_server.requests_to("/echo")[0]
    assert seen.headers["authorization"] == basic and seen.query["api_key"] == LISTED
    assert seen.query["access_token"] == [IN_URL]

    # sent back as shown: kept
    res = api.put(f"/api/v1/connectors/{cid}/", {"name": "typed", "config": shown}, format="json")
    assert res.status_code == 200, res.content
    again = api.post(f"/api/v1/connectors/{cid}/execute?wait=true", {"input": {}}, format="json")
    seen = api_server.requests_to("/echo")[1]
    assert seen.headers["authorization"] == basic and seen.query["api_key"] == LISTED
    assert seen.query["access_token"] == [IN_URL]

    client.force_login(alice)
    page = client.get(f"/connectors/{cid}/").content.decode()
    everything = stored_text() + page + res.content.decode() + again.content.decode()
    everything += api.get(f"/api/v1/connectors/{cid}/executions").content.decode()
    for secret in (URL_PASSWORD, *LISTED, IN_URL, basic.split()[1]):
        assert secret not in everything
