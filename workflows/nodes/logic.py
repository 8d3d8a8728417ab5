"""Control-flow node types (SPEC §5): if, switch, split, merge, filter, loop, wait.

Conditions are evaluated by the types themselves (raw config keys), with `item`/`index`
bound per item where that applies. `logic.merge` and `logic.loop` are also understood by
the scheduler: it feeds a `first`-mode merge the first arrival only, and it runs a loop's
body once per item after the loop's executor has produced `{"items": [...]}` on `each`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.conditions import check_condition, evaluate_condition
from ..engine.errors import ErrorCategory, NodeError
from ..engine.registry import ERROR_HANDLE, HandlesFrom, NodeContext, NodeResult, Wait, node_type
from ..engine.templates import json_type

CONDITION = {
    "type": ["string", "boolean", "object"],
    "description": "a template evaluating to a boolean, or {left, op, right} / {all} / {any} / {not}",
}
HANDLE = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$"}
ANY_INPUT: dict[str, Any] = {}
MAX_LOOP_ITEMS = 10_000
MAX_WAIT_S = 366 * 24 * 3600


def _condition_issues(condition: Any, path: str) -> list[tuple[str, str]]:
    return check_condition(condition, path)


# -- if -------------------------------------------------------------------------------------
@node_type(
    "logic.if",
    inline=True,  # pure: computed on the advancing thread
    label="If",
    category="logic",
    icon="split",
    description="Route the input to `true` or `false` by a condition.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["condition"],
        "properties": {"condition": CONDITION},
    },
    input_schema=ANY_INPUT,
    output_schema={"description": "the input, unchanged"},
    handles=("true", "false"),
    raw_config_keys=frozenset({"condition"}),
    validate_config=lambda config: _condition_issues(config["condition"], "condition"),
)
def if_node(ctx: NodeContext) -> NodeResult:
    matched = evaluate_condition(ctx.raw_config["condition"], ctx.scope)
    return NodeResult(output=ctx.input, handles=("true",) if matched else ("false",))


# -- switch ---------------------------------------------------------------------------------
def validate_switch(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    for i, case in enumerate(config["cases"]):
        handle = case["handle"]
        if handle == ERROR_HANDLE:
            yield (f"cases.{i}.handle", "'error' is reserved for on_error: route")
        elif handle in seen:
            yield (f"cases.{i}.handle", f"duplicate handle {handle!r}")
        seen.add(handle)
        yield from _condition_issues(case["condition"], f"cases.{i}.condition")
    if config.get("default_handle") == ERROR_HANDLE:
        yield ("default_handle", "'error' is reserved for on_error: route")


@node_type(
    "logic.switch",
    inline=True,  # pure: computed on the advancing thread
    label="Switch",
    category="logic",
    icon="switch",
    description="Route the input to the first case whose condition holds (or the default).",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["cases"],
        "properties": {
            "cases": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["handle", "condition"],
                    "properties": {"handle": HANDLE, "condition": CONDITION},
                },
            },
            "default_handle": {"anyOf": [HANDLE, {"type": "null"}]},
        },
    },
    input_schema=ANY_INPUT,
    output_schema={"description": "the input, unchanged"},
    handles=(),
    dynamic_handles=HandlesFrom(lists=(("cases", "handle"),), fields=("default_handle",)),
    raw_config_keys=frozenset({"cases"}),
    validate_config=validate_switch,
)
def switch_node(ctx: NodeContext) -> NodeResult:
    for case in ctx.raw_config["cases"]:
        if evaluate_condition(case["condition"], ctx.scope):
            return NodeResult(output=ctx.input, handles=(case["handle"],))
    default = ctx.raw_config.get("default_handle")
    # No match and no default: no handle fires, so every successor is skipped.
    return NodeResult(output=ctx.input, handles=(default,) if default else ())


# -- split ----------------------------------------------------------------------------------
def validate_split(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    handles = [b["handle"] for b in config["branches"]]
    for i, handle in enumerate(handles):
        if handle == ERROR_HANDLE:
            yield (f"branches.{i}.handle", "'error' is reserved for on_error: route")
        elif handles.index(handle) != i:
            yield (f"branches.{i}.handle", f"duplicate handle {handle!r}")
    if not sum(b.get("weight", 1) for b in config["branches"]) > 0:
        yield ("branches", "at least one branch needs a positive weight")


@node_type(
    "logic.split",
    inline=True,  # pure: computed on the advancing thread
    label="Split (A/B)",
    category="logic",
    icon="shuffle",
    description="Send the input down one branch, drawn at random by weight.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["branches"],
        "properties": {
            "branches": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["handle"],
                    "properties": {
                        "handle": HANDLE,
                        "weight": {"type": "number", "minimum": 0, "default": 1},
                    },
                },
            }
        },
    },
    input_schema=ANY_INPUT,
    output_schema={"description": "the input, unchanged"},
    handles=(),
    dynamic_handles=HandlesFrom(lists=(("branches", "handle"),)),
    validate_config=validate_split,
)
def split_node(ctx: NodeContext) -> NodeResult:
    branches = ctx.config["branches"]
    weights = [float(b.get("weight", 1)) for b in branches]
    chosen = random.choices(branches, weights=weights)[0]
    return NodeResult(output=ctx.input, handles=(chosen["handle"],))


# -- merge ----------------------------------------------------------------------------------
@node_type(
    "logic.merge",
    inline=True,  # pure: computed on the advancing thread
    label="Merge",
    category="logic",
    icon="merge",
    description="Join branches: wait for all (shallow merge of their outputs) or take the first.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {"mode": {"enum": ["wait_all", "first"], "default": "wait_all"}},
    },
    input_schema=ANY_INPUT,
    output_schema={"description": "the shallow merge of the incoming outputs (or the first arrival)"},
)
def merge_node(ctx: NodeContext) -> NodeResult:
    # The scheduler already merged the active incoming edges (or, for `first`, passed only
    # the first arrival) into the input.
    return NodeResult(output=ctx.input)


# -- filter ---------------------------------------------------------------------------------
def _as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"{what} must be a list, got {json_type(value)}",
            {"type": json_type(value)},
        )
    return value


@node_type(
    "logic.filter",
    label="Filter",
    category="logic",
    icon="filter",
    description="Keep the items of a list for which a condition holds (`item`, `index` in scope).",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "condition"],
        "properties": {
            "items": {"description": "a template giving a list, or a list"},
            "condition": CONDITION,
        },
    },
    input_schema=ANY_INPUT,
    output_schema={
        "type": "object",
        "properties": {"items": {"type": "array"}, "dropped": {"type": "integer"}},
    },
    raw_config_keys=frozenset({"condition"}),
    validate_config=lambda config: _condition_issues(config["condition"], "condition"),
)
def filter_node(ctx: NodeContext) -> NodeResult:
    items = _as_list(ctx.config["items"], "items")
    condition = ctx.raw_config["condition"]
    kept = [
        item
        for index, item in enumerate(items)
        if evaluate_condition(condition, {**ctx.scope, "item": item, "index": index})
    ]
    return NodeResult(output={"items": kept, "dropped": len(items) - len(kept)})


# -- loop -----------------------------------------------------------------------------------
@node_type(
    "logic.loop",
    label="Loop",
    category="logic",
    icon="repeat",
    description="Run the nodes on `each` once per item (`item`, `index` in scope), then fire `done` "
    "with {results: [...]} in item order.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {"description": "a template giving a list, or a list"},
            "max_iterations": {"type": "integer", "minimum": 1, "maximum": MAX_LOOP_ITEMS, "default": 100},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1},
        },
    },
    input_schema=ANY_INPUT,
    output_schema={"type": "object", "properties": {"results": {"type": "array"}}},
    handles=("each", "done"),
)
def loop_node(ctx: NodeContext) -> NodeResult:
    items = _as_list(ctx.config["items"], "items")
    limit = ctx.config.get("max_iterations", 100)
    if len(items) > limit:
        raise NodeError(
            ErrorCategory.LOOP_LIMIT,
            f"{len(items)} items exceed max_iterations ({limit})",
            {"items": len(items), "max_iterations": limit},
            retryable=False,
        )
    # The scheduler takes it from here: one body run per item, then `done`.
    return NodeResult(output={"items": items}, handles=("each",))


# -- wait -----------------------------------------------------------------------------------
def validate_wait(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if ("duration_s" in config) == ("until" in config):
        yield ("duration_s", "set exactly one of duration_s or until")


def _parse_until(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR, f"until {value!r} is not an ISO datetime"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@node_type(
    "logic.wait",
    label="Wait",
    category="logic",
    icon="hourglass",
    description="Pause for a duration or until a moment; long waits hold no worker.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "duration_s": {
                "anyOf": [
                    {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
                    {"type": "string", "pattern": r"\{\{"},
                ]
            },
            "until": {"type": "string", "minLength": 1, "description": "ISO datetime (template)"},
        },
    },
    input_schema=ANY_INPUT,
    output_schema={"description": "the input, after the wait"},
    validate_config=validate_wait,
)
def wait_node(ctx: NodeContext) -> NodeResult | Wait:
    if ctx.resume is not None:  # the timer fired
        return NodeResult(output=ctx.input)
    now = datetime.now(UTC)
    if "until" in ctx.config:
        until = _parse_until(ctx.config["until"])
    else:
        seconds = ctx.config.get("duration_s")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds <= MAX_WAIT_S
        ):
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"duration_s must be a number of seconds from 0 to {MAX_WAIT_S}, got {seconds!r}",
            )
        until = now + timedelta(seconds=seconds)
    if until <= now:
        return NodeResult(output=ctx.input)
    return Wait(kind="timer", until=until)
