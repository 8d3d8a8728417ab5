"""`data.transform` (SPEC §5): set dotted paths, optionally keep the input, remove paths.

Copy-on-write: only the dicts along each touched path are copied, so upstream outputs
(shared, never copied wholesale) are not mutated and big payloads cost nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..engine.registry import NodeContext, NodeResult, node_type


def _parts(path: str) -> list[str]:
    return path.split(".")


def assign(root: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` (dotted) in `root`, creating or copying the dicts along the way."""
    *parents, last = _parts(path)
    node = root
    for part in parents:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[last] = value


def remove(root: dict[str, Any], path: str) -> None:
    """Delete `path` (dotted) from `root` if present, copying the dicts along the way."""
    *parents, last = _parts(path)
    node = root
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            return
        node[part] = child = dict(child)
        node = child
    node.pop(last, None)


def validate_transform(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for path in config.get("set") or {}:
        if not path or "" in _parts(path):
            yield (f"set.{path}", f"{path!r} is not a valid dotted path")
    for i, path in enumerate(config.get("remove") or []):
        if not path or "" in _parts(path):
            yield (f"remove.{i}", f"{path!r} is not a valid dotted path")


@node_type(
    "data.transform",
    inline=True,  # pure: computed on the advancing thread
    label="Transform",
    category="data",
    icon="edit",
    description="Set fields (dotted paths create nesting), keep or drop the input, remove fields.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "set": {"type": "object", "description": "{dotted.path: template or value}"},
            "keep_input": {"type": "boolean", "default": True},
            "remove": {"type": "array", "items": {"type": "string"}},
        },
    },
    input_schema={},
    output_schema={
        "type": "object",
        "description": "the input (unless keep_input is false) with the changes",
    },
    validate_config=validate_transform,
)
def transform_node(ctx: NodeContext) -> NodeResult:
    config = ctx.config
    keep = config.get("keep_input", True)
    out = dict(ctx.input) if keep and isinstance(ctx.input, dict) else {}
    for path in config.get("remove") or ():
        remove(out, path)
    for path, value in (config.get("set") or {}).items():
        assign(out, path, value)
    return NodeResult(output=out)
