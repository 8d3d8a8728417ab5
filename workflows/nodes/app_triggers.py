"""App-event trigger node types: email, chat, payment, contact.

Each starts a live run from an event another system delivers: a mail to the trigger's own
address (`manage.py inbound_smtp`), a Telegram-compatible bot update or a Stripe-compatible
signed event at `/hooks/<token>` (runs.intake.chat, runs.intake.payment), or a workspace Contact being
created or updated (runs.intake.contact). The host applies the filters configured
here, builds the payload described by `output_schema` and starts the run; the executors
only pass that payload on, like every trigger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..engine.registry import NodeContext, NodeResult, TriggerSpec, node_type
from .triggers import pass_payload

_TEXT = {"type": "string", "minLength": 1}
_TEXT_LIST = {"type": "array", "items": _TEXT, "uniqueItems": True}
_OBJECT = {"type": "object"}
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^@[^@\s]+\.[^@\s]+$")


def _duplicates(values: Iterable[str], field: str) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        key = value.strip().lower()
        if key in seen:
            yield (f"{field}.{i}", f"{value!r} is listed twice")
        seen.add(key)


# -- email -------------------------------------------------------------------------------


def validate_email(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    entries = config.get("from_filter") or []
    for i, entry in enumerate(entries):
        if not (_ADDRESS.match(entry.strip()) or _DOMAIN.match(entry.strip())):
            yield (
                f"from_filter.{i}",
                f"{entry!r} is neither an address (name@example.com) nor a domain (@example.com)",
            )
    yield from _duplicates(entries, "from_filter")


EMAIL_ADDRESS_LIST = {"type": "array", "items": {"type": "string"}}


@node_type(
    "trigger.email",
    inline=True,  # pure: computed on the advancing thread
    label="Email received",
    category="trigger",
    is_trigger=True,
    icon="mail",
    trigger=TriggerSpec(endpoint="email", label="Email", token="hex"),
    description="Start the workflow when a mail reaches the trigger's own address "
    "(shown once the workflow is active; forward mail to it).",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "from_filter": {
                **_TEXT_LIST,
                "title": "Only mail from these addresses or @domains",
                "examples": [["billing@example.com", "@example.org"]],
            },
            "subject_contains": {
                "type": "string",
                "minLength": 1,
                "title": "Only mail whose subject contains this (any case)",
            },
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "from": {"type": "string", "description": "sender address (From header)"},
            "from_name": {"type": "string"},
            "to": EMAIL_ADDRESS_LIST,
            "cc": EMAIL_ADDRESS_LIST,
            "reply_to": EMAIL_ADDRESS_LIST,
            "recipient": {"type": "string", "description": "the trigger address the mail was delivered to"},
            "envelope_from": {"type": "string", "description": "the SMTP MAIL FROM address"},
            "subject": {"type": "string"},
            "date": {"type": ["string", "null"], "format": "date-time"},
            "message_id": {"type": "string"},
            "text": {"type": "string", "description": "the plain-text body ('' if none)"},
            "html": {"type": "string", "description": "the HTML body ('' if none)"},
            "attachments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "filename": {"type": ["string", "null"]},
                        "content_type": {"type": "string"},
                        "size": {
                            "type": "integer",
                            "description": "decoded size in bytes (the bytes are not kept)",
                        },
                    },
                },
            },
        },
    },
    validate_config=validate_email,
)
def email_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)


# -- chat --------------------------------------------------------------------------------

CHAT_MESSAGE_TYPES = [
    "text",
    "photo",
    "video",
    "document",
    "audio",
    "voice",
    "sticker",
    "animation",
    "video_note",
    "location",
    "contact",
    "poll",
    "other",
]
CHAT_UPDATE_KINDS = ["message", "edited_message", "channel_post", "edited_channel_post"]


def validate_chat(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield from _duplicates(config.get("keywords") or [], "keywords")
    yield from _duplicates([str(s) for s in config.get("senders") or []], "senders")


@node_type(
    "trigger.chat",
    inline=True,  # pure: computed on the advancing thread
    label="Chat message",
    category="trigger",
    is_trigger=True,
    icon="message",
    trigger=TriggerSpec(endpoint="hook", label="Chat", secret_fields=("secret_token",)),
    description="Start the workflow when a chat bot receives a message (Telegram-compatible "
    "webhook: set the bot's webhook to the trigger URL).",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "secret_token": {
                "type": "string",
                "minLength": 1,
                "maxLength": 256,
                "title": "Expected X-Telegram-Bot-Api-Secret-Token header "
                "(the secret_token given to setWebhook)",
            },
            "senders": {
                "type": "array",
                "uniqueItems": True,
                "items": {"oneOf": [{"type": "integer"}, _TEXT]},
                "title": "Only messages from these user ids or @usernames",
            },
            "keywords": {**_TEXT_LIST, "title": "Only messages containing these words (any case)"},
            "match": {
                "enum": ["any", "all"],
                "default": "any",
                "title": "Whether any or all keywords must appear",
            },
            "message_types": {
                "type": "array",
                "uniqueItems": True,
                "items": {"enum": CHAT_MESSAGE_TYPES},
                "title": "Only these kinds of message",
            },
            "updates": {
                "type": "array",
                "uniqueItems": True,
                "minItems": 1,
                "items": {"enum": CHAT_UPDATE_KINDS},
                "default": ["message", "channel_post"],
                "title": "Which updates start runs (edits are left out unless listed)",
            },
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "update_id": {"type": "integer"},
            "kind": {"enum": CHAT_UPDATE_KINDS},
            "message": {"type": "object", "description": "{message_id, text, from, chat, date} as sent"},
            "sender": {"type": "object", "description": "{id, username, name, is_bot} of who sent it"},
            "text": {"type": "string", "description": "the text, or a media caption ('' if none)"},
            "chat_id": {"type": ["integer", "string"]},
            "message_type": {"enum": CHAT_MESSAGE_TYPES},
        },
    },
    validate_config=validate_chat,
)
def chat_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)


# -- payment -----------------------------------------------------------------------------

_EVENT_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$|^\*$")


def validate_payment(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for i, event in enumerate(config.get("events") or []):
        if not _EVENT_PATTERN.match(event):
            yield (
                f"events.{i}",
                f"{event!r} is not an event type such as payment_intent.succeeded "
                "(a trailing .* matches a family, e.g. charge.*)",
            )
    low, high = config.get("min_amount"), config.get("max_amount")
    if low is not None and high is not None and low > high:
        yield ("max_amount", f"max_amount ({high}) is below min_amount ({low})")


@node_type(
    "trigger.payment",
    inline=True,  # pure: computed on the advancing thread
    label="Payment event",
    category="trigger",
    is_trigger=True,
    icon="credit-card",
    trigger=TriggerSpec(endpoint="hook", label="Payment", secret_fields=("secret",)),
    description="Start the workflow when a payment provider sends a signed event "
    "(Stripe-compatible: point the provider's webhook endpoint at the trigger URL).",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["secret"],
        "properties": {
            "secret": {
                "type": "string",
                "minLength": 1,
                "title": "Signing secret (whsec_…) or {{ workspace.<credential> }}",
            },
            "tolerance_s": {
                "type": "integer",
                "minimum": 1,
                "maximum": 86400,
                "default": 300,
                "title": "Largest accepted age of the signature timestamp, in seconds",
            },
            "events": {
                **_TEXT_LIST,
                "title": "Only these event types (charge.* matches a family)",
                "examples": [["payment_intent.succeeded", "charge.succeeded"]],
            },
            "currency": {
                "oneOf": [
                    {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                    {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[A-Za-z]{3}$"}},
                ],
                "title": "Only these ISO currency codes",
            },
            "min_amount": {
                "type": "integer",
                "minimum": 0,
                "title": "Smallest amount, in the currency's minor unit (cents)",
            },
            "max_amount": {
                "type": "integer",
                "minimum": 0,
                "title": "Largest amount, in the currency's minor unit (cents)",
            },
            "status": {**_TEXT_LIST, "title": "Only objects in these statuses (e.g. succeeded, paid)"},
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the event id (evt_…)"},
            "type": {"type": "string"},
            "created": {"type": ["integer", "null"]},
            "livemode": {"type": "boolean"},
            "amount": {"type": ["integer", "null"], "description": "minor units (cents)"},
            "currency": {"type": ["string", "null"], "description": "lowercase ISO code"},
            "status": {"type": ["string", "null"]},
            "object": {"type": "object", "description": "the event's data.object as sent"},
        },
    },
    validate_config=validate_payment,
)
def payment_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)


# -- contact -----------------------------------------------------------------------------

CONTACT_FIELDS = ["name", "email", "phone", "tags", "data"]
_CONTACT_FIELD = re.compile(r"^(name|email|phone|tags|data)$|^data\.[^.\s]+$")


def validate_contact(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for i, field in enumerate(config.get("fields") or []):
        if not _CONTACT_FIELD.match(field):
            yield (
                f"fields.{i}",
                f"{field!r} is not a contact field ({', '.join(CONTACT_FIELDS)} or data.<key>)",
            )
    if config.get("fields") and "updated" not in config.get("events", ["created", "updated"]):
        yield ("fields", "fields filters updates; add 'updated' to events")


@node_type(
    "trigger.contact",
    inline=True,  # pure: computed on the advancing thread
    label="Contact created or updated",
    category="trigger",
    is_trigger=True,
    icon="user",
    trigger=TriggerSpec(endpoint="event", label="Contact"),
    description="Start the workflow when a contact of this workspace is created or updated.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": ["created", "updated"]},
                "default": ["created", "updated"],
            },
            "tags": {**_TEXT_LIST, "title": "Only contacts carrying any of these tags"},
            "fields": {
                **_TEXT_LIST,
                "title": "Updates only: one of these fields must have changed "
                "(name, email, phone, tags, data or data.<key>)",
            },
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "event": {"enum": ["created", "updated"]},
            "contact": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "workspace": {"type": "string"},
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "phone": {"type": "string"},
                    "tags": {"type": "array"},
                    "data": _OBJECT,
                    "created_at": {"type": "string"},
                    "updated_at": {"type": "string"},
                },
            },
            "changed": {
                "type": "array",
                "items": {"type": "string"},
                "description": "changed fields (data keys as data.<key>); on create, the fields set",
            },
            "previous": {
                "type": "object",
                "description": "{field: old value} for each changed field (empty on create)",
            },
        },
    },
    validate_config=validate_contact,
)
def contact_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)
