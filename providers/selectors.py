"""Reads for provider connections and executions, scoped to the caller's workspaces."""

from __future__ import annotations

import uuid

from django.utils import timezone

from workflows.engine.masking import mask_url

from .adapters import registry
from .models import ProviderConnection, ProviderExecution


def connections_for(*, user):
    return ProviderConnection.objects.for_user(user).select_related("credential")


def executions_for(*, user):
    return ProviderExecution.objects.for_user(user).select_related("connection")


def find_connection(*, workspace_id, ref: str, provider: str | None = None) -> ProviderConnection | None:
    """A connection of the workspace by id, or else by name (of `provider`, when given)."""
    qs = ProviderConnection.objects.filter(workspace_id=workspace_id).select_related("credential")
    if provider:
        qs = qs.filter(provider=provider)
    try:
        found = qs.filter(pk=uuid.UUID(str(ref))).first()
    except ValueError:
        found = None
    return found or qs.filter(name=ref).first()


def _iso(value):
    return value.isoformat() if value else None


def connection_representation(conn: ProviderConnection) -> dict:
    """A connection as the API shows it: never a secret, only which credential holds it."""
    adapter = registry.get(conn.provider)
    credential = conn.credential
    return {
        "id": str(conn.id),
        "workspace": str(conn.workspace_id),
        "name": conn.name,
        "provider": conn.provider,
        "base_url": mask_url(conn.base_url),  # one saved before secrets were refused there
        "credential": credential.name if credential else None,
        "credential_fields_set": credential.fields_set if credential else [],
        "settings": conn.settings or {},
        "status": conn.status,
        "last_sync": _iso(conn.last_sync),
        "last_error": conn.last_error or None,
        "last_tested_at": _iso(conn.last_tested_at),
        "can_list": adapter.can_list,
        "default_wait": adapter.default_wait,
        "created_at": _iso(conn.created_at),
        "updated_at": _iso(conn.updated_at),
    }


def execution_representation(execution: ProviderExecution, *, detail: bool = False) -> dict:
    shown = {
        "id": str(execution.id),
        "connection": str(execution.connection_id) if execution.connection_id else None,
        "provider": execution.provider,
        "remote_id": execution.remote_id,
        "execution_id": execution.execution_id or None,
        "run": str(execution.run_id) if execution.run_id else None,
        "node_id": execution.node_id or None,
        "wait": execution.wait,
        "status": execution.status,
        "polls": execution.polls,
        "data": execution.data,
        "error": execution.error,
        "started_at": _iso(execution.started_at),
        "completed_at": _iso(execution.completed_at),
        "callback_expires_at": _iso(execution.callback_expires_at),
    }
    expires = execution.callback_expires_at
    if execution.status in ("sending", "running") and expires and expires < timezone.now():
        # A callback wait that ran out: over, whether or not a late callback ever comes.
        shown["status"] = "failed"
        shown["error"] = {"category": "TIMEOUT_ERROR", "message": "no callback came before the token expired"}
    if detail:
        shown["callbacks"] = execution.callbacks or []
    return shown


def providers_catalog() -> list[dict]:
    """Every registered provider with what its connect dialog asks for."""
    return [
        {
            "provider": a.name,
            "label": a.label,
            "credential_fields": list(a.credential_fields),
            "base_url_help": a.base_url_help,
            "default_wait": a.default_wait,
            "can_list": a.can_list,
        }
        for a in registry.all()
    ]
