"""Reads for connectors, executions and credentials, always scoped to the caller's workspaces."""

from __future__ import annotations

from .models import Connector, ConnectorExecution, Contact, Credential
from .secrets import masked


def connectors_for(*, user):
    return Connector.objects.for_user(user)


def executions_for(*, user):
    return ConnectorExecution.objects.for_user(user).select_related("connector")


def credentials_for(*, user):
    return Credential.objects.for_user(user)


def contact_in(*, workspace_id, contact_id) -> Contact | None:
    """The contact if it belongs to the workspace (None otherwise, whatever the reason)."""
    return Contact.objects.filter(workspace_id=workspace_id, pk=contact_id).first()


def find_connector(*, workspace_id, ref: str) -> Connector | None:
    """A connector of the workspace by id, or else by name."""
    import uuid

    qs = Connector.objects.filter(workspace_id=workspace_id)
    try:
        found = qs.filter(pk=uuid.UUID(str(ref))).first()
    except ValueError:
        found = None
    return found or qs.filter(name=ref).first()


def connector_representation(connector: Connector) -> dict:
    return {
        "id": str(connector.id),
        "workspace": str(connector.workspace_id),
        "name": connector.name,
        "description": connector.description,
        "kind": connector.kind,
        "config": masked(connector.config),
        "timeout_ms": connector.timeout_ms,
        "statistics": {
            "total_executions": connector.total_executions,
            "successful_executions": connector.successful_executions,
            "failed_executions": connector.failed_executions,
            "average_duration_ms": connector.average_duration_ms,
            "last_executed_at": _iso(connector.last_executed_at),
        },
        "created_at": _iso(connector.created_at),
        "updated_at": _iso(connector.updated_at),
    }


def execution_representation(execution: ConnectorExecution) -> dict:
    return {
        "id": str(execution.id),
        "connector": str(execution.connector_id),
        "workspace": str(execution.workspace_id),
        "status": execution.status,
        "input": execution.input,
        "output": execution.output,
        "steps": execution.steps,
        "error": execution.error,
        "error_category": execution.error_category or None,
        "execution_time_ms": execution.execution_time_ms,
        "contact": str(execution.contact_id) if execution.contact_id else None,
        "run": str(execution.run_id) if execution.run_id else None,
        "node_id": execution.node_id or None,
        "created_at": _iso(execution.created_at),
        "started_at": _iso(execution.started_at),
        "completed_at": _iso(execution.completed_at),
    }


def credential_representation(credential: Credential) -> dict:
    """Never the values: only which fields are set."""
    return {
        "id": str(credential.id),
        "workspace": str(credential.workspace_id),
        "name": credential.name,
        "kind": credential.kind,
        "fields_set": credential.fields_set,
        "last_used_at": _iso(credential.last_used_at),
        "created_at": _iso(credential.created_at),
        "updated_at": _iso(credential.updated_at),
    }


def _iso(value):
    return value.isoformat() if value else None


def connectors_for_workspace(*, workspace_id):
    """A workspace's connectors (the caller has already checked membership)."""
    return Connector.objects.filter(workspace_id=workspace_id).order_by("name")
