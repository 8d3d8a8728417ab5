"""The `triggers` field of a workflow: each active trigger's URL, address or next run times."""

from __future__ import annotations

from django.conf import settings

from ..engine.registry import registry
from ..models import Workflow, WorkflowStatus
from . import schedules


def public_base(request=None) -> str:
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return settings.SERVE_BASE_URL or "http://127.0.0.1:8000"


def active_triggers(workflow: Workflow, request=None) -> list[dict]:
    """[{node_id, type, url, next_runs}] for an active workflow; [] while inactive. Schedules
    have `url` null, `next_runs` (the next 5 slots, ISO with the zone's offset), `cron` and
    `timezone`."""
    if workflow.status != WorkflowStatus.ACTIVE or workflow.active_version_id is None:
        return []
    tokens = dict(workflow.endpoints.values_list("node_id", "token"))
    base = public_base(request)
    document = workflow.active_version.document
    found = []
    for node in document["nodes"]:
        spec = registry.trigger_spec(node["type"])
        if spec is None:
            continue
        if spec.endpoint == "schedule":
            found.append(_schedule_entry(node, document.get("variables") or {}))
            continue
        token = tokens.get(node["id"])
        if token is None:
            continue
        entry = {
            "node_id": node["id"],
            "type": node["type"],
            "url": endpoint_url(spec.endpoint, token, base),
            "next_runs": [],
        }
        if spec.endpoint == "email":
            entry["address"] = email_address(token)
        found.append(entry)
    return found


def _schedule_entry(node: dict, variables: dict) -> dict:
    entry = {"node_id": node["id"], "type": node["type"], "url": None, "next_runs": []}
    try:
        spec = schedules.spec_of(node, variables)
    except schedules.ScheduleInvalid:
        return entry
    entry.update(
        next_runs=[slot.isoformat() for slot in spec.upcoming()], cron=spec.cron, timezone=spec.timezone
    )
    return entry


def email_address(token: str) -> str:
    return f"{token}@{settings.INBOUND_EMAIL_DOMAIN}"


ENDPOINT_PATHS = {"hook": "/hooks/", "form": "/forms/"}


def endpoint_url(endpoint: str, token: str, base: str) -> str:
    """The public address of a token-bearing trigger, by its `TriggerSpec.endpoint` kind."""
    if endpoint == "email":
        return f"mailto:{email_address(token)}"
    return f"{base}{ENDPOINT_PATHS[endpoint]}{token}"
