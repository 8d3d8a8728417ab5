"""Databases: `db.query` and `db.execute` on PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

SQL uses named `:name` parameters; values are always bound by the driver (`sql.bind`).
`db.query` streams: PostgreSQL in single-row mode, MySQL through an unbuffered cursor,
reading at most `max_rows` rows (+1 to tell that there were more, then `truncated: true`).
`db.execute` runs one statement, or `statements` in one transaction (all or nothing), and
returns RETURNING rows when there are any. A credential with
`read_only` opens read-only sessions and refuses `db.execute` before connecting.

TLS: both servers negotiate it inside their protocol, so plain connections stay possible.
A credential that sets any TLS option (`tls_verify`, `tls_ca_bundle`, `tls_min_version`),
or whose URL asks for it (`?sslmode=` for PostgreSQL, `?ssl=true` for MySQL), gets TLS or
no connection: verified against `tls_ca_bundle` (else the system CAs) and the host name,
or, with `tls_verify` false, encrypted but unverified. A refused handshake is
CONNECTION_ERROR "TLS refused (…)", not retried.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
from psycopg.rows import dict_row

from workflows.engine import outbound
from workflows.engine.errors import ErrorCategory, NodeError

from .base import Adapter, ConnectionSettings, Limits, Operation, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, socket_to, tls_context, tls_min_version
from .sql import bind, json_row

MAX_ROWS_LIMIT = 100_000
_SQL = {"type": "string", "minLength": 1, "title": "SQL", "description": "Named parameters as :name"}
_PARAMS = {"type": "object", "title": "Parameters", "description": ":name → value (templates allowed)"}
OUTPUT = {
    "type": "object",
    "properties": {
        "rows": {"type": "array", "items": {"type": "object"}},
        "row_count": {"type": "integer"},
        "truncated": {"type": "boolean"},
    },
}
OPERATIONS = (
    Operation(
        name="query",
        node_type="db.query",
        label="Database query",
        description="Run a parameterised SELECT on PostgreSQL or MySQL; outputs {rows, row_count}.",
        config_schema={
            "required": ["sql"],
            "properties": {
                "sql": _SQL,
                "params": {**_PARAMS, "default": {}},
                "max_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_ROWS_LIMIT,
                    "default": 1000,
                    "title": "Most rows to return",
                },
            },
        },
        output_schema=OUTPUT,
        payload_key="params",
        icon="database",
    ),
    Operation(
        name="execute",
        node_type="db.execute",
        label="Database execute",
        description="Run INSERT/UPDATE/DELETE (one statement, or several in one transaction); "
        "outputs {rows, row_count}.",
        config_schema={
            "properties": {
                "sql": _SQL,
                "params": {**_PARAMS, "default": {}},
                "statements": {
                    "type": "array",
                    "title": "Statements (one transaction)",
                    "items": {
                        "type": "object",
                        "required": ["sql"],
                        "properties": {"sql": _SQL, "params": _PARAMS},
                    },
                },
            },
        },
        output_schema=OUTPUT,
        payload_key="params",
        icon="database",
    ),
)


def _max_rows(params: dict[str, Any]) -> int:
    raw = params.get("max_rows", 1000)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"max_rows must be an integer, got {raw!r}") from None
    if not 1 <= value <= MAX_ROWS_LIMIT:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"max_rows must be from 1 to {MAX_ROWS_LIMIT}")
    return value


def _statements(params: dict[str, Any]) -> list[tuple[Any, Any]]:
    statements = params.get("statements")
    if statements:
        if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
            raise NodeError(ErrorCategory.VALIDATION_ERROR, "statements must be a list of {sql, params}")
        return [(s.get("sql"), s.get("params")) for s in statements]
    if not params.get("sql"):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "db.execute needs sql or statements")
    return [(params.get("sql"), params.get("params"))]


_TLS_FIELDS = ("tls_verify", "tls_ca_bundle", "tls_min_version")


def _tls_asked(settings: ConnectionSettings) -> bool:
    """Whether the credential sets a TLS option: then the connection is TLS or nothing."""
    return any(settings.data.get(name) for name in _TLS_FIELDS)


# libpq's words for a refused handshake → OpenSSL's reason names (outbound.tls_error).
_LIBPQ_TLS_REASONS = (
    ("certificate verify failed", "CERTIFICATE_VERIFY_FAILED"),
    ("server certificate for", "CERTIFICATE_VERIFY_FAILED"),  # host name mismatch
    ("protocol version", "TLSV1_ALERT_PROTOCOL_VERSION"),
    ("unsupported protocol", "UNSUPPORTED_PROTOCOL"),
    ("no protocols available", "NO_PROTOCOLS_AVAILABLE"),
    ("wrong version number", "WRONG_VERSION_NUMBER"),
    ("server does not support ssl", "SERVER_DOES_NOT_SUPPORT_TLS"),
)


def _libpq_tls_failure(message: str) -> NodeError | None:
    lowered = message.lower()
    for words, reason in _LIBPQ_TLS_REASONS:
        if words in lowered:
            return outbound.tls_error(reason)
    if "ssl error" in lowered or "ssl syscall error" in lowered:
        return outbound.tls_error("HANDSHAKE_FAILED")
    return None


class _DatabaseAdapter(Adapter):
    family = "db"
    operations = OPERATIONS
    backslash_escapes = False

    def validate_connection_config(self, settings: ConnectionSettings) -> list[str]:
        problems = super().validate_connection_config(settings)
        if not settings.path.strip("/") and not settings.data.get("database"):
            problems.append("data.url must name a database (…/dbname)")
        return problems

    def execute(self, connection: Any, operation: str, params: dict[str, Any], limits: Limits) -> Any:
        if operation == "execute" and connection.read_only:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                "this connection is read-only: db.execute is refused",
                retryable=False,
            )
        timeout_s = max(1, math.ceil(limits.timeout_s))
        if operation == "query":
            sql, values = bind(
                params.get("sql"), params.get("params"), backslash_escapes=self.backslash_escapes
            )
            rows, truncated = connection.query(sql, values, _max_rows(params), timeout_s)
            return OperationResult(
                data={"rows": rows, "row_count": len(rows), **({"truncated": True} if truncated else {})},
                rows=len(rows),
            )
        bound = [
            bind(sql, values, backslash_escapes=self.backslash_escapes, field=f"statements[{i}].sql")
            for i, (sql, values) in enumerate(_statements(params))
        ]
        rows, affected = connection.execute(bound, timeout_s)
        return OperationResult(data={"rows": rows, "row_count": affected}, rows=affected)

    def is_healthy(self, connection: Any) -> bool:
        return connection.ping()

    def database(self, settings: ConnectionSettings) -> str:
        return settings.data.get("database") or settings.path.strip("/")


# ---------------------------------------------------------------------------- PostgreSQL


class _PgConnection:
    def __init__(self, conn: psycopg.Connection, read_only: bool):
        self.conn = conn
        self.read_only = read_only
        self.timeout_s: int | None = None

    def _timeout(self, cur, timeout_s: int) -> None:
        if self.timeout_s != timeout_s:  # one round trip only when the bound changes
            cur.execute(f"SET statement_timeout = {int(timeout_s) * 1000}")
            self.timeout_s = timeout_s

    def query(self, sql: str, values: dict, max_rows: int, timeout_s: int) -> tuple[list[dict], bool]:
        # Single-row mode: rows stream from the server in one round trip; stopping after
        # max_rows + 1 cancels the rest of the query server-side instead of reading it.
        with self.conn.cursor(row_factory=dict_row) as cur:
            self._timeout(cur, timeout_s)
            stream = cur.stream(sql, values)
            try:
                fetched = list(itertools.islice(stream, max_rows + 1))
            finally:
                stream.close()
        return [json_row(r) for r in fetched[:max_rows]], len(fetched) > max_rows

    def execute(self, bound: list[tuple[str, dict]], timeout_s: int) -> tuple[list[dict], int]:
        rows: list[dict] = []
        affected = 0
        with self.conn.transaction():
            with self.conn.cursor(row_factory=dict_row) as cur:
                self._timeout(cur, timeout_s)
                for sql, values in bound:
                    cur.execute(sql, values)
                    affected += max(cur.rowcount, 0)
                    if cur.description is not None:
                        rows += [json_row(r) for r in cur.fetchall()]
        return rows, affected

    def ping(self) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("SELECT 1")
        return True

    def close(self) -> None:
        self.conn.close()


@register_adapter
class PostgresAdapter(_DatabaseAdapter):
    id = "postgresql"
    name = "PostgreSQL"
    description = "PostgreSQL through psycopg 3"
    protocols = ("postgresql", "postgres")
    default_port = 5432

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _PgConnection:
        port = settings.port or self.default_port
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        kwargs: dict[str, Any] = {
            "host": settings.host,
            "hostaddr": address,  # connect to the address we checked; host stays for TLS
            "port": port,
            "dbname": self.database(settings),
            "user": settings.username or "",
            "connect_timeout": max(1, math.ceil(min(limits.timeout_s, 30))),
            "application_name": "switchyard",
            "autocommit": True,
        }
        if settings.password:
            kwargs["password"] = settings.password
        kwargs.update({k: v for k, v in settings.query.items() if k in ("sslmode", "target_session_attrs")})
        if "sslmode" not in kwargs and _tls_asked(settings):
            kwargs["sslmode"] = "verify-full" if settings.tls.verify else "require"
        if settings.tls.min_version:
            tls_min_version(settings.tls)  # VALIDATION_ERROR for anything but 1.2 / 1.3
            kwargs["ssl_min_protocol_version"] = f"TLSv{settings.tls.min_version}"
        if settings.read_only:
            kwargs["options"] = "-c default_transaction_read_only=on"
        if not settings.tls.ca_bundle:
            if kwargs.get("sslmode") in ("verify-ca", "verify-full"):
                kwargs["sslrootcert"] = "system"  # the system CAs, not ~/.postgresql/root.crt
            return _PgConnection(psycopg.connect(**kwargs), settings.read_only)
        # libpq reads the CA bundle from a file, once, while connecting.
        handle, path = tempfile.mkstemp(prefix="switchyard-ca-", suffix=".pem")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(settings.tls.ca_bundle)
            kwargs["sslrootcert"] = path
            return _PgConnection(psycopg.connect(**kwargs), settings.read_only)
        finally:
            os.unlink(path)

    def categorize(self, exc: BaseException) -> NodeError:
        state = getattr(exc, "sqlstate", None) or ""
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        details = {"sqlstate": state} if state else {}
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return NodeError(ErrorCategory.TIMEOUT_ERROR, f"statement timed out: {message}", details)
        if state.startswith("28") or "password authentication failed" in message:
            return NodeError(ErrorCategory.AUTHENTICATION_ERROR, message, details, retryable=False)
        if state == "42501":
            return NodeError(ErrorCategory.AUTHENTICATION_ERROR, message, details, retryable=False)
        if state in ("40001", "40P01", "57P01", "57P03", "53300"):
            return NodeError(ErrorCategory.SERVICE_UNAVAILABLE, message, details)
        if isinstance(exc, psycopg.OperationalError) and not state:
            refused = _libpq_tls_failure(str(exc))
            if refused is not None:
                return refused
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"could not connect: {message}", details)
        if isinstance(exc, psycopg.Error):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, message, details, retryable=False)
        return categorize_common(exc)


# ---------------------------------------------------------------------------- MySQL / MariaDB


class _MySqlConnection:
    def __init__(self, conn: pymysql.connections.Connection, read_only: bool):
        self.conn = conn
        self.read_only = read_only
        self.timeout_s: int | None = None

    def _timeout(self, cur, timeout_s: int) -> None:
        if self.timeout_s != timeout_s:
            try:
                cur.execute(f"SET SESSION max_statement_time = {int(timeout_s)}")  # MariaDB
            except pymysql.err.MySQLError:
                cur.execute(f"SET SESSION max_execution_time = {int(timeout_s) * 1000}")  # MySQL
            self.timeout_s = timeout_s

    def query(self, sql: str, values: dict, max_rows: int, timeout_s: int) -> tuple[list[dict], bool]:
        with self.conn.cursor() as plain:
            self._timeout(plain, timeout_s)
        cur = self.conn.cursor(pymysql.cursors.SSDictCursor)
        cur.execute(sql, values)
        fetched = cur.fetchmany(max_rows + 1)
        truncated = len(fetched) > max_rows
        if truncated:
            # Draining the rest of an unbuffered result would read it all: drop the connection.
            if cur._result is not None:  # PyMySQL would drain it on garbage collection
                cur._result.unbuffered_active = False
            self.conn.close()
            cur.connection = None
        else:
            cur.close()
        return [json_row(r) for r in fetched[:max_rows]], truncated

    def execute(self, bound: list[tuple[str, dict]], timeout_s: int) -> tuple[list[dict], int]:
        rows: list[dict] = []
        affected = 0
        self.conn.begin()
        try:
            with self.conn.cursor(pymysql.cursors.DictCursor) as cur:
                self._timeout(cur, timeout_s)
                for sql, values in bound:
                    affected += max(cur.execute(sql, values), 0)
                    if cur.description is not None:
                        rows += [json_row(r) for r in cur.fetchall()]
            self.conn.commit()
        except BaseException:
            if self.conn.open:
                self.conn.rollback()
            raise
        return rows, affected

    def ping(self) -> bool:
        self.conn.ping(reconnect=False)
        return True

    @property
    def reusable(self) -> bool:
        return bool(self.conn.open)

    def close(self) -> None:
        if self.conn.open:
            self.conn.close()


@register_adapter
class MySqlAdapter(_DatabaseAdapter):
    id = "mysql"
    name = "MySQL / MariaDB"
    description = "MySQL and MariaDB through PyMySQL"
    protocols = ("mysql", "mariadb")
    default_port = 3306
    backslash_escapes = True

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _MySqlConnection:
        port = settings.port or self.default_port
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        wants_tls = settings.query.get("ssl") in ("true", "1") or _tls_asked(settings)
        conn = pymysql.connect(
            # The name stays for TLS (the certificate is checked against it); the socket below
            # goes to the address we checked.
            host=settings.host,
            port=port,
            user=settings.username or "",
            password=settings.password or "",
            database=self.database(settings),
            connect_timeout=max(1, min(limits.timeout_s, 30)),
            read_timeout=max(1, limits.timeout_s),
            write_timeout=max(1, limits.timeout_s),
            autocommit=True,
            charset="utf8mb4",
            ssl=tls_context(settings.tls) if wants_tls else None,
            defer_connect=True,
        )
        conn.connect(sock=socket_to(address, port, max(1, min(limits.timeout_s, 30))))
        if settings.read_only:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        return _MySqlConnection(conn, settings.read_only)

    def categorize(self, exc: BaseException) -> NodeError:
        code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else None
        message = (
            str(exc.args[1]) if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) > 1 else str(exc)
        )
        details = {"code": code} if isinstance(code, int) else {}
        if code in (1044, 1045, 1142, 1227):
            return NodeError(ErrorCategory.AUTHENTICATION_ERROR, message, details, retryable=False)
        if code in (1969, 3024):
            return NodeError(ErrorCategory.TIMEOUT_ERROR, f"statement timed out: {message}", details)
        if code in (1205, 1213, 1040, 1203):
            return NodeError(ErrorCategory.SERVICE_UNAVAILABLE, message, details)
        if code in (2003, 2006, 2013, 2055) or isinstance(exc, pymysql.err.InterfaceError):
            return NodeError(ErrorCategory.CONNECTION_ERROR, f"connection failed: {message}", details)
        if isinstance(exc, pymysql.err.MySQLError):
            return NodeError(ErrorCategory.INTEGRATION_ERROR, message, details, retryable=False)
        return categorize_common(exc)
