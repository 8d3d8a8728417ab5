"""A callback body nested too deep is a 400 naming the body, never a 500 (Python's JSON
parser recurses)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("deep", ["[" * 10000 + "]" * 10000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_a_callback_body_nested_too_deep_is_a_json_400(client, deep):
    res = client.post("/api/v1/callbacks/" + "a" * 32 + "/", deep, content_type="application/json")
    assert res.status_code == 400, res.content
    error = res.json()["error"]
    assert error["code"] == "PARSE_ERROR" and "nested deeper" in error["message"]
    assert "callback body" in error["message"]


def test_a_callback_body_that_is_not_json_is_still_taken_as_text(client):
    res = client.post("/api/v1/callbacks/" + "a" * 32 + "/", "[[not json", content_type="application/json")
    assert res.status_code == 404  # parsed as text, then the unknown token
