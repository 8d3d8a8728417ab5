"""Credential rotation reaches every process's connection pool at once.

Saving or deleting a credential (API, admin: a model signal) calls `credential_changed` at
commit: this process's pool closes the connections made with the old data
(`ConnectionPool.retire_credential`), and, with Redis configured (REDIS_URL, as `serve`
runs workers), the change is published so every other process holding pooled connections
does the same as soon as it hears it. A process starts listening before it opens its first
pooled connection. Without Redis, other processes notice at their next checkout.
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings

from .pool import pool

logger = logging.getLogger("switchyard.adapters")
CHANNEL = "switchyard:credential-changed"
_listener: threading.Thread | None = None
_ready = threading.Event()


def on_credential_saved(sender, instance, created: bool = False, **_kwargs) -> None:
    """post_save / post_delete of a Credential: retire its connections once committed."""
    if created:
        return
    from django.db import transaction

    credential_id = instance.pk
    transaction.on_commit(lambda: credential_changed(credential_id))


def credential_changed(credential_id) -> int:
    """Retire the credential's pooled connections here and in every other process."""
    closed = pool.retire_credential(str(credential_id))
    if settings.REDIS_URL:
        try:
            _redis().publish(CHANNEL, f"{os.getpid()}:{credential_id}")
        except Exception:  # noqa: BLE001 - the others then notice at their next checkout
            logger.warning("could not announce the change of credential %s", credential_id, exc_info=True)
    return closed


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def listen() -> None:
    """Start (once per process) the thread that retires credentials other processes changed;
    returns once it is subscribed."""
    global _listener
    if not settings.REDIS_URL or (_listener is not None and _listener.is_alive()):
        return
    _ready.clear()
    _listener = threading.Thread(target=_listen, name="credential-rotation", daemon=True)
    _listener.start()
    _ready.wait(5)


def _listen() -> None:
    me = str(os.getpid())
    while True:
        try:
            pubsub = _redis().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            _ready.set()
            for message in pubsub.listen():
                sender, _, credential_id = message.get("data", b"").decode().partition(":")
                if credential_id and sender != me:
                    pool.retire_credential(credential_id)
        except Exception:  # noqa: BLE001 - keep listening after a Redis restart
            logger.warning("credential rotation listener lost Redis; resubscribing", exc_info=True)
            threading.Event().wait(1.0)
