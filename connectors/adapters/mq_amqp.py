"""AMQP 0-9-1 (RabbitMQ) through pika: publish to a queue with publisher confirms, consume one
message with a timeout. One pooled connection holds one confirm-mode channel."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pika
import pika.exceptions

from workflows.engine.errors import ErrorCategory, NodeError

from . import mq
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, tls_context

# What the sender set (kept across redeliveries), unlike the delivery tag.
_SENDER_PROPERTIES = (
    "app_id",
    "content_encoding",
    "content_type",
    "correlation_id",
    "expiration",
    "priority",
    "reply_to",
    "timestamp",
    "type",
    "user_id",
)


class _AmqpConnection:
    def __init__(self, connection: pika.BlockingConnection):
        self.connection = connection
        self.channel = connection.channel()
        self.channel.confirm_delivery()
        self.channel.basic_qos(prefetch_count=1)

    @property
    def reusable(self) -> bool:
        return self.connection.is_open and self.channel.is_open

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@register_adapter
class AmqpAdapter(Adapter):
    id = "amqp"
    name = "RabbitMQ (AMQP)"
    description = "AMQP 0-9-1 brokers such as RabbitMQ, through pika"
    family = "mq"
    protocols = ("amqp", "amqps")
    default_port = 5672
    operations = mq.OPERATIONS

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        return settings.host, settings.port or (5671 if settings.scheme == "amqps" else 5672)

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _AmqpConnection:
        host, port = self.target(settings)
        address = checked_address(host, port, allow_private=limits.allow_private)
        vhost = urllib.parse.unquote(settings.path[1:]) if len(settings.path) > 1 else "/"
        ssl_options = None
        if settings.scheme == "amqps":
            ssl_options = pika.SSLOptions(tls_context(settings.tls), server_hostname=host)
        params = pika.ConnectionParameters(
            host=address,  # the checked address; with TLS, server_hostname checks the certificate
            port=port,
            virtual_host=vhost,
            credentials=pika.PlainCredentials(settings.username or "guest", settings.password or "guest"),
            ssl_options=ssl_options,
            heartbeat=0,  # pooled connections sit idle; health is checked before reuse
            socket_timeout=max(1.0, min(limits.timeout_s, 30.0)),
            blocked_connection_timeout=max(1.0, limits.timeout_s),
            connection_attempts=1,
        )
        return _AmqpConnection(pika.BlockingConnection(params))

    def is_healthy(self, connection: _AmqpConnection) -> bool:
        connection.connection.process_data_events(time_limit=0)
        return connection.reusable

    def execute(
        self, connection: _AmqpConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        queue = mq.destination(params)
        channel = connection.channel
        if operation == "publish":
            message_id = mq.new_message_id()
            body = mq.encode(params.get("message"))
            properties = pika.BasicProperties(
                message_id=message_id,
                content_type="text/plain" if isinstance(params.get("message"), str) else "application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                headers=mq.headers(params) or None,
            )
            try:
                channel.basic_publish("", queue, body, properties, mandatory=True)
            except pika.exceptions.UnroutableError:
                raise NodeError(
                    ErrorCategory.INTEGRATION_ERROR,
                    f"no queue named {queue!r} took the message",
                    {"destination": queue},
                    retryable=False,
                ) from None
            return OperationResult(
                {"destination": queue, "message_id": message_id}, messages=1, bytes=len(body)
            )
        timeout_s = mq.consume_timeout(params, limits.timeout_s)
        for method, props, body in channel.consume(queue, inactivity_timeout=timeout_s):
            if method is None:
                channel.cancel()
                raise mq.nothing_arrived(queue, timeout_s)
            channel.basic_ack(method.delivery_tag)
            channel.cancel()
            headers = {
                str(k): v if isinstance(v, str | int | float | bool) else str(v)
                for k, v in (props.headers or {}).items()
            }
            if props.message_id:
                headers.setdefault("message_id", props.message_id)
            return OperationResult(
                {"destination": queue, "message": mq.decode(body), "headers": headers},
                messages=1,
                bytes=len(body),
            )
        raise mq.nothing_arrived(queue, timeout_s)

    def receive(
        self, connection: _AmqpConnection, queue: str, group: str, timeout_s: float
    ) -> mq.Delivery | None:
        """The next message of `queue`, unacknowledged (the broker requeues it if we die)."""
        deadline = time.monotonic() + timeout_s
        channel = connection.channel
        while True:
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is not None:
                break
            if time.monotonic() >= deadline:
                return None
            connection.connection.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        headers = {
            str(k): v if isinstance(v, str | int | float | bool) else str(v)
            for k, v in (props.headers or {}).items()
        }
        tag = method.delivery_tag
        sent = {name: getattr(props, name, None) for name in _SENDER_PROPERTIES}
        return mq.Delivery(
            destination=queue,
            message=mq.decode(body),
            headers=headers,
            message_id=props.message_id or "",  # none: the content key tells a redelivery apart
            ack=lambda: channel.basic_ack(tag),
            redelivered=bool(method.redelivered),
            content_key=mq.content_key(
                queue, body, {**sent, "headers": headers, "exchange": method.exchange}
            ),
        )

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, pika.exceptions.ChannelClosedByBroker):
            category = (
                ErrorCategory.AUTHENTICATION_ERROR
                if exc.reply_code == 403
                else ErrorCategory.INTEGRATION_ERROR
            )
            return NodeError(
                category, f"broker refused: {exc.reply_text}", {"reply_code": exc.reply_code}, retryable=False
            )
        if isinstance(
            exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.ProbableAccessDeniedError
        ):
            return NodeError(
                ErrorCategory.AUTHENTICATION_ERROR, f"broker refused the login: {exc}", retryable=False
            )
        if isinstance(exc, pika.exceptions.AMQPConnectionError | pika.exceptions.StreamLostError):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"could not reach the broker: {exc!r}")
        if isinstance(exc, pika.exceptions.AMQPError):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, f"{type(exc).__name__}: {exc}", retryable=False)
        return categorize_common(exc)
