"""Data mapping in and out of an operation (seed 002 "Data Transformation").

A mapping is one of
- `{"type": "DIRECT", "fields": {"target.path": "source.path"}}`: pick fields by dotted path
  (`a.b`, `items.0.id`); a missing source path is a TEMPLATE_ERROR naming it;
- `{"type": "TEMPLATE", "template": <any JSON with {{ }}>}`: rendered by the sandboxed
  template engine with `data` (the value being mapped) besides the node's usual names;
- `{"type": "SCRIPT", "code": "result = ..."}`: the sandboxed code runner, `input` = data.
The input mapping turns the operation's payload (say `params`) into what is sent; the
output mapping turns the operation's result into the node's output.
"""

from __future__ import annotations

from typing import Any

from workflows.engine import sandbox
from workflows.engine.errors import ErrorCategory, NodeError, TemplateError
from workflows.engine.templates import render

MAPPING_TYPES = ("DIRECT", "TEMPLATE", "SCRIPT")
MAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Mapping",
    "properties": {
        "type": {"type": "string", "enum": list(MAPPING_TYPES), "title": "Kind"},
        "fields": {
            "type": "object",
            "title": "Fields (DIRECT): target path → source path",
            "additionalProperties": {"type": "string"},
        },
        "template": {"title": "Template (TEMPLATE): JSON with {{ data.… }}"},
        "code": {"type": "string", "title": "Code (SCRIPT): reads input, assigns result"},
    },
    # No "required": an empty mapping means none (the builder's forms fill objects with {}).
}


def is_unset(mapping: Any) -> bool:
    """No mapping: absent, empty, or an object whose kind is not chosen (forms leave those)."""
    return mapping in (None, {}) or (isinstance(mapping, dict) and mapping.get("type") in (None, ""))


def mapping_problems(mapping: Any, field: str) -> list[tuple[str, str]]:
    """Save-time checks: the kind, and what that kind needs."""
    if is_unset(mapping):
        return []
    if not isinstance(mapping, dict) or mapping.get("type") not in MAPPING_TYPES:
        return [(f"{field}.type", f"type must be one of {', '.join(MAPPING_TYPES)}")]
    kind = mapping["type"]
    if kind == "DIRECT" and not isinstance(mapping.get("fields"), dict):
        return [(f"{field}.fields", "a DIRECT mapping needs fields: {target path: source path}")]
    if kind == "TEMPLATE" and "template" not in mapping:
        return [(f"{field}.template", "a TEMPLATE mapping needs a template")]
    if kind == "SCRIPT":
        code = mapping.get("code")
        if not isinstance(code, str) or not code.strip():
            return [(f"{field}.code", "a SCRIPT mapping needs code")]
        problem = sandbox.syntax_error(code)
        if problem:
            return [(f"{field}.code", f"invalid Python: {problem}")]
    return []


def apply_mapping(
    mapping: Any,
    data: Any,
    *,
    scope: dict[str, Any],
    timeout_s: float = 5.0,
    code_limits: dict[str, Any] | None = None,
    cancelled: Any = None,
) -> Any:
    """`data` transformed by `mapping` (unchanged when there is none)."""
    if is_unset(mapping):
        return data
    problems = mapping_problems(mapping, "mapping")
    if problems:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, problems[0][1], {"field": problems[0][0]})
    kind = mapping["type"]
    if kind == "DIRECT":
        out: dict[str, Any] = {}
        for target, source in mapping["fields"].items():
            _assign(out, str(target), _lookup(data, str(source)))
        return out
    if kind == "TEMPLATE":
        return render(mapping["template"], {**scope, "data": data})
    limits = {**sandbox.DEFAULT_LIMITS, **(code_limits or {})}
    outcome = sandbox.run_code(mapping["code"], data, timeout_s=timeout_s, limits=limits, cancelled=cancelled)
    return outcome.result


def _lookup(data: Any, path: str) -> Any:
    value = data
    for part in path.split(".") if path else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise TemplateError(f"mapping source path {path!r} does not exist", {"path": path})
    return value


def _assign(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[leaf] = value
