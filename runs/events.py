"""Live run events (SPEC §7): stored in order with the change they describe, then a
wake-up is sent to listeners through the channel layer once the transaction commits."""
from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger("switchyard.events")


def run_group(run_id: str) -> str:
    return f"run.{run_id}"


def workflow_group(workflow_id: str) -> str:
    return f"workflow.{workflow_id}"


def _wake(groups: list[str]) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, {"type": "events.wake"})
    except Exception:  # a missed wake-up only delays delivery: listeners also poll
        logger.debug("could not wake run listeners", exc_info=True)


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
