"""A trigger's secret: the literal config value, or a workspace credential. Which config
fields hold secrets is the trigger type's own say (`TriggerSpec.secret_fields`)."""

from __future__ import annotations

import logging
from typing import Any

from workflows.engine.masking import MASK
from workflows.engine.registry import registry
from workflows.trigger_secrets import unseal

logger = logging.getLogger("switchyard.triggers")


def secret_field(workflow, node: dict, field: str) -> str:
    """The value of the secret at dotted config path `field` (one of the node type's
    `TriggerSpec.secret_fields`), read through `trigger_secret`; "" when unset."""
    spec = registry.trigger_spec(node["type"])
    if spec is None or field not in spec.secret_fields:
        raise ValueError(f"{field!r} is not a secret field of {node['type']}")
    value: Any = node.get("config") or {}
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return trigger_secret(workflow, node, value)


def trigger_secret(workflow, node: dict, value: Any) -> str:
    """The trigger's secret: the literal config value (sealed at rest, see
    `workflows.trigger_secrets`), or a `{{ workspace.<name> }}`
    credential decrypted for this delivery (the access is audited like any other use)."""
    text = "" if value is None else str(unseal(value))
    if text == MASK:
        return ""  # unset (a masked secret that was copied): matches nothing
    if "{{" not in text:
        return text
    from connectors.services import credential_refs, resolve_credentials
    from workflows.engine.templates import render

    names = credential_refs(text)
    creds = resolve_credentials(
        workspace_id=workflow.workspace_id,
        names=names,
        purpose=f"{node['type']} {node['id']} of workflow {workflow.pk}",
    )
    try:
        return str(render(text, {"workspace": creds}))
    except Exception:  # a credential removed since activation: nothing can match
        logger.warning(
            "secret of %s %s in workflow %s does not render", node["type"], node["id"], workflow.pk
        )
        return ""
