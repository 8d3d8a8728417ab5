"""Publishing run changes to live listeners (websockets), after the transaction commits."""
from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger("switchyard.events")


def run_group(run_id: str) -> str:
    return f"run.{run_id}"


def workflow_group(workflow_id: str) -> str:
    return f"workflow.{workflow_id}"


def _send(groups: list[str], message: dict) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, {"type": "run.event", "event": message})
    except Exception:  # live events are best-effort; the stored state is the truth
        logger.warning("could not publish a run event", exc_info=True)


def node_changes(run_id: str, states) -> None:
    messages = [
        {
            "type": "node.status",
            "run_id": run_id,
            "node_id": s.node_id,
            "iteration": s.iteration,
            "status": s.status,
            "attempt": s.attempts,
            "duration_ms": s.duration_ms,
            "error": s.error,
        }
        for s in states
    ]
    transaction.on_commit(lambda: [_send([run_group(run_id)], m) for m in messages])


def run_change(run_id: str, workflow_id: str, status: str) -> None:
    message = {"type": "run.status", "run_id": run_id, "status": status}
    transaction.on_commit(lambda: _send([run_group(run_id), workflow_group(workflow_id)], message))
