"""Activation checks for what workflow nodes refer to in this app: the connector a
`connector.run` node names, and the credentials any node's config references as
`{{ workspace.<name> }}`. Registered with `workflows.triggers.activation` from
`ConnectorsConfig.ready()`."""

from __future__ import annotations

import uuid

from workflows.engine.errors import NodeError, ValidationIssue
from workflows.engine.registry import registry

from .models import Connector, Credential
from .services import credential_refs


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def connector_issues(workflow, node: dict) -> list[ValidationIssue]:
    if node.get("type") != "connector.run":
        return []
    ref = str((node.get("config") or {}).get("connector") or "")
    qs = Connector.objects.filter(workspace=workflow.workspace)
    if "{{" in ref or qs.filter(name=ref).exists() or qs.filter(pk=_uuid(ref)).exists():
        return []
    return [
        ValidationIssue(
            node=node["id"], field="config.connector", message=f"No connector {ref!r} in this workspace."
        )
    ]


def connection_issues(workflow, node: dict) -> list[ValidationIssue]:
    """Adapter nodes (`db.*`, `mq.*`, `trigger.queue`, …) name a workspace credential in
    `config.credential`; a queue trigger's credential must also be a broker it can consume."""
    node_type = registry.get(node["type"]) if node.get("type") in registry else None
    ref = (node.get("config") or {}).get("credential")
    if node_type is None or "credential" not in node_type.config_schema.get("properties", {}):
        return []
    if not isinstance(ref, str) or "{{" in ref:
        return []
    credential = Credential.objects.filter(workspace=workflow.workspace, name=ref).first()
    if credential is None:
        message = f"Credential {ref!r} does not exist in this workspace."
        return [ValidationIssue(node=node["id"], field="config.credential", message=message)]
    if node["type"] == "trigger.queue":
        from .adapters.base import settings_from
        from .adapters.queue_trigger import RECEIVING_SCHEMES

        try:
            scheme = settings_from(
                credential_id=str(credential.pk), credential_name=ref, data=credential.data
            ).scheme
        except NodeError:
            scheme = ""
        if scheme not in RECEIVING_SCHEMES:
            message = "A queue trigger consumes amqp://, mqtt://, redis:// or nats:// (JetStream) URLs only."
            return [ValidationIssue(node=node["id"], field="config.credential", message=message)]
    return []


def credential_issues(workflow, node: dict) -> list[ValidationIssue]:
    names = set(Credential.objects.filter(workspace=workflow.workspace).values_list("name", flat=True))
    return [
        ValidationIssue(
            node=node["id"], field="config", message=f"Credential {name!r} does not exist in this workspace."
        )
        for name in sorted(credential_refs(node.get("config") or {}))
        if name not in names
    ]
