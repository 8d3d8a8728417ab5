"""Reads for workspaces and workflows, always scoped to the caller's workspaces."""

from __future__ import annotations

from .models import Membership, Workflow, WorkflowVersion, Workspace

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
