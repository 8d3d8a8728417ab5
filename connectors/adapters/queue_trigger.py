"""`trigger.queue`: a run per message from a queue, stream or JetStream subject.

The node itself only passes the payload on, like every trigger; the listener
(`runs.intake.queue`, started by `serve`) consumes messages for each active workflow
with such a trigger, stores a run per message and acknowledges the message only after the
run is stored, so a listener that dies loses nothing (the broker delivers it again, and the
message id — or, without one, its content key and the broker's redelivered flag — keeps a
redelivered message from starting a second run). MQTT consumers hold a persistent session
at QoS 1 with manual acknowledgement: messages published while the workflow is active but
its consumer is down are kept by the broker for that session.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workflows.engine.registry import NodeContext, NodeResult, TriggerSpec, node_type

# Schemes whose adapters can hold a message unacknowledged until the run is stored.
RECEIVING_SCHEMES = ("amqp", "amqps", "redis", "rediss", "nats", "tls", "mqtt", "mqtts")

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["credential", "destination"],
    "properties": {
        "credential": {
            "type": "string",
            "minLength": 1,
            "title": "Connection",
            "description": "A workspace credential: data.url amqp://, mqtt://, redis:// or nats://",
        },
        "destination": {
            "type": "string",
            "minLength": 1,
            "title": "Queue, topic, stream or subject",
        },
        "group": {
            "type": "string",
            "title": "Consumer group (Redis) / durable consumer (NATS) / session (MQTT)",
            "default": "switchyard",
        },
    },
}


def validate_queue_trigger(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for key in ("credential", "destination"):
        if "{{" in str(config.get(key, "")):
            yield (key, f"{key} is read when the workflow is activated: it cannot be a template")


@node_type(
    "trigger.queue",
    label="Queue message",
    category="trigger",
    is_trigger=True,
    icon="inbox",
    trigger=TriggerSpec(endpoint="listener", label="Queue"),
    description=(
        "Start a run for each message on a RabbitMQ queue, MQTT topic (QoS 1), Redis stream "
        "or NATS JetStream subject."
    ),
    config_schema=CONFIG_SCHEMA,
    output_schema={
        "type": "object",
        "properties": {
            "destination": {"type": "string"},
            "message": {},
            "headers": {"type": "object"},
            "message_id": {"type": "string"},
        },
    },
    validate_config=validate_queue_trigger,
)
def queue_trigger(ctx: NodeContext) -> NodeResult:
    return NodeResult(output=ctx.input)
