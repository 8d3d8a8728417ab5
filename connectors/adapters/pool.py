"""Pooled connections, keyed by adapter + credential + the credential's settings fingerprint.

- Bounded: at most `pool_size` connections per key (`data.pool_size`, default 8) open or
  in use; a caller waits for one until its deadline, then gets TIMEOUT_ERROR.
- Health-checked: a connection idle for longer than `health_check_after_s` is checked
  (`adapter.is_healthy`) before reuse and replaced when it fails; a connection whose
  operation failed with CONNECTION_ERROR, or that says it is not `reusable` (a timed-out
  socket, say), is closed, never reused.
- Rotation: saving or deleting a credential calls `retire_credential` (in this process at
  commit, in the other processes through `connectors.adapters.rotation`), which closes its
  idle connections at once and the busy ones when their operation ends; the next checkout
  connects with the new data. A checkout that sees a new fingerprint does the same.
- Closed on shutdown: `close_all()` runs at interpreter exit, and at a forked worker's exit
  (`close_when_worker_exits`, connected to Django-Q's `post_spawn`).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

from .base import Adapter, ConnectionSettings, Limits

logger = logging.getLogger("switchyard.adapters")
DEFAULT_POOL_SIZE = 8
_BROKEN = frozenset({ErrorCategory.CONNECTION_ERROR})

Key = tuple[str, str, str]  # adapter id, credential id, fingerprint


class ConnectionPool:
    def __init__(self, *, health_check_after_s: float = 5.0, idle_timeout_s: float = 300.0) -> None:
        self.health_check_after_s = health_check_after_s
        self.idle_timeout_s = idle_timeout_s
        self._idle: dict[Key, list[tuple[Any, float]]] = {}
        self._open: dict[Key, int] = {}  # idle + busy connections per key
        self._current: dict[tuple[str, str], str] = {}  # (adapter, credential) -> fingerprint
        self._retired: set[Key] = set()
        self._adapters: dict[Key, Adapter] = {}
        self._cond = threading.Condition()
        self.connects = 0  # connections opened so far (for benches and tests)
        # Called once, before the first pooled connection opens (rotation notices start then).
        self.on_first_connection: Callable[[], None] | None = None

    @contextmanager
    def connection(self, adapter: Adapter, settings: ConnectionSettings, limits: Limits) -> Iterator[Any]:
        """A connection for the duration of one operation (opened now when not pooled)."""
        if not adapter.pooled:
            conn = self._open_new(adapter, settings, limits)
            try:
                yield conn
            finally:
                self._close(adapter, conn)
            return
        key: Key = (adapter.id, settings.credential_id, settings.fingerprint)
        self._rotate(adapter, settings)
        conn = self._checkout(key, adapter, settings, limits)
        keep = False
        try:
            yield conn
            keep = True
        except NodeError as exc:
            keep = exc.category not in _BROKEN
            raise
        finally:
            self._checkin(key, adapter, conn, keep=keep)

    # -- internals ---------------------------------------------------------------------
    def _open_new(self, adapter: Adapter, settings: ConnectionSettings, limits: Limits) -> Any:
        if self.on_first_connection is not None and adapter.pooled:
            hook, self.on_first_connection = self.on_first_connection, None
            try:
                hook()
            except Exception:  # noqa: BLE001 - the operation goes on; rotation then waits for a checkout
                logger.warning("could not start listening for credential rotations", exc_info=True)
        self.connects += 1
        return adapter.connect(settings, limits)

    def _close(self, adapter: Adapter, conn: Any) -> None:
        try:
            adapter.close(conn)
        except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone either way
            logger.debug("closing a %s connection failed", adapter.id, exc_info=True)

    def _rotate(self, adapter: Adapter, settings: ConnectionSettings) -> None:
        ident = (adapter.id, settings.credential_id)
        stale: list[Any] = []
        with self._cond:
            previous = self._current.get(ident)
            self._current[ident] = settings.fingerprint
            if previous is None or previous == settings.fingerprint:
                return
            old: Key = (adapter.id, settings.credential_id, previous)
            self._retired.add(old)
            stale = [conn for conn, _ in self._idle.pop(old, [])]
            self._open[old] = self._open.get(old, 0) - len(stale)
            self._cond.notify_all()
        for conn in stale:
            self._close(adapter, conn)
        if stale:
            logger.info(
                "credential %s changed: closed %d pooled connection(s)", settings.credential_id, len(stale)
            )

    def _checkout(self, key: Key, adapter: Adapter, settings: ConnectionSettings, limits: Limits) -> Any:
        size = _pool_size(settings)
        deadline = time.monotonic() + max(0.0, limits.timeout_s)
        while True:
            with self._cond:
                while True:
                    idle = self._idle.get(key)
                    if idle:
                        conn, since = idle.pop()
                        break
                    if self._open.get(key, 0) < size:
                        self._open[key] = self._open.get(key, 0) + 1
                        self._adapters[key] = adapter
                        conn = None
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise NodeError(
                            ErrorCategory.TIMEOUT_ERROR,
                            f"all {size} pooled connections of {settings.credential_name!r} stayed busy",
                            {"pool_size": size},
                        )
                    self._cond.wait(remaining)
            if conn is None:
                try:
                    return self._open_new(adapter, settings, limits)
                except BaseException:
                    self._forget(key)
                    raise
            idle_for = time.monotonic() - since
            if idle_for > self.idle_timeout_s or (
                idle_for > self.health_check_after_s and not _healthy(adapter, conn)
            ):
                self._close(adapter, conn)
                self._forget(key)
                continue
            return conn

    def _forget(self, key: Key) -> None:
        with self._cond:
            self._open[key] = self._open.get(key, 1) - 1
            if self._open[key] <= 0:
                self._retired.discard(key)  # nothing of the old credential is left open
            self._cond.notify()

    def retire_credential(self, credential_id: str) -> int:
        """The credential changed or went away: close its idle connections now, its busy
        ones when they come back; the next checkout connects afresh. Returns how many closed."""
        stale: list[tuple[Key, Any]] = []
        with self._cond:
            for key in [k for k in self._open if k[1] == credential_id]:
                conns = self._idle.pop(key, [])
                stale.extend((key, conn) for conn, _ in conns)
                self._open[key] = self._open.get(key, 0) - len(conns)
                if self._open[key] > 0:
                    self._retired.add(key)
            for ident in [i for i in self._current if i[1] == credential_id]:
                del self._current[ident]
            self._cond.notify_all()
        for key, conn in stale:
            self._close(self._adapters[key], conn)
        if stale:
            logger.info("credential %s changed: closed %d pooled connection(s)", credential_id, len(stale))
        return len(stale)

    def _checkin(self, key: Key, adapter: Adapter, conn: Any, *, keep: bool) -> None:
        with self._cond:
            if keep and key not in self._retired and getattr(conn, "reusable", True):
                self._idle.setdefault(key, []).append((conn, time.monotonic()))
                self._cond.notify()
                return
        self._close(adapter, conn)
        self._forget(key)

    def close_all(self) -> int:
        """Close every idle connection and retire every key (busy ones close on return)."""
        with self._cond:
            idle = self._idle
            self._idle = {}
            self._retired.update(self._open)
            for key, conns in idle.items():
                self._open[key] = self._open.get(key, 0) - len(conns)
        closed = 0
        for key, conns in idle.items():
            for conn, _ in conns:
                self._close(self._adapters[key], conn)
                closed += 1
        with self._cond:
            self._retired = {k for k in self._retired if self._open.get(k, 0) > 0}
            self._current.clear()
        return closed

    def idle_count(self, credential_id: str | None = None) -> int:
        with self._cond:
            return sum(len(v) for k, v in self._idle.items() if credential_id in (None, k[1]))


def _pool_size(settings: ConnectionSettings) -> int:
    raw = settings.data.get("pool_size", "")
    return max(1, min(64, int(raw))) if raw.isdigit() else DEFAULT_POOL_SIZE


def _healthy(adapter: Adapter, conn: Any) -> bool:
    try:
        return bool(adapter.is_healthy(conn))
    except Exception:  # noqa: BLE001 - any failure means "do not reuse"
        return False


pool = ConnectionPool()
atexit.register(pool.close_all)


def close_when_worker_exits(**_signal_kwargs) -> None:
    """For a forked worker process (Django-Q's `post_spawn`): multiprocessing children leave
    through `os._exit`, which skips atexit, so register the pool with its finalizers too."""
    multiprocessing.util.Finalize(pool, pool.close_all, exitpriority=10)
