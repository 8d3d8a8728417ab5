"""The builder's live preview of a template against sample data (last run's outputs)."""

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/templates/preview"


def test_a_template_renders_against_the_given_scope(api):
    scope = {"input": {"amount": 150}, "nodes": {"fetch": {"body": {"name": "Ada"}}}}
    res = api.post(URL, {"template": "Hi {{ nodes.fetch.body.name | upper }}", "scope": scope}, format="json")
    assert res.status_code == 200
    assert res.json() == {"ok": True, "value": "Hi ADA", "error": None}
    native = api.post(URL, {"template": "{{ input.amount * 2 }}", "scope": scope}, format="json").json()
    assert native["value"] == 300


def test_a_failing_template_answers_its_error_not_a_500(api):
    res = api.post(URL, {"template": "{{ input.missing.deep }}", "scope": {"input": {}}}, format="json")
    body = res.json()
    assert res.status_code == 200 and body["ok"] is False
    assert body["error"]["category"] == "TEMPLATE_ERROR" and "missing" in body["error"]["message"]
    syntax = api.post(URL, {"template": "{{ input. }}", "scope": {}}, format="json").json()
    assert syntax["ok"] is False and syntax["error"]["category"] == "TEMPLATE_ERROR"


@pytest.mark.parametrize(
    "payload, field", [({"template": 3}, "template"), ({"template": "x", "scope": []}, "scope")]
)
def test_bad_input_is_a_400_naming_the_field(api, payload, field):
    res = api.post(URL, payload, format="json")
    assert res.status_code == 400 and field in res.json()["error"]["details"]


def test_preview_needs_a_login(client):
    assert client.post(URL, {"template": "x"}, content_type="application/json").status_code in (401, 403)
