"""Node types for adapter operations: `db.query`, `mq.publish`, `file.upload`, … (SPEC §5).

Every operation an adapter registers becomes a node type the first time an adapter of its
family offers it; the palette, validation and the scheduler read it from the node registry
like any other type. The executor hands the node to `lifecycle.run_operation` with the
host's credential resolver and operation recorder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.registry import NodeContext, NodeResult, NodeType, registry

from .base import Adapter, Limits, Operation
from .lifecycle import OperationRequest, run_operation
from .mapping import MAPPING_SCHEMA, mapping_problems
from .registry import adapters

COMMON_KEYS = ("credential", "input_mapping", "output_mapping")
DEFAULT_TIMEOUT_S = 30.0
PALETTE_CATEGORY = {
    "db": "database",
    "mq": "queue",
    "file": "file",
    "soap": "api",
    "graphql": "api",
    "grpc": "api",
}


def _config_schema(family: str, op: Operation) -> dict[str, Any]:
    own = op.config_schema
    return {
        "type": "object",
        "required": ["credential", *own.get("required", [])],
        "properties": {
            "credential": {
                "type": "string",
                "minLength": 1,
                "title": "Connection",
                "description": "A workspace credential; its data.url says where to connect",
            },
            **own.get("properties", {}),
            "input_mapping": {
                **MAPPING_SCHEMA,
                "title": f"Input mapping (applied to {op.payload_key})"
                if op.payload_key
                else "Input mapping",
            },
            "output_mapping": {**MAPPING_SCHEMA, "title": "Output mapping"},
        },
    }


def _validator(op: Operation):
    def validate(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
        for key in ("input_mapping", "output_mapping"):
            yield from mapping_problems(config.get(key), key)

    return validate


def _executor(family: str, op: Operation):
    def execute(ctx: NodeContext) -> NodeResult:
        from . import host  # Django side: credentials and operation records

        credential = ctx.config.get("credential")
        if not isinstance(credential, str) or not credential:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR, "config.credential must name a workspace credential"
            )
        remaining = ctx.remaining_s()
        services = ctx.services
        host_resolve = host.resolver(run_id=ctx.run_id, node_id=ctx.node_id, workflow_id=ctx.workflow_id)

        def resolve(name: str):
            settings = host_resolve(name)
            ctx.add_secrets(*settings.secrets)  # the run masks them in all it stores
            return settings

        request = OperationRequest(
            family=family,
            operation=op.name,
            credential=credential,
            params={k: v for k, v in ctx.config.items() if k not in COMMON_KEYS},
            resolve=resolve,
            log=ctx.log,
            limits=Limits(
                timeout_s=DEFAULT_TIMEOUT_S if remaining is None else remaining,
                allow_private=bool(getattr(services, "allow_private_outbound", False)),
                max_bytes=int(getattr(services, "max_response_bytes", 10 * 1024 * 1024)),
            ),
            attempt=ctx.attempt,
            max_attempts=int((ctx.node.get("retry") or {}).get("max_attempts") or 1),
            input_mapping=ctx.raw_config.get("input_mapping"),
            output_mapping=ctx.raw_config.get("output_mapping"),
            payload_key=op.payload_key,
            scope=ctx.scope,
            code_limits=getattr(services, "code_limits", None),
            cancelled=ctx.cancelled,
        )
        outcome = run_operation(
            request, record=host.recorder(run_id=ctx.run_id, node_id=ctx.node_id, workflow_id=ctx.workflow_id)
        )
        return NodeResult(output=outcome.output)

    return execute


def register_operations(adapter: Adapter) -> None:
    """Give each of the adapter's operations a node type (once per family and operation)."""
    for op in adapter.available_operations():
        if op.node_type in registry:
            continue
        registry.register(
            NodeType(
                type=op.node_type,
                execute=_executor(adapter.family, op),
                label=op.label,
                category=PALETTE_CATEGORY.get(adapter.family, "integration"),
                description=op.description,
                config_schema=_config_schema(adapter.family, op),
                output_schema=op.output_schema,
                raw_config_keys=frozenset({"input_mapping", "output_mapping"}),
                validate_config=_validator(op),
                handles=("main",),
                icon=op.icon,
            )
        )


adapters.listeners.append(register_operations)
for _adapter in adapters.all():  # adapters registered before this module loaded
    register_operations(_adapter)
