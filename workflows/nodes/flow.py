"""Flow node types that wait on the outside world (SPEC §5): sub-workflows and callbacks.

Both park the node with a `Wait` and rely on the host (see the scheduler's host protocol):
it resumes the node with the child run's `{run_id, status, output, error}` or with the
callback's payload. An expired callback wait is failed by the scheduler (TIMEOUT_ERROR).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..engine.errors import ErrorCategory, NodeError
from ..engine.registry import NodeContext, NodeResult, Wait, node_type

_FINISHED_OK = ("completed", "partial")


def _host_call(fn, what: str, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except NotImplementedError as exc:
        raise NodeError(
            ErrorCategory.INTEGRATION_ERROR, f"{what} are not available here: {exc}", retryable=False
        ) from None


@node_type(
    "flow.subworkflow",
    label="Sub-workflow",
    category="flow",
    icon="workflow",
    description="Run another workflow with an input; by default wait for its output.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["workflow"],
        "properties": {
            "workflow": {"type": ["string", "integer"], "description": "the workflow id"},
            "input": {"description": "the child's input (default: this node's input)"},
            "wait": {"type": "boolean", "default": True},
        },
    },
    input_schema={},
    output_schema={"description": "the child run's output (or {run_id} when not waiting)"},
)
def subworkflow_node(ctx: NodeContext) -> NodeResult | Wait:
    if ctx.resume is not None:
        return _child_result(ctx.resume)
    wait = ctx.config.get("wait", True)
    child_input = ctx.config["input"] if "input" in ctx.config else ctx.input
    run_id = _host_call(
        ctx.services.start_child_run,
        "sub-workflows",
        parent_run_id=ctx.run_id,
        parent_node_id=ctx.node_id,
        workflow_id=str(ctx.config["workflow"]),
        input=child_input,
        wait=wait,
        iteration=ctx.iteration,
        outer=ctx.outer,
    )
    ctx.log("info", f"started sub-workflow run {run_id}", {"child_run_id": run_id})
    if not wait:
        return NodeResult(output={"run_id": run_id})
    return Wait(kind="child", data={"child_run_id": run_id})


def _child_result(resume: Any) -> NodeResult:
    resume = resume if isinstance(resume, dict) else {"status": "failed", "output": None, "error": None}
    status = resume.get("status")
    if status in _FINISHED_OK:
        return NodeResult(output=resume.get("output"))
    error = resume.get("error") if isinstance(resume.get("error"), dict) else {}
    try:
        category = ErrorCategory(error.get("category"))
    except ValueError:
        category = ErrorCategory.CANCELLED if status == "cancelled" else ErrorCategory.INTEGRATION_ERROR
    raise NodeError(
        category,
        f"sub-workflow run {resume.get('run_id')} {status}: {error.get('message', '')}".strip(),
        {"child_run_id": resume.get("run_id"), "child_error": error},
    )


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@node_type(
    "flow.callback",
    label="Wait for callback",
    category="flow",
    icon="inbox",
    description="Wait until something POSTs to this node's callback URL; outputs the posted payload.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "expires_in_s": {
                "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}],
                "description": "give up (TIMEOUT_ERROR) after this long",
            }
        },
    },
    input_schema={},
    output_schema={"description": "the callback payload"},
)
def callback_node(ctx: NodeContext) -> NodeResult | Wait:
    if ctx.resume is not None:
        return NodeResult(output=ctx.resume)
    callback = _host_call(
        ctx.services.create_callback,
        "callbacks",
        run_id=ctx.run_id,
        node_id=ctx.node_id,
        iteration=ctx.iteration,
        outer=ctx.outer,
        expires_in_s=ctx.config.get("expires_in_s"),
    )
    expires_at = _as_datetime(callback.get("expires_at"))
    # The run detail shows `callback_url` and `expires_at` from the waiting state's data.
    data = {
        "token": callback.get("token"),
        "url": callback.get("url"),
        "callback_url": callback.get("url"),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    ctx.log(
        "info",
        "waiting for a callback",
        {"callback_url": data["callback_url"], "expires_at": data["expires_at"]},
    )
    return Wait(kind="callback", until=expires_at, data=data)
