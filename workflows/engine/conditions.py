"""Conditions (SPEC §3): template strings and the builder's structured form.

A condition is one of:

- a boolean;
- a template string such as `"{{ input.n > 3 }}"`; a string without `{{` is evaluated as a
  bare expression (`"input.n > 3"`). The result is used as is when it is a boolean; the
  strings "true"/"false" (any case) count as those booleans; anything else by Python
  truthiness (null, 0, "", [] and {} are false);
- `{"left": …, "op": …, "right": …}` where `left`/`right` are rendered with
  `templates.render` (literals, lists and templates all work), combined by `{"all": [...]}`,
  `{"any": [...]}` and `{"not": {...}}`, nested freely.

Operators never coerce types: `1` does not equal `"1"` (but `1` equals `1.0`), and a
boolean is not a number. Ordering compares two numbers or two strings; anything else is a
`TemplateError` naming the operator and the types.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import regex

from . import templates
from .errors import ErrorCategory, NodeError, TemplateError
from .templates import MissingPathError, json_type

__all__ = [
    "BINARY_OPERATORS",
    "OPERATORS",
    "UNARY_OPERATORS",
    "check_condition",
    "evaluate_condition",
    "strict_equal",
]

UNARY_OPERATORS = frozenset({"exists", "is_empty"})
BINARY_OPERATORS = frozenset(
    {"eq", "ne", "gt", "lt", "gte", "lte", "in", "contains", "starts_with", "ends_with", "matches"}
)
OPERATORS = BINARY_OPERATORS | UNARY_OPERATORS
COMBINATORS = ("all", "any", "not")

MAX_PATTERN_LENGTH = 1_000
MAX_MATCH_SUBJECT = 100_000  # characters of `left` that `matches` will search
# A user's pattern may backtrack exponentially: every search runs with this time bound
# (the `regex` package checks it while matching) and releases the GIL meanwhile, so other
# threads (other runs, the lease heartbeat) keep going.
MATCH_TIMEOUT_S = 1.0

_MISSING = object()  # a unary operand whose path does not exist


# --- evaluation -------------------------------------------------------------------------


def evaluate_condition(condition: Any, scope: Mapping[str, Any]) -> bool:
    """Evaluate `condition` against `scope`; raises `TemplateError` when it cannot."""
    if isinstance(condition, bool):
        return condition
    if isinstance(condition, str):
        if "{{" in condition:
            return _truth(templates.render(condition, scope))
        return _truth(templates.evaluate(condition, scope))
    if isinstance(condition, Mapping):
        if "op" in condition:
            return _compare(condition, scope)
        if "all" in condition:
            return all(evaluate_condition(part, scope) for part in _parts(condition, "all"))
        if "any" in condition:
            return any(evaluate_condition(part, scope) for part in _parts(condition, "any"))
        if "not" in condition:
            return not evaluate_condition(condition["not"], scope)
    raise TemplateError(f"not a condition: {_short(condition)}")


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return bool(value)


def _parts(condition: Mapping[str, Any], key: str) -> list[Any]:
    parts = condition[key]
    if not isinstance(parts, list):
        raise TemplateError(f"'{key}' must be a list of conditions, got {json_type(parts)}")
    return parts


def _compare(condition: Mapping[str, Any], scope: Mapping[str, Any]) -> bool:
    op = condition["op"]
    if not isinstance(op, str) or op not in OPERATORS:
        raise TemplateError(f"unknown condition operator {op!r}")
    if "left" not in condition:
        raise TemplateError(f"condition '{op}' has no 'left'")
    if op in UNARY_OPERATORS:
        left = _render_tolerant(condition["left"], scope)
        if op == "exists":
            return left is not _MISSING and left is not None
        return left is _MISSING or _is_empty(left)
    if "right" not in condition:
        raise TemplateError(f"condition '{op}' has no 'right'")
    left = templates.render(condition["left"], scope)
    right = templates.render(condition["right"], scope)
    return _BINARY[op](left, right)


def _render_tolerant(value: Any, scope: Mapping[str, Any]) -> Any:
    """Render an operand of `exists`/`is_empty`, where a missing path is an answer."""
    try:
        return templates.render(value, scope)
    except MissingPathError:
        return _MISSING


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | Mapping) and len(value) == 0)


def strict_equal(left: Any, right: Any) -> bool:
    """Equality without coercion: same JSON type and equal value, recursively.

    1 == 1.0 (both numbers), but 1 != "1" and True != 1.
    """
    kind = json_type(left)
    if kind != json_type(right):
        return False
    if kind == "list":
        return len(left) == len(right) and all(map(strict_equal, left, right))
    if kind == "object":
        return left.keys() == right.keys() and all(strict_equal(left[k], right[k]) for k in left)
    return left == right


def _ordered(op: str, left: Any, right: Any) -> tuple[Any, Any]:
    left_kind, right_kind = json_type(left), json_type(right)
    if left_kind == right_kind and left_kind in ("number", "string"):
        return left, right
    raise TemplateError(
        f"condition '{op}' cannot compare {left_kind} with {right_kind}"
        f" (left {_short(left)}, right {_short(right)}); convert with | int, | float or | string"
    )


def _member(op: str, needle: Any, haystack: Any) -> bool:
    """`needle` is an element of a list, a substring of a string or a key of an object."""
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, list | tuple):
        return any(strict_equal(needle, item) for item in haystack)
    if isinstance(haystack, Mapping):
        return isinstance(needle, str) and needle in haystack
    side = "right" if op == "in" else "left"
    raise TemplateError(
        f"condition '{op}' needs a list, string or object on the {side}, got {json_type(haystack)}"
    )


def _affix(op: str, left: Any, right: Any) -> bool:
    if not isinstance(left, str) or not isinstance(right, str):
        raise TemplateError(
            f"condition '{op}' needs two strings, got {json_type(left)} and {json_type(right)}"
        )
    return left.startswith(right) if op == "starts_with" else left.endswith(right)


@lru_cache(maxsize=512)
def _pattern(source: str) -> regex.Pattern:
    return regex.compile(source, regex.VERSION0)  # VERSION0: the syntax of Python's `re`


def bounded_search(pattern: Any, text: str, what: str = "condition 'matches'") -> bool:
    """`pattern` (text or compiled) found in `text`, within MATCH_TIMEOUT_S; a pattern that
    takes longer fails with TIMEOUT_ERROR instead of stalling the process."""
    compiled = _compile_pattern(pattern) if isinstance(pattern, str) else pattern
    try:
        return compiled.search(text, timeout=MATCH_TIMEOUT_S, concurrent=True) is not None
    except TimeoutError:
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR,
            f"{what}: the regular expression took longer than {MATCH_TIMEOUT_S:g} s "
            "(it backtracks too much on this text; simplify the pattern)",
            {"pattern": compiled.pattern[:200], "timeout_s": MATCH_TIMEOUT_S},
            retryable=False,
        ) from None


def _compile_pattern(source: Any) -> regex.Pattern:
    """Compile a `matches` pattern; raises `TemplateError` on a bad or oversized one."""
    if not isinstance(source, str):
        raise TemplateError(f"condition 'matches' needs a string pattern, got {json_type(source)}")
    if len(source) > MAX_PATTERN_LENGTH:
        raise TemplateError(f"condition 'matches': pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return _pattern(source)
    except (regex.error, RecursionError, OverflowError) as exc:
        raise TemplateError(f"condition 'matches': invalid regular expression: {exc}") from None


def _matches(left: Any, right: Any) -> bool:
    pattern = _compile_pattern(right)
    if not isinstance(left, str):
        raise TemplateError(f"condition 'matches' needs a string on the left, got {json_type(left)}")
    # Bounding the subject keeps ordinary patterns fast; it cannot tame a pathological
    # (exponentially backtracking) pattern, which is why patterns are length-capped too.
    if len(left) > MAX_MATCH_SUBJECT:
        raise TemplateError(f"condition 'matches': text is longer than {MAX_MATCH_SUBJECT} characters")
    return bounded_search(pattern, left)


def _order(op: str, compare: Any) -> Any:
    return lambda left, right: compare(*_ordered(op, left, right))


_BINARY = {
    "eq": strict_equal,
    "ne": lambda left, right: not strict_equal(left, right),
    "gt": _order("gt", operator.gt),
    "lt": _order("lt", operator.lt),
    "gte": _order("gte", operator.ge),
    "lte": _order("lte", operator.le),
    "in": lambda left, right: _member("in", left, right),
    "contains": lambda left, right: _member("contains", right, left),
    "starts_with": lambda left, right: _affix("starts_with", left, right),
    "ends_with": lambda left, right: _affix("ends_with", left, right),
    "matches": _matches,
}


def _short(value: Any) -> str:
    """A value as short JSON text, for messages."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --- validation -------------------------------------------------------------------------


