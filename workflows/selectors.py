"""Reads for workspaces and workflows, always scoped to the caller's workspaces."""

from __future__ import annotations

from django.utils import timezone

from config.api_errors import ApiError

from .models import Membership, Workflow, WorkflowVersion, Workspace
from .trigger_secrets import mask_document

SCHEMA = "switchyard.workflow/1"


def workspaces_for(*, user):
    return Workspace.objects.filter(memberships__user=user)


def role_in(*, user, workspace_id) -> str | None:
    return (
        Membership.objects.filter(user=user, workspace_id=workspace_id).values_list("role", flat=True).first()
    )


def workflows_for(*, user):
    return Workflow.objects.for_user(user).select_related("workspace")


def latest_version(workflow: Workflow) -> WorkflowVersion | None:
    return workflow.versions.order_by("-number").first()


def document_of(workflow: Workflow) -> dict:
    """The workflow's current document (the latest immutable version)."""
    version = latest_version(workflow)
    if version is None:
        return {
            "schema": SCHEMA,
            "name": workflow.name,
            "description": workflow.description,
            "variables": workflow.variables,
            "settings": workflow.settings,
            "nodes": [],
            "edges": [],
        }
    return version.document


def _node_map(doc: dict) -> dict:
    return {n.get("id"): n for n in doc.get("nodes") or [] if isinstance(n, dict)}


def changes_between(old: dict | None, new: dict) -> list[str]:
    """A short human summary of what changed from `old` to `new`."""
    if old is None:
        n = len(new.get("nodes") or [])
        return [f"created with {n} node{'s' if n != 1 else ''}"]
    out = []
    before, after = _node_map(old), _node_map(new)
    added = [k for k in after if k not in before]
    removed = [k for k in before if k not in after]
    changed = [k for k in after if k in before and _strip_position(after[k]) != _strip_position(before[k])]
    moved = [
        k
        for k in after
        if k in before and k not in changed and after[k].get("position") != before[k].get("position")
    ]
    if added:
        out.append("added " + ", ".join(added))
    if removed:
        out.append("removed " + ", ".join(removed))
    if changed:
        out.append("changed " + ", ".join(changed))
    if old.get("edges") != new.get("edges"):
        out.append(f"edges {len(old.get('edges') or [])} → {len(new.get('edges') or [])}")
    for key in ("name", "description", "variables", "settings"):
        if old.get(key) != new.get(key):
            out.append(f"{key} changed")
    if moved and not out:
        out.append("moved " + ", ".join(moved))
    return out or ["no change"]


def _strip_position(node: dict) -> dict:
    return {k: v for k, v in node.items() if k != "position"}


def version_list(workflow: Workflow) -> list[dict]:
    versions = list(workflow.versions.select_related("created_by").order_by("number"))
    rows = []
    previous = None
    for v in versions:
        rows.append(
            {
                "number": v.number,
                "created_by": v.created_by.get_username() if v.created_by else None,
                "created_at": v.created_at.isoformat(),
                "changes": changes_between(previous, v.document),
            }
        )
        previous = v.document
    return list(reversed(rows))


def version_detail(workflow: Workflow, number: int) -> dict:
    try:
        v = workflow.versions.select_related("created_by").get(number=number)
    except WorkflowVersion.DoesNotExist:
        raise ApiError("NOT_FOUND", f"Workflow has no version {number}.", status_code=404) from None
    return {
        "number": v.number,
        "created_by": v.created_by.get_username() if v.created_by else None,
        "created_at": v.created_at.isoformat(),
        "document": mask_document(v.document),
    }


def runs_today(workflow: Workflow) -> int:
    """Runs of the workflow started since midnight UTC (every mode)."""
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return workflow.runs.filter(created_at__gte=start).count()


def daily_usage(workflow: Workflow) -> dict:
    """`{runs_today, max_runs_per_day}`: runs started since midnight UTC (every mode, as the
    limit counts them) against `settings.max_runs_per_day` (null: no limit)."""
    limit = (workflow.settings or {}).get("max_runs_per_day")
    return {"runs_today": runs_today(workflow), "max_runs_per_day": limit or None}
