"""Redis streams: publish = XADD (the entry id is the message id), consume = XREADGROUP of one
entry for a consumer group (created at the stream's start, so nothing published before the
first consume is missed), acknowledged with XACK once read."""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis
import redis.connection
import redis.exceptions

from workflows.engine.errors import ErrorCategory, NodeError

from . import mq
from .base import Adapter, ConnectionSettings, Limits, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, tls_context, tls_min_version


class _PinnedSSLConnection(redis.connection.SSLConnection):
    """A TLS connection whose socket goes to the checked address, whatever DNS says later."""

    def __init__(self, *args, pinned_address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.pinned_address = pinned_address

    def _connect(self):
        name = self.host
        self.host = self.pinned_address
        try:
            sock = redis.connection.Connection._connect(self)
        finally:
            self.host = name
        try:
            return self._wrap_socket_with_ssl(sock)
        except (OSError, redis.RedisError):
            sock.close()
            raise


@register_adapter
class RedisStreamsAdapter(Adapter):
    id = "redis"
    name = "Redis streams"
    description = "Redis streams (XADD / XREADGROUP) through redis-py"
    family = "mq"
    protocols = ("redis", "rediss")
    default_port = 6379
    operations = mq.OPERATIONS

    def connect(self, settings: ConnectionSettings, limits: Limits) -> redis.Redis:
        port = settings.port or self.default_port
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        db = settings.path.strip("/")
        tls = settings.scheme == "rediss"
        kwargs: dict[str, Any] = {}
        if tls:
            context = tls_context(settings.tls)
            kwargs = {  # for SSLConnection (the pool's connection class), not Redis(ssl=True)
                "ssl_cert_reqs": context.verify_mode,
                "ssl_check_hostname": context.check_hostname,
                "ssl_min_version": tls_min_version(settings.tls),
            }
            if settings.tls.ca_bundle:
                kwargs["ssl_ca_data"] = settings.tls.ca_bundle
        common: dict[str, Any] = {
            "port": port,
            "db": int(db) if db.isdigit() else 0,
            "username": settings.username or None,
            "password": settings.password or None,
            "socket_timeout": max(1.0, limits.timeout_s + 1),
            "socket_connect_timeout": max(1.0, min(limits.timeout_s, 30)),
        }
        if not tls:
            return redis.Redis(host=address, **common)
        # TLS checks the certificate against the name; every (re)connect goes to the checked address.
        pool = redis.ConnectionPool(
            connection_class=_PinnedSSLConnection,
            host=settings.host,
            pinned_address=address,
            **common,
            **kwargs,
        )
        return redis.Redis(connection_pool=pool)

    def is_healthy(self, connection: redis.Redis) -> bool:
        return bool(connection.ping())

    def execute(self, connection: redis.Redis, operation: str, params: dict[str, Any], limits: Limits) -> Any:
        stream = mq.destination(params)
        if operation == "publish":
            body = mq.encode(params.get("message"))
            fields = {"message": body}
            if params.get("headers"):
                fields["headers"] = json.dumps(mq.headers(params))
            entry_id = connection.xadd(stream, fields)
            message_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            return OperationResult(
                {"destination": stream, "message_id": message_id}, messages=1, bytes=len(body)
            )
        timeout_s = mq.consume_timeout(params, limits.timeout_s)
        group = str(params.get("group") or "switchyard")
        self._ensure_group(connection, stream, group)
        consumer = f"switchyard-{uuid.uuid4().hex[:8]}"
        answer = connection.xreadgroup(
            group, consumer, {stream: ">"}, count=1, block=max(1, int(timeout_s * 1000))
        )
        if not answer or not answer[0][1]:
            raise mq.nothing_arrived(stream, timeout_s)
        entry_id, fields = answer[0][1][0]
        connection.xack(stream, group, entry_id)
        fields = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        headers = json.loads(fields["headers"]) if fields.get("headers") else {}
        headers["message_id"] = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        body = fields.get("message", b"")
        return OperationResult(
            {"destination": stream, "message": mq.decode(body), "headers": headers},
            messages=1,
            bytes=len(body),
        )

    def receive(
        self, connection: redis.Redis, stream: str, group: str, timeout_s: float
    ) -> mq.Delivery | None:
        """The next entry for consumer `group`: first any entry this consumer read but never
        acknowledged (a crash between reading and storing), then new ones."""
        self._ensure_group(connection, stream, group)
        consumer = f"{group}-trigger"
        answer = connection.xreadgroup(group, consumer, {stream: "0"}, count=1)
        if not answer or not answer[0][1]:
            answer = connection.xreadgroup(
                group, consumer, {stream: ">"}, count=1, block=max(1, int(timeout_s * 1000))
            )
        if not answer or not answer[0][1]:
            return None
        entry_id, fields = answer[0][1][0]
        fields = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        message_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        headers = json.loads(fields["headers"]) if fields.get("headers") else {}
        return mq.Delivery(
            destination=stream,
            message=mq.decode(fields.get("message", b"")),
            headers=headers,
            message_id=message_id,
            ack=lambda: connection.xack(stream, group, entry_id),
        )

    def _ensure_group(self, connection: redis.Redis, stream: str, group: str) -> None:
        try:
            connection.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, redis.exceptions.AuthenticationError | redis.exceptions.NoPermissionError):
            return NodeError(ErrorCategory.AUTHENTICATION_ERROR, str(exc), retryable=False)
        if isinstance(exc, redis.exceptions.TimeoutError):
            return NodeError(ErrorCategory.TIMEOUT_ERROR, f"Redis did not answer in time: {exc}")
        if isinstance(exc, redis.exceptions.ConnectionError):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"could not reach Redis: {exc}")
        if isinstance(exc, redis.exceptions.BusyLoadingError):
            return NodeError(ErrorCategory.SERVICE_UNAVAILABLE, str(exc))
        if isinstance(exc, redis.exceptions.RedisError):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, str(exc), retryable=False)
        return categorize_common(exc)
