"""NATS through nats-py (async, on the adapters' loop): publish to a subject (flushed, so the
server has it), consume the next message on a subject with a timeout. With JetStream
(`jetstream: true` in the credential data), publish waits for the stream's ack and consume
pulls from a durable consumer, acking the message once read."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import nats.errors
import nats.js.errors

from workflows.engine.errors import ErrorCategory, NodeError

from . import aioloop, mq
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, tls_context


class _NatsConnection:
    def __init__(self, client, jetstream: bool):
        self.client = client
        self.jetstream = client.jetstream() if jetstream else None
        self.pulls: dict[tuple[str, str], Any] = {}  # (subject, durable) -> pull subscription

    async def pull(self, subject: str, durable: str):
        """One pull subscription per subject and durable consumer, kept with the connection."""
        key = (subject, durable)
        if key not in self.pulls:
            self.pulls[key] = await self.jetstream.pull_subscribe(subject, durable=durable)
        return self.pulls[key]

    @property
    def reusable(self) -> bool:
        return self.client.is_connected

    def close(self) -> None:
        aioloop.run(self.client.close(), 5)


@register_adapter
class NatsAdapter(Adapter):
    id = "nats"
    name = "NATS"
    description = "NATS core and JetStream through nats-py"
    family = "mq"
    protocols = ("nats", "tls")
    default_port = 4222
    operations = mq.OPERATIONS

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _NatsConnection:
        port = settings.port or self.default_port
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        tls = settings.scheme == "tls"
        # The checked address in every case; with TLS, tls_hostname checks the certificate.
        at = f"[{address}]" if ":" in address else address
        server = f"{'tls' if tls else 'nats'}://{at}:{port}"
        options: dict[str, Any] = {
            "servers": [server],
            "connect_timeout": max(0.5, min(limits.timeout_s, 30)),
            "allow_reconnect": False,
            "max_reconnect_attempts": 0,
            "name": "switchyard",
        }
        if settings.username:
            options.update(user=settings.username, password=settings.password or "")
        if settings.field("token"):
            options["token"] = settings.field("token")
        if tls:
            options.update(tls=tls_context(settings.tls), tls_hostname=settings.host)
        client = aioloop.run(nats.connect(**options), limits.timeout_s)
        return _NatsConnection(client, settings.field("jetstream", "false").lower() == "true")

    def is_healthy(self, connection: _NatsConnection) -> bool:
        return connection.reusable

    def execute(
        self, connection: _NatsConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        subject = mq.destination(params)
        if operation == "publish":
            message_id = mq.new_message_id()
            body = mq.encode(params.get("message"))
            headers = {"Nats-Msg-Id": message_id, **mq.headers(params)}
            aioloop.run(
                self._publish(connection, subject, body, headers, limits.timeout_s), limits.timeout_s + 1
            )
            return OperationResult(
                {"destination": subject, "message_id": message_id}, messages=1, bytes=len(body)
            )
        timeout_s = mq.consume_timeout(params, limits.timeout_s)
        msg = aioloop.run(self._next(connection, subject, params, timeout_s), timeout_s + 2)
        headers = dict(msg.headers or {})
        if "Nats-Msg-Id" in headers:
            headers.setdefault("message_id", headers["Nats-Msg-Id"])
        return OperationResult(
            {"destination": msg.subject, "message": mq.decode(msg.data), "headers": headers},
            messages=1,
            bytes=len(msg.data),
        )

    async def _publish(self, connection, subject, body, headers, timeout_s) -> None:
        if connection.jetstream is not None:
            await connection.jetstream.publish(subject, body, headers=headers, timeout=timeout_s)
            return
        await connection.client.publish(subject, body, headers=headers)
        await connection.client.flush(timeout=max(1, int(timeout_s)))

    async def _next(self, connection, subject, params, timeout_s):
        if connection.jetstream is not None:
            durable = str(params.get("group") or "switchyard").replace(".", "_")
            sub = await connection.pull(subject, durable)
            try:
                msgs = await sub.fetch(1, timeout=timeout_s)
            except (TimeoutError, nats.errors.TimeoutError):
                raise mq.nothing_arrived(subject, timeout_s) from None
            await msgs[0].ack()
            return msgs[0]
        sub = await connection.client.subscribe(subject)
        try:
            return await sub.next_msg(timeout=timeout_s)
        except nats.errors.TimeoutError:
            raise mq.nothing_arrived(subject, timeout_s) from None
        finally:
            await sub.unsubscribe()

    def receive(
        self, connection: _NatsConnection, subject: str, group: str, timeout_s: float
    ) -> mq.Delivery | None:
        """JetStream only: the next message for durable consumer `group`, acked once stored
        (unacked messages are redelivered after the consumer's ack wait)."""
        if connection.jetstream is None:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                "trigger.queue on NATS needs JetStream (jetstream: true in the credential)",
                retryable=False,
            )

        async def fetch():
            durable = (group or "switchyard").replace(".", "_")
            sub = await connection.pull(subject, durable)
            try:
                return (await sub.fetch(1, timeout=timeout_s))[0]
            except (TimeoutError, nats.errors.TimeoutError):
                return None

        msg = aioloop.run(fetch(), timeout_s + 5)
        if msg is None:
            return None
        headers = dict(msg.headers or {})
        meta = msg.metadata
        return mq.Delivery(
            destination=msg.subject,
            message=mq.decode(msg.data),
            headers=headers,
            message_id=headers.get("Nats-Msg-Id") or f"{meta.stream}:{meta.sequence.stream}",
            ack=lambda: aioloop.run(msg.ack(), 10),
        )

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, nats.errors.AuthorizationError):
            return NodeError(
                ErrorCategory.AUTHENTICATION_ERROR, f"NATS refused the login: {exc}", retryable=False
            )
        if isinstance(exc, nats.errors.NoServersError | nats.errors.ConnectionClosedError):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"could not reach NATS: {exc}")
        if isinstance(exc, nats.errors.TimeoutError | asyncio.TimeoutError):
            return NodeError(ErrorCategory.TIMEOUT_ERROR, "NATS did not answer in time")
        if isinstance(exc, nats.js.errors.NoStreamResponseError):
            return NodeError(
                ErrorCategory.INTEGRATION_ERROR, "no JetStream stream takes this subject", retryable=False
            )
        if isinstance(exc, nats.errors.Error):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, f"{type(exc).__name__}: {exc}", retryable=False)
        return categorize_common(exc)
