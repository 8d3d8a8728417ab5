"""`trigger.schedule` intake: the Django-Q task a schedule row names fires one slot.

The rows are armed by `workflows.triggers.schedules` (activation, start-up repair); this
module starts the run for the slot. `runs.tasks.fire_schedule` is the task path the rows
name (rows armed under the old path, `workflows.schedules.fire_schedule`, are renamed by
migration `runs.0010`)."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction

from workflows.models import Workflow, WorkflowStatus
from workflows.triggers.schedules import NODE_TYPE, rearm, schedule_nodes, spec_of

from ..services import RunRefused, start_run

logger = logging.getLogger("switchyard.schedules")


def fire_schedule(*, workflow_id: str, node_id: str, version_id: int, slot: str):
    """django-q2 task for one slot: arm the next slot, then start a live run with
    `{scheduled_at}` (ISO, in the trigger's zone). A workflow deactivated or re-activated on
    another version since the row was armed is left alone. Over `max_runs_per_day` the slot
    is refused and logged. Returns the run id, or None when nothing started."""
    when = datetime.fromisoformat(slot)
    with transaction.atomic():
        workflow = (
            Workflow.objects.select_for_update(of=("self",))
            .select_related("active_version")
            .filter(pk=workflow_id)
            .first()
        )
        if (
            workflow is None
            or workflow.status != WorkflowStatus.ACTIVE
            or workflow.active_version_id != int(version_id)
        ):
            logger.info(
                "schedule %s:%s slot %s dropped: the workflow is no longer active on that version",
                workflow_id,
                node_id,
                slot,
            )
            return None
        version = workflow.active_version
        node = next((n for n in schedule_nodes(version.document) if n["id"] == node_id), None)
        if node is None:
            return None
        spec = spec_of(node, version.document.get("variables") or {})
        rearm(workflow=workflow, version=version, node_id=node_id, spec=spec, fired=when)
        scheduled_at = when.astimezone(spec.zone).isoformat()
        try:
            run = start_run(
                workflow=workflow,
                input={"scheduled_at": scheduled_at},
                mode="live",
                trigger_node=node_id,
                trigger_type=NODE_TYPE,
                version=version,
                idempotency_key=f"schedule:{node_id}:{when.astimezone(ZoneInfo('UTC')).isoformat()}",
                enforce_daily_limit=True,
            )
        except RunRefused as exc:
            logger.warning(
                "schedule %s of workflow %s: slot %s refused: %s",
                node_id,
                workflow_id,
                scheduled_at,
                exc.message,
            )
            return None
    return str(run.pk)
