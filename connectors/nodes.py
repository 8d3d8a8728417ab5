"""`connector.run`: run a workspace connector inside a workflow (SPEC §5)."""

from __future__ import annotations

from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.masking import secret_values
from workflows.engine.registry import NodeContext, NodeResult, node_type

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["connector"],
    "properties": {
        "connector": {"type": "string", "minLength": 1, "title": "Connector (id or name)"},
        "input": {"title": "Input", "description": "The connector's `input`; default: this node's input."},
    },
}


@node_type(
    "connector.run",
    label="Run connector",
    category="connector",
    description="Execute a workspace connector (one or more API calls); outputs the connector's output.",
    config_schema=CONFIG_SCHEMA,
    handles=("main",),
    icon="plug",
)
def run_connector_node(ctx: NodeContext) -> NodeResult:
    """Execute the connector synchronously through the host; its failure fails the node
    with the connector's error category (the connector already did its own retries)."""
    ref = ctx.config.get("connector")
    if not isinstance(ref, str) or not ref:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "config.connector must name a connector (id or name)")
    connector_input = ctx.config["input"] if "input" in ctx.config else ctx.input
    # Every workspace credential in the run's scope: a template may have put any of them
    # into the input, and the execution record must not keep them.
    secrets = secret_values((ctx.scope or {}).get("workspace")) + list(ctx.secrets)
    output = ctx.services.run_connector(
        connector=ref, input=connector_input, run_id=ctx.run_id, node_id=ctx.node_id, secrets=secrets
    )
    return NodeResult(output=output)
