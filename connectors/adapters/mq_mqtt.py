"""MQTT 5 (Mosquitto and others) through paho-mqtt: publish at QoS 1 (acknowledged by the
broker), consume the next message on a topic (a retained one arrives at once) with a timeout.

A pooled client runs paho's network thread; headers travel as MQTT 5 user properties.
"""

from __future__ import annotations

import hashlib
import queue
import socket
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from workflows.engine.errors import ErrorCategory, NodeError

from . import mq
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, tls_context

RECEIVER_SESSION_S = 7 * 24 * 3600  # a trigger's session outlives a week's downtime


class _MqttConnection:
    def __init__(self, client: mqtt.Client):
        self.client = client
        self.lock = threading.Lock()  # one consumer at a time on this client
        self.inbox: queue.Queue = queue.Queue()
        self.subscribed: set[str] = set()
        client.on_message = lambda _c, _u, msg: self.inbox.put(msg)

    @property
    def reusable(self) -> bool:
        return self.client.is_connected()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@register_adapter
class MqttAdapter(Adapter):
    id = "mqtt"
    name = "MQTT"
    description = "MQTT 5 brokers such as Mosquitto, through paho-mqtt"
    family = "mq"
    protocols = ("mqtt", "mqtts")
    default_port = 1883
    operations = mq.OPERATIONS

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        return settings.host, settings.port or (8883 if settings.scheme == "mqtts" else 1883)

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _MqttConnection:
        return self._connect(settings, limits, client_id=f"switchyard-{uuid.uuid4().hex[:12]}")

    def connect_receiver(
        self, settings: ConnectionSettings, limits: Limits, *, consumer_id: str
    ) -> _MqttConnection:
        """For `trigger.queue`: a persistent session named after the trigger (clean start off,
        kept RECEIVER_SESSION_S after a disconnect) with manual acknowledgement, so a QoS 1
        message not yet acknowledged when the consumer dies is delivered again (DUP) to the
        next consumer of the same trigger."""
        name = "switchyard-" + hashlib.sha256(consumer_id.encode()).hexdigest()[:20]
        return self._connect(settings, limits, client_id=name, persistent=True)

    def _connect(
        self, settings: ConnectionSettings, limits: Limits, *, client_id: str, persistent: bool = False
    ) -> _MqttConnection:
        host, port = self.target(settings)
        address = checked_address(host, port, allow_private=limits.allow_private)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=persistent,
        )
        if settings.username:
            client.username_pw_set(settings.username, settings.password)
        if settings.scheme == "mqtts":
            client.tls_set_context(tls_context(settings.tls))
        connected = threading.Event()
        outcome: dict[str, Any] = {}

        def on_connect(_client, _userdata, _flags, reason_code, _properties):
            outcome["reason"] = reason_code
            connected.set()

        client.on_connect = on_connect
        # Before connecting: a resumed session's unacknowledged messages come right after CONNACK.
        connection = _MqttConnection(client)
        properties = None
        if persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = RECEIVER_SESSION_S
        if settings.scheme == "mqtts":
            # TLS checks the certificate against the name paho was given; the socket itself goes
            # to the address we checked, so a second DNS answer cannot swap the target.
            client._create_socket_connection = lambda: socket.create_connection(  # noqa: SLF001
                (address, port), timeout=max(1.0, min(limits.timeout_s, 30))
            )
        client.connect(
            host if settings.scheme == "mqtts" else address,
            port,
            keepalive=60,
            clean_start=not persistent,
            properties=properties,
        )
        client.loop_start()
        if not connected.wait(max(0.1, min(limits.timeout_s, 30))):
            client.loop_stop()
            raise NodeError(ErrorCategory.TIMEOUT_ERROR, "the MQTT broker did not answer the connect in time")
        reason = outcome["reason"]
        if reason.is_failure:
            client.loop_stop()
            category = (
                ErrorCategory.AUTHENTICATION_ERROR
                if reason.value in (0x86, 0x87, 0x04, 0x05)
                else ErrorCategory.CONNECTION_ERROR
            )
            raise NodeError(category, f"the MQTT broker refused the connection: {reason}", retryable=False)
        return connection

    def is_healthy(self, connection: _MqttConnection) -> bool:
        return connection.reusable

    def execute(
        self, connection: _MqttConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        topic = mq.destination(params)
        client = connection.client
        if operation == "publish":
            message_id = mq.new_message_id()
            body = mq.encode(params.get("message"))
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [("message_id", message_id), *mq.headers(params).items()]
            info = client.publish(topic, body, qos=1, retain=bool(params.get("retain")), properties=props)
            info.wait_for_publish(timeout=max(0.1, limits.timeout_s))
            if not info.is_published():
                raise NodeError(
                    ErrorCategory.TIMEOUT_ERROR, f"the broker did not acknowledge the message on {topic!r}"
                )
            return OperationResult(
                {"destination": topic, "message_id": message_id}, messages=1, bytes=len(body)
            )
        timeout_s = mq.consume_timeout(params, limits.timeout_s)
        with connection.lock:
            while not connection.inbox.empty():  # stale deliveries from an earlier subscription
                connection.inbox.get_nowait()
            client.subscribe(topic, qos=1)
            try:
                msg = connection.inbox.get(timeout=timeout_s)
            except queue.Empty:
                raise mq.nothing_arrived(topic, timeout_s) from None
            finally:
                client.unsubscribe(topic)
        user = dict(getattr(msg.properties, "UserProperty", None) or []) if msg.properties else {}
        return OperationResult(
            {"destination": msg.topic, "message": mq.decode(msg.payload), "headers": user},
            messages=1,
            bytes=len(msg.payload),
        )

    def receive(
        self, connection: _MqttConnection, topic: str, group: str, timeout_s: float
    ) -> mq.Delivery | None:
        """The next message on `topic` (subscribed at QoS 1 once per connection), not yet
        acknowledged: the broker keeps it for the session until `ack()`."""
        if topic not in connection.subscribed:
            result, _mid = connection.client.subscribe(topic, qos=1)
            if result != mqtt.MQTT_ERR_SUCCESS:
                raise NodeError(ErrorCategory.CONNECTION_ERROR, f"could not subscribe to {topic!r}: {result}")
            connection.subscribed.add(topic)
        try:
            msg = connection.inbox.get(timeout=timeout_s)
        except queue.Empty:
            return None
        user = dict(getattr(msg.properties, "UserProperty", None) or []) if msg.properties else {}
        client, mid, qos = connection.client, msg.mid, msg.qos
        return mq.Delivery(
            destination=msg.topic,
            message=mq.decode(msg.payload),
            headers=user,
            message_id=str(user.get("message_id") or ""),
            ack=lambda: client.ack(mid, qos),
            redelivered=bool(msg.dup),
            content_key=mq.content_key(msg.topic, msg.payload, {"user": user, "retain": msg.retain}),
        )

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, ValueError):
            return NodeError(ErrorCategory.VALIDATION_ERROR, str(exc), retryable=False)
        return categorize_common(exc)
