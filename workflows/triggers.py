"""The `triggers` field of a workflow: each active trigger's URL or next run times."""
from __future__ import annotations

from django.conf import settings

from .models import Workflow, WorkflowStatus


def public_base(request=None) -> str:
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return "http://127.0.0.1:8000"


def active_triggers(workflow: Workflow, request=None) -> list[dict]:
    """[{node_id, type, url, next_runs}] for an active workflow; [] while inactive."""
    if workflow.status != WorkflowStatus.ACTIVE or workflow.active_version_id is None:
        return []
    tokens = dict(workflow.endpoints.values_list("node_id", "token"))
    base = public_base(request)
    found = []
    for node in workflow.active_version.document["nodes"]:
        if node["type"] == "trigger.webhook" and node["id"] in tokens:
            found.append({"node_id": node["id"], "type": node["type"], "url": f"{base}/hooks/{tokens[node['id']]}",
                          "next_runs": []})
    return found
