"""Writes for workspaces and workflows. Keyword-only, transactional, validated first."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.api_errors import ApiError

from . import trigger_secrets
from .engine.document import validate_or_raise
from .engine.registry import registry
from .models import Edge, Membership, Node, Role, Workflow, WorkflowDraft, WorkflowVersion, Workspace
from .selectors import document_of

DOCUMENT_FIELDS = ("name", "description", "variables", "settings", "nodes", "edges")


@transaction.atomic
def ensure_personal_workspace(*, user) -> Workspace:
    """The user's personal workspace, created on first use when they belong to none."""
    membership = (
        Membership.objects.filter(user=user).select_related("workspace").order_by("created_at").first()
    )
    if membership:
        return membership.workspace
    label = user.get_full_name() or user.get_username()
    workspace = Workspace.objects.create(name=f"{label}'s workspace", is_personal=True)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    return workspace


@transaction.atomic
def add_member(*, workspace: Workspace, user, role: str = Role.EDITOR) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


def _write_rows(workflow: Workflow, doc: dict) -> None:
    Node.objects.filter(workflow=workflow).delete()
    Edge.objects.filter(workflow=workflow).delete()
    Node.objects.bulk_create(
        Node(
            workflow=workflow,
            order=i,
            node_id=n["id"],
            type=n["type"],
            name=n.get("name") or "",
            description=n.get("description") or "",
            config=n.get("config") or {},
            position=n.get("position"),
            retry=n.get("retry") or {},
            timeout_ms=n.get("timeout_ms"),
            on_error=n.get("on_error") or "fail",
            on_timeout=n.get("on_timeout") or "fail",
            default_output=n.get("default_output"),
        )
        for i, n in enumerate(doc["nodes"])
    )
    Edge.objects.bulk_create(
        Edge(
            workflow=workflow,
            index=i,
            source=e["source"],
            target=e["target"],
            source_handle=e.get("source_handle") or "main",
            target_handle=e.get("target_handle") or "main",
            mapping=e.get("mapping") or {},
        )
        for i, e in enumerate(doc["edges"])
    )


def _save_document(*, workflow: Workflow, doc: dict, user) -> Workflow:
    """Store a validated, normalized document: fields, rows, and a new version if it changed."""
    workflow.name = doc.get("name") or workflow.name or "Untitled workflow"
    workflow.description = doc.get("description") or ""
    workflow.variables = doc.get("variables") or {}
    workflow.settings = doc.get("settings") or {}
    latest = workflow.versions.order_by("-number").first() if workflow.pk and workflow.version else None
    if latest is None or latest.document != doc:
        workflow.version += 1
        workflow.save()
        WorkflowVersion.objects.create(
            workflow=workflow, number=workflow.version, document=doc, created_by=user
        )
        _write_rows(workflow, doc)
    else:
        workflow.save()
    return workflow


def _stored_documents(workflow: Workflow | None) -> list[dict]:
    """Where a `***` trigger secret is kept from: the draft (what the builder edited),
    then the latest version."""
    if workflow is None or workflow.pk is None:
        return []
    found = [d.document for d in WorkflowDraft.objects.filter(workflow=workflow)]
    return found + ([document_of(workflow)] if workflow.version else [])


def _validated(document: Any, workflow: Workflow | None) -> dict:
    """The document validated and normalized, its trigger secrets sealed; a `***` secret
    keeps the one stored for its node (`trigger_secrets`)."""
    previous = _stored_documents(workflow)
    doc = validate_or_raise(trigger_secrets.restore_masked(document, previous), registry)
    return trigger_secrets.seal_document(doc, previous)


@transaction.atomic
def create_workflow(*, user, workspace: Workspace, document: dict) -> Workflow:
    """Validate `document` (SPEC §2) and store it as a new workflow; nothing is stored if invalid."""
    doc = _validated(document, None)
    workflow = Workflow(workspace=workspace, created_by=user, name=doc.get("name") or "Untitled workflow")
    return _save_document(workflow=workflow, doc=doc, user=user)


@transaction.atomic
def replace_workflow(*, user, workflow: Workflow, document: dict) -> Workflow:
    """PUT: the whole document replaces the stored one."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    workflow = _save_document(workflow=workflow, doc=_validated(document, workflow), user=user)
    WorkflowDraft.objects.filter(workflow=workflow).delete()  # the draft became this version
    return workflow


@transaction.atomic
def patch_workflow(*, user, workflow: Workflow, changes: dict) -> Workflow:
    """PATCH: top-level document fields in `changes` replace the stored ones."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    doc = dict(trigger_secrets.unseal_document(document_of(workflow)))
    doc.update({k: v for k, v in changes.items() if k in DOCUMENT_FIELDS or k == "schema"})
    return _save_document(workflow=workflow, doc=_validated(doc, workflow), user=user)


@transaction.atomic
def delete_workflow(*, workflow: Workflow) -> None:
    from .triggers.schedules import unregister_schedules

    unregister_schedules(workflow=workflow)  # its Django-Q schedule rows go with it
    workflow.delete()


# ---- drafts: the builder's working copy (SPEC §6 GET/PUT /workflows/{id}/draft) ----

TOP_LEVEL_TYPES = {
    "schema": str,
    "name": str,
    "description": str,
    "variables": dict,
    "settings": dict,
    "nodes": list,
    "edges": list,
}


def check_shape(document: Any) -> dict:
    """A draft must have the document's top-level shape (its fields may still be invalid)."""
    if not isinstance(document, dict):
        raise ApiError(
            "VALIDATION_ERROR",
            "The draft must be a JSON object shaped like a workflow document.",
            details={"document": ["Expected a JSON object."]},
        )
    problems = {}
    for key in ("nodes", "edges"):
        if key not in document:
            problems[key] = [f"`{key}` is required (a list)."]
    for key, kind in TOP_LEVEL_TYPES.items():
        if key in document and document[key] is not None and not isinstance(document[key], kind):
            problems[key] = [f"`{key}` must be a {'JSON object' if kind is dict else kind.__name__}."]
    if problems:
        raise ApiError(
            "VALIDATION_ERROR",
            "The draft does not have the shape of a workflow document: "
            + "; ".join(f"{k}: {v[0]}" for k, v in problems.items()),
            details=problems,
        )
    return document


def parse_base_version(value: Any, workflow: Workflow) -> int:
    if value is None:
        return workflow.version
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(
            "VALIDATION_ERROR",
            "base_version must be a non-negative integer.",
            details={"base_version": ["Expected a non-negative integer."]},
        )
    return value


@transaction.atomic
def save_draft(*, user, workflow: Workflow, document: Any, base_version: Any = None) -> Workflow:
    """Store `document` as the working copy; 409 CONFLICT if it is based on an older version
    than the latest (someone saved in between: nothing is overwritten silently)."""
    document = check_shape(document)
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    base = parse_base_version(base_version, workflow)
    if base < workflow.version:
        raise ApiError(
            "CONFLICT",
            f"This draft is based on v{base}, but v{workflow.version} was saved since "
            "(in another tab or by someone else). Reload to continue from the latest version.",
            status_code=409,
            details={"base_version": base, "latest_version": workflow.version},
        )
    previous = _stored_documents(workflow)
    document = trigger_secrets.seal_document(trigger_secrets.restore_masked(document, previous), previous)
    WorkflowDraft.objects.update_or_create(
        workflow=workflow,
        defaults={"document": document, "base_version": workflow.version, "updated_by": user},
    )
    return workflow


def clear_draft(*, workflow: Workflow) -> None:
    WorkflowDraft.objects.filter(workflow=workflow).delete()
