"""JSON-schema checks of node configs, with errors as (dotted path, message) pairs."""

from __future__ import annotations

import threading
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}
_LOCK = threading.Lock()


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # Node type schemas live as long as the registry, so caching by identity is safe
    # (the cache also keeps the schema alive, so an id is never reused while cached).
    with _LOCK:
        hit = _VALIDATORS.get(id(schema))
        if hit is None or hit[0] is not schema:
            hit = (schema, Draft202012Validator(schema))
            _VALIDATORS[id(schema)] = hit
        return hit[1]


def _dotted(parts) -> str:
    return ".".join(str(p) for p in parts)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(err: ValidationError) -> list[tuple[str, str]]:
    path = list(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [p for p in err.validator_value if p not in err.instance]
        return [(_dotted(path + [p]), f"{p!r} is required") for p in missing]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set((err.schema or {}).get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
            return [(_dotted(path + [k]), f"unknown setting {k!r}{hint}") for k in extra]
    if err.validator in ("oneOf", "anyOf") and err.context:
        return _explain(best_match(err.context))
    if err.validator == "enum":
        return [
            (
                _dotted(path),
                f"{_short(err.instance)} is not one of {', '.join(map(repr, err.validator_value))}",
            )
        ]
    message = err.message
    if len(message) > 200:
        message = message[:197] + "..."
    return [(_dotted(path), message)]


def schema_issues(schema: dict[str, Any], instance: Any) -> list[tuple[str, str]]:
    """Every schema violation of `instance`, as (dotted path, message), path-ordered."""
    out: list[tuple[str, str]] = []
    errors = sorted(_validator(schema).iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        out.extend(_explain(err))
    return list(dict.fromkeys(out))
