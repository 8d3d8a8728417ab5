"""A trigger's secret: the literal config value, or a workspace credential."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("switchyard.triggers")


def trigger_secret(workflow, node: dict, value: Any) -> str:
    """The trigger's secret: the literal config value, or a `{{ workspace.<name> }}`
    credential decrypted for this delivery (the access is audited like any other use)."""
    text = "" if value is None else str(value)
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
