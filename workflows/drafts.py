"""Reads of a workflow's draft (the builder's working copy), with the errors that would
stop it from being activated."""

from __future__ import annotations

from .models import Workflow, WorkflowDraft
from .selectors import document_of
from .trigger_secrets import mask_document
from .triggers.activation import activation_issues


def draft_errors(workflow: Workflow, document: dict, *, saved: bool = False) -> list[dict]:
    """The `validate` errors of `document`; a saved version passed the document rules already."""
    return [i.as_dict() for i in activation_issues(workflow, document, document_valid=saved)]


def draft_view(workflow: Workflow) -> dict:
    """The answer of GET/PUT draft: the working copy (or the latest version when there is no
    draft), its errors, when it was stored (null: no draft) and the version it is based on."""
    draft = WorkflowDraft.objects.filter(workflow=workflow).first()
    if draft is None:
        document = document_of(workflow)
        return {
            "document": mask_document(document),
            "errors": draft_errors(workflow, document, saved=bool(workflow.version)),
            "updated_at": None,
            "base_version": workflow.version,
        }
    return {
        "document": mask_document(draft.document),
        "errors": draft_errors(workflow, draft.document),
        "updated_at": draft.updated_at.isoformat(),
        "base_version": draft.base_version,
    }
