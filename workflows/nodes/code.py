"""`data.code`: run a short user Python snippet in the sandbox (SPEC §5).

The code reads `input` and assigns `result`; the node's output is `result`. All the safety
lives in `engine.sandbox`; this module maps config and context onto it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..engine import sandbox
from ..engine.errors import ErrorCategory, NodeError
from ..engine.registry import NodeContext, NodeResult, node_type

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {
            "type": "string",
            "title": "Python code",
            "description": "Reads `input`, assigns `result` (JSON-serializable). Imports: "
            + ", ".join(sandbox.ALLOWED_MODULES)
            + ".",
            "default": "result = input",
            "maxLength": sandbox.MAX_CODE_CHARS,
        },
        # Rendered config may turn a template into any JSON, hence the string alternative.
        "timeout_ms": {"type": ["integer", "string"], "minimum": 1, "title": "Timeout (ms)"},
    },
    "required": ["code"],
}


def validate_code_config(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """Save-time check: Python syntax only (SPEC §5); the policy is enforced at run time."""
    code = config.get("code")
    if isinstance(code, str):
        problem = sandbox.syntax_error(code)
        if problem:
            yield ("code", f"invalid Python: {problem}")


@node_type(
    "data.code",
    label="Code (Python)",
    category="data",
    description="Run sandboxed Python: reads `input`, assigns `result`.",
    config_schema=CONFIG_SCHEMA,
    output_schema={},
    handles=("main",),
    # Python source is not a template: `{{` is ordinary syntax there (f-strings, sets).
    raw_config_keys=frozenset({"code"}),
    validate_config=validate_code_config,
    icon="code",
)
def run_code_node(ctx: NodeContext) -> NodeResult:
    """Execute the node's code against `ctx.input` in a fresh sandbox process."""
    code = ctx.raw_config.get("code", ctx.config.get("code"))
    if not isinstance(code, str) or not code.strip():
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "config.code must be non-empty Python source")
    if ctx.cancelled.is_set():
        raise NodeError(ErrorCategory.CANCELLED, "cancelled before the code ran")
    limits = {**sandbox.DEFAULT_LIMITS, **(getattr(ctx.services, "code_limits", None) or {})}
    timeout_s = sandbox.effective_timeout(ctx.config.get("timeout_ms"), ctx.remaining_s(), limits)
    outcome = sandbox.run_code(code, ctx.input, timeout_s=timeout_s, limits=limits, cancelled=ctx.cancelled)
    if outcome.stdout:
        ctx.log("info", "code printed output", {"stdout": outcome.stdout})
    warnings = () if outcome.assigned else ("the code did not assign `result`; the output is null",)
    return NodeResult(output=outcome.result, warnings=warnings)
