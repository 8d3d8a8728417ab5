"""A NUL character is refused at the door with a 400 JSON answer naming where it was, on
every database: PostgreSQL stores no NUL in text or jsonb, so a filter, a token, a webhook
query string or a JSON string holding one answered 500 there."""

import json

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def webhook(api) -> str:
    doc = {
        "schema": "switchyard.workflow/1",
        "name": "nul",
        "nodes": [{"id": "hook", "type": "trigger.webhook", "config": {"respond": "immediately"}}],
        "edges": [],
    }
    wid = api.post("/api/v1/workflows/", doc, format="json").json()["id"]
    url = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json").json()["triggers"][0]["url"]
    return url.split("testserver", 1)[1]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs/?q=%00",
        "/api/v1/runs/?trigger_type=a%00",
        "/api/v1/workflows/?status=%00",
        "/api/v1/contacts/?email=%00",
        "/api/v1/contacts/?q=a%00&tag=%00",
        "/hooks/%00abc",
        "/forms/a%00b",
    ],
)
def test_a_nul_in_the_url_is_a_json_400(api, path):
    res = api.get(path)
    assert res.status_code == 400, res.content
    assert res["Content-Type"].startswith("application/json")
    assert res.json()["error"]["details"] == {"url": ["The URL must not contain a NUL (%00) character."]}


def test_a_webhook_refuses_a_nul_in_its_query_json_form_or_text_body(api, client):
    path = webhook(api)
    assert client.post(path + "?a=%00", "{}", content_type="application/json").status_code == 400
    for body, ctype in [
        (json.dumps({"a": "x\u0000"}), "application/json"),
        (json.dumps({"a\u0000": 1}), "application/json"),
        ("a=%00", "application/x-www-form-urlencoded"),
        ("a\x00b", "text/plain"),
    ]:
        res = client.post(path, body, content_type=ctype)
        assert res.status_code == 400, (ctype, res.content)
        assert "NUL" in res.json()["error"]["message"], res.content
    assert client.post(path, json.dumps({"a": "fine"}), content_type="application/json").status_code == 202


def test_api_json_bodies_with_a_nul_are_a_parse_error(api, client):
    for path, body in [
        ("/api/v1/templates/preview/", {"template": "{{ x }}", "scope": {"x": "a\u0000"}}),
        ("/api/v1/credentials/", {"name": "c", "kind": "custom", "data": {"k": "a\u0000"}}),
    ]:
        res = api.post(path, body, format="json")
        assert res.status_code == 400, res.content
        assert res.json()["error"]["code"] == "PARSE_ERROR" and "NUL" in res.json()["error"]["message"]
    res = client.post(
        "/api/v1/callbacks/" + "a" * 32 + "/", '{"a": "\\u0000"}', content_type="application/json"
    )
    assert res.status_code == 400 and "NUL" in res.json()["error"]["message"]
