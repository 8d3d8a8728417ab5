"""JSON nested too deep (10,000 levels, or just past MAX_JSON_DEPTH) is a 400 PARSE_ERROR on the
API and on every HTTP intake (webhook, chat, payment), never a 500."""

import pytest

from tests.triggers.helpers import activate_ok, hook_path, trigger_workflow

pytestmark = pytest.mark.usefixtures("inline_queue")

DEEP = "[" * 10_000 + "]" * 10_000


def nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def assert_parse_error(res):
    assert res.status_code == 400, (res.status_code, res.content[:300])
    error = res.json()["error"]
    assert error["code"] == "PARSE_ERROR"
    assert "deep" in error["message"]


@pytest.mark.parametrize("body", [DEEP, nested(101)])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/workflows/", "/api/v1/contacts/", "/api/v1/credentials/", "/api/v1/connectors/"],
)
def test_api_refuses_json_nested_too_deep(api, path, body):
    assert_parse_error(api.generic("POST", path, body, content_type="application/json"))


def test_api_accepts_json_nested_to_the_limit(api, sample_document):
    sample_document["variables"] = {"deep": [[[[[[[[1]]]]]]]]}
    assert api.post("/api/v1/workflows/", sample_document, format="json").status_code == 201


@pytest.mark.parametrize("body", [DEEP, nested(101)])
def test_webhook_refuses_json_nested_too_deep(api, client, body):
    wid = trigger_workflow(api, {"id": "hook", "type": "trigger.webhook", "config": {}}, {"x": 1})
    path = hook_path(activate_ok(api, wid), "trigger.webhook")
    assert_parse_error(client.post(path, body, content_type="application/json"))


@pytest.mark.parametrize(
    ("trigger", "status"),
    [
        ({"id": "chat", "type": "trigger.chat", "config": {}}, 400),
        ({"id": "pay", "type": "trigger.payment", "config": {"secret": "s" * 32}}, 400),
    ],
)
def test_chat_and_payment_intake_refuse_deep_json(api, client, trigger, status):
    wid = trigger_workflow(api, trigger, {"x": 1})
    path = hook_path(activate_ok(api, wid), trigger["type"])
    headers = {}
    if trigger["type"] == "trigger.payment":
        import hashlib
        import hmac
        import time

        t = str(int(time.time()))
        sig = hmac.new(b"s" * 32, f"{t}.{DEEP}".encode(), hashlib.sha256).hexdigest()
        headers["HTTP_STRIPE_SIGNATURE"] = f"t={t},v1={sig}"
    res = client.post(path, DEEP, content_type="application/json", **headers)
    assert res.status_code == status, res.content[:300]
    assert "deep" in res.json()["error"]["message"]
