"""Live run events (SPEC §7): stored in order with the change they describe, then a
wake-up is sent to listeners once the transaction commits: through the channel layer
with Redis; embedded (in-memory layer, which does not cross processes) as a datagram to
each listening process's socket in `wake_dir()`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger("switchyard.events")


def wake_dir() -> Path:
    from django.conf import settings

    return Path(settings.LOCAL_STATE_DIR) / "event-wake"


class _LocalWaker:
    """Embedded wake-ups: one byte to every listener socket of this machine's processes
    (a hint: listeners read the stored events). A socket whose process is gone is removed."""

    def __init__(self):
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        folder = wake_dir()
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return  # nobody listens
        with self._lock:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            for name in names:
                path = str(folder / name)
                try:
                    self._sock.sendto(b"w", path)
                except BlockingIOError:
                    pass  # wake-ups already queued there: it will read
                except (ConnectionRefusedError, FileNotFoundError):
                    Path(path).unlink(missing_ok=True)  # its process has gone
                except OSError:
                    logger.debug("could not wake %s", path, exc_info=True)


_local_waker = _LocalWaker()


def run_group(run_id: str) -> str:
    return f"run.{run_id}"


def workflow_group(workflow_id: str) -> str:
    return f"workflow.{workflow_id}"


class _Waker:
    """Sends wake-ups from one long-lived event loop thread per process, without making
    the engine wait: a fresh loop (and Redis connection) per send cost ~2 ms a node.
    Wake-ups only hint that new events are stored (listeners read the table), so the ones that
    pile up while a send is in flight are merged: one per group."""

    def __init__(self):
        self._loop = None
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    def _ensure_loop(self):
        if self._loop is None or not self._thread.is_alive():
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="event-waker", daemon=True)
            self._thread.start()
        return self._loop

    async def _send(self, layer):
        with self._lock:
            groups, self._pending = self._pending, set()
        try:
            for group in groups:
                await layer.group_send(group, {"type": "events.wake"})
        except Exception:  # a missed wake-up only delays delivery: listeners also poll
            logger.debug("could not wake run listeners", exc_info=True)

    def wake(self, groups: list[str]) -> None:
        from channels.layers import InMemoryChannelLayer, get_channel_layer

        layer = get_channel_layer()
        # The in-memory layer neither crosses processes (workers are separate) nor is safe to
        # feed from another thread's loop: embedded listeners get a datagram instead.
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            _local_waker.wake()
            return
        with self._lock:
            idle = not self._pending
            self._pending.update(groups)
            if idle:  # else the send already scheduled takes these groups too
                try:
                    asyncio.run_coroutine_threadsafe(self._send(layer), self._ensure_loop())
                except RuntimeError:  # no loop to send from (interpreter shutting down)
                    self._pending.clear()


_waker = _Waker()


def _wake(groups: list[str]) -> None:
    _waker.wake(groups)


def node_event(run_id: str, state) -> dict:
    return {
        "type": "node.status",
        "run_id": run_id,
        "node_id": state.node_id,
        "iteration": state.iteration,
        "iteration_path": state.iteration_path,
        "status": state.status,
        "attempt": state.attempts,
        "duration_ms": state.duration_ms,
        "error": state.error,
    }


EVENT_COLUMNS = ("run", "workflow_id", "payload", "created_at")
_held = threading.local()


@contextmanager
def coalesced():
    """Inside the block (in the caller's transaction), events are held and stored in order
    as one INSERT when it ends, or just before an event stored `only_if`; nothing is stored
    if the block raises. Nested blocks join the outer one."""
    if getattr(_held, "rows", None) is not None:
        yield
        return
    _held.rows = []
    try:
        yield
        _store_held()
    finally:
        _held.rows = None


def _store_held() -> None:
    from . import rows
    from .models import RunEvent

    held = getattr(_held, "rows", None)
    if held:
        rows.insert(RunEvent, EVENT_COLUMNS, list(held))
        held.clear()


def record(
    run_id: str, workflow_id: str, payloads: list[dict], only_if: tuple[str, list] | None = None
) -> None:
    """Store events for the run (inside the caller's transaction or `rows.batched()` block)
    and wake listeners once they are committed. `only_if` (SQL, params; one payload):
    stored only if that query returns a row."""
    from django.utils import timezone

    from . import rows
    from .models import RunEvent

    if not payloads:
        return
    now = timezone.now()
    values = [(run_id, workflow_id, p, now) for p in payloads]
    held = getattr(_held, "rows", None)
    if held is not None and only_if is None:
        held.extend(values)
    else:
        _store_held()  # what came first is stored first
        rows.insert(RunEvent, EVENT_COLUMNS, values, only_if=only_if)
    groups = [run_group(run_id), workflow_group(workflow_id)]
    rows.on_written(lambda: _wake(groups))
