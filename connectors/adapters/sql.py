"""Named `:name` parameters → the driver's `%(name)s` placeholders, and rows → JSON.

Values are always bound by the driver, never spliced into the SQL: this only rewrites the
placeholders, skipping string literals, quoted identifiers, comments, PostgreSQL `::`
casts and dollar-quoted bodies, and doubling any literal `%` the pyformat style would read.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import functools
import json
import re
import uuid
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@functools.lru_cache(maxsize=512)
def to_pyformat(sql: str, *, backslash_escapes: bool = False) -> tuple[str, tuple[str, ...]]:
    """(`sql` with `:name` → `%(name)s`, the names in order of appearance)."""
    out: list[str] = []
    names: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if backslash_escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif sql.startswith("--", i) or (backslash_escapes and c == "#"):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "$" and not backslash_escapes and (m := _DOLLAR.match(sql, i)):
            tag = m.group(0)
            j = sql.find(tag, m.end())
            j = n if j < 0 else j + len(tag)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif (
            c == ":"
            and (m := _NAME.match(sql, i + 1))
            and not (i and (sql[i - 1].isalnum() or sql[i - 1] == "_"))
        ):
            names.append(m.group(0))
            out.append(f"%({m.group(0)})s")
            i = m.end()
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), tuple(names)


def bind(sql: Any, params: Any, *, backslash_escapes: bool = False, field: str = "sql") -> tuple[str, dict]:
    """The driver SQL and the parameter dict; VALIDATION_ERROR naming a missing parameter."""
    if not isinstance(sql, str) or not sql.strip():
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"{field} must be a non-empty SQL statement")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "params must be an object of :name → value")
    text, names = to_pyformat(sql, backslash_escapes=backslash_escapes)
    missing = sorted({name for name in names if name not in params})
    if missing:
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"no value for parameter{'s' if len(missing) > 1 else ''} {', '.join(':' + m for m in missing)}",
            {"missing": missing},
            retryable=False,
        )
    return text, {name: _bindable(params[name]) for name in set(names)}


def _bindable(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def jsonable(value: Any) -> Any:
    """A column value as JSON: exact numbers stay numbers, times as ISO text, bytes base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {str(k): jsonable(v) for k, v in row.items()}
