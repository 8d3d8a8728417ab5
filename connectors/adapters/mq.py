"""What the message-queue adapters share: the `mq.publish` / `mq.consume` operations (SPEC §5)
and how a message travels (strings as they are, anything else as JSON; read back as JSON
when it parses, else text)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import Operation

_DESTINATION = {
    "type": "string",
    "minLength": 1,
    "title": "Destination",
    "description": "Queue (AMQP), topic (MQTT), subject (NATS) or stream (Redis)",
}
OPERATIONS = (
    Operation(
        name="publish",
        node_type="mq.publish",
        label="Publish message",
        description="Send a message to a queue, topic, subject or stream; outputs {destination, message_id}.",
        config_schema={
            "required": ["destination"],
            "properties": {
                "destination": _DESTINATION,
                "message": {"title": "Message", "description": "Text, or any JSON (sent as JSON)"},
                "headers": {
                    "type": "object",
                    "title": "Headers",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
                "retain": {"type": "boolean", "default": False, "title": "Retain (MQTT)"},
            },
        },
        output_schema={
            "type": "object",
            "properties": {"destination": {"type": "string"}, "message_id": {"type": "string"}},
        },
        payload_key="message",
        icon="send",
    ),
    Operation(
        name="consume",
        node_type="mq.consume",
        label="Consume message",
        description="Wait for one message (up to timeout_s); outputs {destination, message, headers}.",
        config_schema={
            "required": ["destination"],
            "properties": {
                "destination": _DESTINATION,
                "timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 300,
                    "default": 10,
                    "title": "Wait at most (s)",
                },
                "group": {
                    "type": "string",
                    "title": "Consumer group (Redis streams)",
                    "default": "switchyard",
                },
            },
        },
        output_schema={
            "type": "object",
            "properties": {"destination": {"type": "string"}, "message": {}, "headers": {"type": "object"}},
        },
        icon="inbox",
    ),
)


@dataclass
class Delivery:
    """One received message, not yet acknowledged: `ack()` once it is safely stored;
    without it the broker delivers the message again (after a crash, say).

    `redelivered`: the broker says it delivered this message before (AMQP `redelivered`,
    MQTT DUP). `content_key`: a hash of what identifies the message when it has no id
    (destination, body and the sender's properties; never the delivery tag)."""

    destination: str
    message: Any
    headers: dict[str, Any]
    message_id: str
    ack: Callable[[], None]
    redelivered: bool = False
    content_key: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "message": self.message,
            "headers": self.headers,
            "message_id": self.message_id,
        }


def content_key(destination: str, body: bytes, properties: dict[str, Any]) -> str:
    """A stable hash of a message as its sender made it (the same on every redelivery)."""
    digest = hashlib.sha256()
    digest.update(destination.encode())
    digest.update(b"\0")
    digest.update(json.dumps(properties, sort_keys=True, default=str, separators=(",", ":")).encode())
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def new_message_id() -> str:
    return uuid.uuid4().hex


def encode(message: Any) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode()
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def decode(body: bytes | str | None) -> Any:
    if body is None:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    try:
        return json.loads(text)
    except ValueError:
        return text


def destination(params: dict[str, Any]) -> str:
    value = params.get("destination")
    if not isinstance(value, str) or not value:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "destination must be a non-empty string")
    return value


def headers(params: dict[str, Any]) -> dict[str, str]:
    raw = params.get("headers") or {}
    if not isinstance(raw, dict):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "headers must be an object")
    return {str(k): str(v) for k, v in raw.items()}


def consume_timeout(params: dict[str, Any], limit_s: float) -> float:
    raw = params.get("timeout_s", 10)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"timeout_s must be a number, got {raw!r}") from None
    if value <= 0:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "timeout_s must be positive")
    return min(value, limit_s)


def nothing_arrived(where: str, timeout_s: float) -> NodeError:
    return NodeError(
        ErrorCategory.TIMEOUT_ERROR,
        f"no message on {where!r} within {timeout_s:g} s",
        {"destination": where, "timeout_s": timeout_s},
    )
