"""Live run events (SPEC §7): stored in order with the change they describe, then a
wake-up is sent to listeners through the channel layer once the transaction commits."""
from __future__ import annotations

import asyncio
import logging
import threading

from django.db import transaction

logger = logging.getLogger("switchyard.events")


def run_group(run_id: str) -> str:
    return f"run.{run_id}"


def workflow_group(workflow_id: str) -> str:
    return f"workflow.{workflow_id}"


class _Waker:
    """Sends wake-ups from one long-lived event loop thread per process, without making
    the engine wait: a fresh loop (and Redis connection) per send cost ~2 ms a node."""

    def __init__(self):
        self._loop = None
        self._lock = threading.Lock()

    def _ensure_loop(self):
        with self._lock:
            if self._loop is None or not self._thread.is_alive():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="event-waker", daemon=True)
                self._thread.start()
        return self._loop

    async def _send(self, layer, groups):
        try:
            for group in groups:
                await layer.group_send(group, {"type": "events.wake"})
        except Exception:  # a missed wake-up only delays delivery: listeners also poll
            logger.debug("could not wake run listeners", exc_info=True)

    def wake(self, groups: list[str]) -> None:
        from channels.layers import InMemoryChannelLayer, get_channel_layer

        layer = get_channel_layer()
        # The in-memory layer neither crosses processes (workers are separate) nor is safe to
        # feed from another thread's loop: listeners in the embedded setup rely on polling.
        if layer is not None and not isinstance(layer, InMemoryChannelLayer):
            asyncio.run_coroutine_threadsafe(self._send(layer, groups), self._ensure_loop())


_waker = _Waker()


def _wake(groups: list[str]) -> None:
    _waker.wake(groups)


def node_event(run_id: str, state) -> dict:
    return {
        "type": "node.status",
        "run_id": run_id,
        "node_id": state.node_id,
        "iteration": state.iteration,
        "status": state.status,
        "attempt": state.attempts,
        "duration_ms": state.duration_ms,
        "error": state.error,
    }


def record(run_id: str, workflow_id: str, payloads: list[dict]) -> None:
    """Store events for the run (inside the caller's transaction) and wake listeners."""
    from .models import RunEvent

    if not payloads:
        return
    RunEvent.objects.bulk_create(RunEvent(run_id=run_id, workflow_id=workflow_id, payload=p) for p in payloads)
    groups = [run_group(run_id), workflow_group(workflow_id)]
    transaction.on_commit(lambda: _wake(groups))
