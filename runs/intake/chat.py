"""`POST /hooks/<token>` for `trigger.chat`: Telegram-compatible bot updates.

Point the bot's webhook at the trigger URL (`setWebhook url=… secret_token=…`). Telegram
resends any update not answered 2xx, so an update the trigger's filters leave out is
answered 200 `{"ignored": reason}` and starts nothing; a stored run answers 202
`{run_id}`. The secret header is compared in constant time; `update_id` makes redeliveries
return the first run."""

from __future__ import annotations

import hmac
import re
from typing import Any

from config import json_input

from . import handles
from .body import ignored, json_error, read_body
from .secret import secret_field
from .start import idempotency_key, start_live_run

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")
DEFAULT_KINDS = ("message", "channel_post")
# In precedence order: an animation also carries `document`, a venue also `location`.
MESSAGE_TYPES = (
    "text",
    "animation",
    "photo",
    "video",
    "video_note",
    "document",
    "audio",
    "voice",
    "sticker",
    "location",
    "contact",
    "poll",
)


def message_type(message: dict) -> str:
    return next((kind for kind in MESSAGE_TYPES if kind in message), "other")


def sender_of(message: dict) -> dict:
    """Who sent it: the user (`from`), or the channel for channel posts (`sender_chat`)."""
    who = message.get("from") or message.get("sender_chat") or {}
    name = " ".join(p for p in (who.get("first_name"), who.get("last_name")) if p) or who.get("title") or ""
    return {
        "id": who.get("id"),
        "username": who.get("username") or "",
        "name": name,
        "is_bot": bool(who.get("is_bot", False)),
    }


def chat_payload(update: dict, kind: str) -> dict:
    message = update[kind]
    text = message.get("text") or message.get("caption") or ""
    chat = message.get("chat") or {}
    return {
        "update_id": update["update_id"],
        "kind": kind,
        "message": {
            "message_id": message.get("message_id"),
            "text": text,
            "from": message.get("from"),
            "chat": chat,
            "date": message.get("date"),
        },
        "sender": sender_of(message),
        "text": text,
        "chat_id": chat.get("id"),
        "message_type": message_type(message),
    }


def _sender_matches(sender: dict, wanted: list) -> bool:
    user_id = str(sender["id"]) if sender["id"] is not None else None
    username = sender["username"].lower()
    for entry in wanted:
        entry = str(entry).strip()
        if re.fullmatch(r"-?\d+", entry):
            if entry == user_id:
                return True
        elif username and entry.lstrip("@").lower() == username:
            return True
    return False


def _has_keyword(text: str, keyword: str) -> bool:
    # Whole words or phrases, any case: "hi" does not match "this"; "/start" works.
    return re.search(rf"(?<!\w){re.escape(keyword.strip())}(?!\w)", text, re.IGNORECASE) is not None


def filter_reason(config: dict, payload: dict) -> str | None:
    """Why the trigger leaves this update out, or None when it should start a run."""
    if payload["kind"] not in (config.get("updates") or DEFAULT_KINDS):
        return f"{payload['kind']} updates are not selected"
    types = config.get("message_types")
    if types and payload["message_type"] not in types:
        return f"{payload['message_type']} messages are not selected"
    senders = config.get("senders")
    if senders and not _sender_matches(payload["sender"], senders):
        return "the sender is not in the trigger's senders"
    keywords = config.get("keywords")
    if keywords:
        found = [_has_keyword(payload["text"], k) for k in keywords]
        if not (all(found) if config.get("match") == "all" else any(found)):
            return "the text does not contain the trigger's keywords"
    return None


def _parse_update(raw: bytes) -> tuple[dict | None, str]:
    try:
        update: Any = json_input.loads(raw or b"null")
    except ValueError as exc:
        return None, f"The body is not valid JSON: {exc}"
    if not isinstance(update, dict):
        return None, "An update must be a JSON object."
    if isinstance(update.get("update_id"), bool) or not isinstance(update.get("update_id"), int):
        return None, "update_id must be an integer."
    return update, ""


@handles("trigger.chat")
def receive_chat_update(request, *, workflow, endpoint, node):
    raw = read_body(request)
    if not isinstance(raw, bytes):
        return raw
    config = node.get("config") or {}
    if config.get("secret_token"):
        expected = secret_field(workflow, node, "secret_token").encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            return json_error(401, "AUTHENTICATION_FAILED", f"The {SECRET_HEADER} header did not match.")
    update, problem = _parse_update(raw)
    if update is None:
        field = "update_id" if "update_id" in problem else "body"
        return json_error(400, "VALIDATION_ERROR", problem, {field: [problem]})
    kind = next((k for k in UPDATE_KINDS if isinstance(update.get(k), dict)), None)
    if kind is None:
        other = next((k for k in update if k != "update_id"), "empty")
        return ignored(f"{other} updates are not chat messages")
    payload = chat_payload(update, kind)
    reason = filter_reason(config, payload)
    if reason:
        return ignored(reason)
    return start_live_run(
        workflow=workflow,
        node=node,
        payload=payload,
        key=idempotency_key("chat", node["id"], update["update_id"]),
    )
