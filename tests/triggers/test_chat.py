"""trigger.chat: Telegram-compatible bot updates at /hooks/<token>: filters, secret header, idempotency."""

import json

import pytest

from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, hook_path, trigger_workflow

pytestmark = pytest.mark.usefixtures("inline_queue")

SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"


def chat_workflow(api, config=None, settings=None):
    return trigger_workflow(
        api,
        {"id": "chat", "type": "trigger.chat", "config": config or {}},
        {"said": "{{ input.text }}", "who": "{{ input.sender.username }}"},
        settings=settings,
        name="bot",
    )


def activate(api, wid):
    return hook_path(activate_ok(api, wid), "trigger.chat")


def update(update_id=1, text="hello there", kind="message", user_id=42, username="ann", **extra):
    message = {
        "message_id": 7,
        "date": 1700000000,
        "chat": {"id": -100 - user_id, "type": "group"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Ann", "username": username},
        **extra,
    }
    if text is not None:
        message["text"] = text
    return {"update_id": update_id, kind: message}


def send(client, path, body, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, raw, content_type="application/json", **headers)


def test_a_message_starts_a_live_run_with_the_chat_payload(api, client):
    path = activate(api, chat_workflow(api))
    res = send(client, path, update())
    assert res.status_code == 202, res.content
    run = WorkflowRun.objects.get(pk=res.json()["run_id"])
    assert run.mode == "live" and run.trigger_type == "trigger.chat" and run.status == "completed"
    assert run.input == {
        "update_id": 1,
        "kind": "message",
        "text": "hello there",
        "chat_id": -142,
        "message_type": "text",
        "sender": {"id": 42, "username": "ann", "name": "Ann", "is_bot": False},
        "message": {
            "message_id": 7,
            "text": "hello there",
            "date": 1700000000,
            "chat": {"id": -142, "type": "group"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ann", "username": "ann"},
        },
    }
    assert run.output == {"said": "hello there", "who": "ann"}


def test_the_secret_token_header_must_match(api, client):
    path = activate(api, chat_workflow(api, {"secret_token": "bot-s3cret"}))
    missing = send(client, path, update())
    wrong = send(client, path, update(), **{SECRET_HEADER: "bot-s3cre"})
    assert missing.status_code == wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "AUTHENTICATION_FAILED"
    assert WorkflowRun.objects.count() == 0
    assert send(client, path, update(), **{SECRET_HEADER: "bot-s3cret"}).status_code == 202


def test_the_secret_token_can_be_a_workspace_credential(api, client):
    assert (
        api.post(
            "/api/v1/credentials/",
            {"name": "bot", "kind": "custom", "data": {"token": "from-vault"}},
            format="json",
        ).status_code
        == 201
    )
    path = activate(api, chat_workflow(api, {"secret_token": "{{ workspace.bot }}"}))
    assert send(client, path, update(), **{SECRET_HEADER: "{{ workspace.bot }}"}).status_code == 401
    assert send(client, path, update(), **{SECRET_HEADER: "from-vault"}).status_code == 202


def test_senders_filter_by_id_or_username_and_others_are_ignored_with_200(api, client):
    path = activate(api, chat_workflow(api, {"senders": [7, "@Boss"]}))
    ignored = send(client, path, update(1, user_id=42, username="ann"))
    assert ignored.status_code == 200 and ignored.json() == {
        "ignored": "the sender is not in the trigger's senders"
    }
    assert send(client, path, update(2, user_id=7, username="x")).status_code == 202
    assert send(client, path, update(3, user_id=99, username="boss")).status_code == 202
    assert WorkflowRun.objects.count() == 2


@pytest.mark.parametrize(
    ("match", "text", "runs"),
    [
        ("any", "Please send the INVOICE", True),
        ("any", "invoices are words too", False),  # whole words only
        ("all", "refund for order 12", True),
        ("all", "refund please", False),
    ],
)
def test_keywords_match_whole_words_in_any_case(api, client, match, text, runs):
    keywords = ["invoice", "refund"] if match == "any" else ["refund", "order"]
    path = activate(api, chat_workflow(api, {"keywords": keywords, "match": match}))
    res = send(client, path, update(text=text))
    assert res.status_code == (202 if runs else 200)
    assert WorkflowRun.objects.count() == (1 if runs else 0)


def test_message_types_and_captions(api, client):
    path = activate(api, chat_workflow(api, {"message_types": ["photo"], "keywords": ["receipt"]}))
    assert send(client, path, update(1, text="receipt")).json() == {
        "ignored": "text messages are not selected"
    }
    photo = update(2, text=None, photo=[{"file_id": "abc", "width": 90, "height": 90}], caption="my receipt")
    res = send(client, path, photo)
    assert res.status_code == 202
    run = WorkflowRun.objects.get(pk=res.json()["run_id"])
    assert run.input["message_type"] == "photo" and run.input["text"] == "my receipt"


def test_edits_and_non_message_updates_are_ignored_unless_selected(api, client):
    path = activate(api, chat_workflow(api))
    assert send(client, path, update(1, kind="edited_message")).json() == {
        "ignored": "edited_message updates are not selected"
    }
    assert send(client, path, {"update_id": 2, "callback_query": {"id": "1"}}).json() == {
        "ignored": "callback_query updates are not chat messages"
    }
    assert WorkflowRun.objects.count() == 0
    path = activate(api, chat_workflow(api, {"updates": ["edited_message"]}))
    assert send(client, path, update(3, kind="edited_message")).status_code == 202


def test_a_redelivered_update_returns_the_first_run(api, client):
    path = activate(api, chat_workflow(api))
    first = send(client, path, update(55))
    again = send(client, path, update(55, text="changed"))
    assert first.json()["run_id"] == again.json()["run_id"]
    assert WorkflowRun.objects.count() == 1


def test_malformed_updates_are_400_naming_the_problem(api, client):
    path = activate(api, chat_workflow(api))
    bad_json = send(client, path, b"{not json")
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "VALIDATION_ERROR"
    no_id = send(client, path, {"message": {"text": "hi"}})
    assert no_id.status_code == 400 and no_id.json()["error"]["details"] == {
        "update_id": ["update_id must be an integer."]
    }
    assert send(client, path, [1, 2]).status_code == 400
    assert client.get(path).status_code == 405
    assert WorkflowRun.objects.count() == 0


def test_only_an_active_workflow_takes_updates(api, client):
    wid = chat_workflow(api)
    path = activate(api, wid)
    api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json")
    res = send(client, path, update())
    assert res.status_code == 404 and res.json()["error"]["code"] == "NOT_FOUND"
    assert WorkflowRun.objects.count() == 0


def test_daily_limit_answers_429(api, client):
    path = activate(api, chat_workflow(api, settings={"max_runs_per_day": 1}))
    assert send(client, path, update(1)).status_code == 202
    res = send(client, path, update(2))
    assert res.status_code == 429 and res.json()["error"]["code"] == "RATE_LIMITED"


def test_bad_chat_config_is_rejected_on_save(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "nodes": [
            {
                "id": "chat",
                "type": "trigger.chat",
                "config": {"match": "most", "keywords": ["a", "A"], "colour": 1},
            }
        ],
        "edges": [],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400
    assert {e["field"] for e in res.json()["error"]["details"]["errors"]} == {"config.match", "config.colour"}
    doc["nodes"][0]["config"] = {"keywords": ["a", "A"]}
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400 and res.json()["error"]["details"]["errors"] == [
        {"node": "chat", "edge": None, "field": "config.keywords.1", "message": "'A' is listed twice"}
    ]
