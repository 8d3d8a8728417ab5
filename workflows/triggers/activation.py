"""What a workflow needs before it can be activated (SPEC §6 /validate, /activate)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.db import transaction

from ..engine.document import validate
from ..engine.errors import ValidationIssue, WorkflowInvalid
from ..engine.registry import registry
from ..models import TriggerEndpoint, Workflow, WorkflowStatus
from ..selectors import document_of
from ..trigger_secrets import unseal_document, unset_secrets
from .schedules import register_schedules, unregister_schedules

# Checks of what a node refers to outside the document: check(workflow, node) -> issues.
# Apps above this one register theirs from `ready()` (connectors: connectors, credentials).
ReferenceCheck = Callable[[Workflow, dict], list[ValidationIssue]]
_reference_checks: list[ReferenceCheck] = []


def register_reference_check(check: ReferenceCheck) -> ReferenceCheck:
    """Add a check run on every node at validation and activation time."""
    if check not in _reference_checks:
        _reference_checks.append(check)
    return check


def activation_issues(
    workflow: Workflow, document: dict | None = None, *, document_valid: bool = False
) -> list[ValidationIssue]:
    """Every problem that would stop `workflow` from running live: document rules (§2) plus
    activation rules (a trigger exists; referenced connectors, credentials, connections and
    sub-workflows exist in the same workspace). `document` (e.g. a draft) stands in for the
    latest version; the activation rules are checked only once the document rules pass.
    `document_valid` skips the document rules for a document already known to pass them (a
    saved version)."""
    # Sealed trigger secrets are checked as the text they hold (in memory only).
    doc = unseal_document(document_of(workflow) if document is None else document)
    issues = [] if document_valid else list(validate(doc, registry))
    if document is not None and issues:
        return issues
    nodes = doc.get("nodes") or []
    if not any(registry.get(n["type"]).is_trigger for n in nodes if n.get("type") in registry):
        issues.append(ValidationIssue(node=None, field="nodes", message="The workflow has no trigger node."))
    for node in nodes:
        issues += _reference_issues(workflow, node)
    issues += _schedule_issues(doc, already={i.node for i in issues})
    issues += [
        ValidationIssue(
            node=node_id,
            field=f"config.{field}",
            message=f"{field} is not set (a masked secret is not copied): type it again or "
            "reference a credential as {{ workspace.<name> }}.",
        )
        for node_id, field in unset_secrets(doc)
    ]
    return issues


def _schedule_issues(doc: dict, *, already: set) -> list[ValidationIssue]:
    """Templated cron/timezone values rendered against the variables, and schedules that never
    fire (e.g. 30 February); nodes already reported by the document rules are not repeated."""
    from .schedules import ScheduleInvalid, schedule_nodes, spec_of

    issues = []
    for node in schedule_nodes(doc):
        if node.get("id") in already:
            continue
        try:
            spec_of(node, doc.get("variables") or {})
        except ScheduleInvalid as exc:
            issues.append(ValidationIssue(node=node["id"], field=exc.field, message=exc.message))
    return issues


def _reference_issues(workflow: Workflow, node: dict) -> list[ValidationIssue]:
    issues = _subworkflow_issues(workflow, node)
    for check in _reference_checks:
        issues += check(workflow, node)
    return issues


def _subworkflow_issues(workflow: Workflow, node: dict) -> list[ValidationIssue]:
    config = node.get("config") or {}
    if node.get("type") != "flow.subworkflow":
        return []
    target = str(config.get("workflow") or "")
    if "{{" in target or Workflow.objects.filter(workspace=workflow.workspace, pk=_uuid(target)).exists():
        return []
    return [
        ValidationIssue(
            node=node["id"],
            field="config.workflow",
            message=f"No workflow {target!r} in this workspace.",
        )
    ]


def _uuid(value: str):
    import uuid

    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def _endpoint_nodes(document: dict) -> list[dict]:
    """The trigger nodes reached through a public token (their type's `TriggerSpec` says so:
    `/hooks/<token>`, `/forms/<token>`, `<token>@INBOUND_EMAIL_DOMAIN`)."""
    return [n for n in document["nodes"] if (spec := registry.trigger_spec(n["type"])) and spec.has_token]


def new_token(node_type: str) -> str:
    """An unguessable token (≥ 128 bits) in the trigger type's style; "hex" is lowercase,
    for case-insensitive addresses."""
    spec = registry.trigger_spec(node_type)
    return secrets.token_hex(16) if spec is not None and spec.token == "hex" else secrets.token_urlsafe(24)


@transaction.atomic
def activate_workflow(*, workflow: Workflow) -> Workflow:
    """Validate everything a live workflow needs, then register its triggers and set it
    `active`. Raises WorkflowInvalid (per-node errors) and changes nothing when invalid."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    issues = activation_issues(workflow)
    if issues:
        raise WorkflowInvalid(issues)
    version = workflow.versions.order_by("-number").first()
    for node in _endpoint_nodes(version.document):
        TriggerEndpoint.objects.get_or_create(
            workflow=workflow, node_id=node["id"], defaults={"token": new_token(node["type"])}
        )
    # One django-q2 schedule per schedule node, pinned to this version (replacing any earlier).
    register_schedules(workflow=workflow, version=version)
    workflow.status = WorkflowStatus.ACTIVE
    workflow.active_version = version
    workflow.save(update_fields=["status", "active_version", "updated_at"])
    return workflow


@transaction.atomic
def deactivate_workflow(*, workflow: Workflow) -> Workflow:
    """Stop taking live events: endpoints answer 404 until the workflow is activated again,
    and its schedules are removed."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    unregister_schedules(workflow=workflow)
    workflow.status = WorkflowStatus.INACTIVE
    workflow.save(update_fields=["status", "updated_at"])
    return workflow