def check_condition(condition: Any, path: str = "") -> list[tuple[str, str]]:
    """Structural problems in `condition`, as (dotted path, message); empty when valid.

    Checks shapes, operators, operands and template syntax; never evaluates anything.
    Paths are relative (`all.0.op`); the caller prefixes its own (`condition.`).
    """
    problems: list[tuple[str, str]] = []
    _check(condition, path, problems)
    return problems


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _check(condition: Any, path: str, problems: list[tuple[str, str]]) -> None:
    if isinstance(condition, bool):
        return
    if isinstance(condition, str):
        if "{{" in condition:
            problems.extend(templates.check_syntax(condition, path))
        elif not condition.strip():
            problems.append((path, "condition is empty"))
        else:
            message = templates.check_expression(condition)
            if message:
                problems.append((path, f"syntax error in condition expression: {message}"))
        return
    if not isinstance(condition, Mapping):
        problems.append(
            (path, f"condition must be a template string, a boolean or an object, got {json_type(condition)}")
        )
        return
    forms = [key for key in ("op", *COMBINATORS) if key in condition]
    if len(forms) != 1:
        found = f" (found {', '.join(repr(form) for form in forms)})" if forms else ""
        problems.append((path, f"condition must have exactly one of 'op', 'all', 'any' or 'not'{found}"))
        return
    form = forms[0]
    if form == "op":
        _check_comparison(condition, path, problems)
    elif form == "not":
        _check(condition["not"], _join(path, "not"), problems)
    else:
        parts = condition[form]
        if not isinstance(parts, list):
            problems.append((_join(path, form), f"'{form}' must be a list of conditions"))
            return
        for index, part in enumerate(parts):
            _check(part, _join(_join(path, form), index), problems)


def _check_comparison(condition: Mapping[str, Any], path: str, problems: list[tuple[str, str]]) -> None:
    op = condition["op"]
    if not isinstance(op, str) or op not in OPERATORS:
        problems.append(
            (_join(path, "op"), f"unknown operator {op!r}; expected one of {', '.join(sorted(OPERATORS))}")
        )
        return
    if "left" not in condition:
        problems.append((_join(path, "left"), f"operator '{op}' needs 'left'"))
    else:
        problems.extend(templates.check_syntax(condition["left"], _join(path, "left")))
    if op in UNARY_OPERATORS:
        return  # `right` is ignored
    if "right" not in condition:
        problems.append((_join(path, "right"), f"operator '{op}' needs 'right'"))
        return
    right = condition["right"]
    problems.extend(templates.check_syntax(right, _join(path, "right")))
    if op == "matches" and not (isinstance(right, str) and "{{" in right):
        try:
            _compile_pattern(right)
        except TemplateError as exc:
            problems.append((_join(path, "right"), exc.message))
