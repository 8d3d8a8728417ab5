"""Hot-path writes with prepared SQL, for the rows a run writes on every node change.

`insert()` writes many rows in one multi-row INSERT and `update()` changes one row by key.
The statement for each shape is built once from the model's metadata; every value is
prepared by its own model field for the connection in use (JSON, UUIDs, datetimes), as
the ORM would prepare it. The ORM's per-call query building was most of a run's cost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from .payloads import dumps

_local = threading.local()
_NOTHING = object()


def _buffer() -> list | None:
    return getattr(_local, "buffer", None)


def batching() -> bool:
    """Inside a `batched()` block (statements are collected, not run)."""
    return _buffer() is not None


def transaction_unless_batching():
    """`transaction.atomic` for a group of writes, unless a `batched()` block already
    makes them one implicit transaction."""
    return nullcontext() if batching() else transaction.atomic(savepoint=False)


def can_batch() -> bool:
    """PostgreSQL with client-side binding (Django's default for psycopg 3) runs several
    statements sent in one `execute` as one implicit transaction: one round trip."""
    if connection.vendor != "postgresql":
        return False
    import psycopg

    connection.ensure_connection()
    return connection.connection.cursor_factory is not None and issubclass(
        connection.connection.cursor_factory, psycopg.ClientCursor
    )


@contextmanager
def batched():
    """Collect the `insert`/`update`/`execute` statements of the block and send them as one
    multi-statement query when it ends: all of them or none are written, in one round
    trip. `update` returns None inside (the count is not known yet); readers inside the
    block do not see the collected writes. Nested blocks join the outer one. Rows that
    `create_deferred` still owes lead the batch (see `deferred`)."""
    if _buffer() is not None:
        yield
        return
    _local.lead = _take_owed()
    _local.buffer, _local.after = [], []
    try:
        yield
        after = _local.after
        _send_with_lead(_local.buffer)
    except BaseException:
        _restore_owed(_local.lead)  # not written: still owed
        raise
    finally:
        _local.buffer = _local.after = _local.lead = None
    for fn in after:
        transaction.on_commit(fn)


def _send_with_lead(statements: list) -> None:
    """Send `statements`, led by the owed rows the current batch took (once)."""
    _send_owed(getattr(_local, "lead", None), statements)


def _send_owed(queue: list | None, statements: list) -> None:
    """Send the INSERTs of the owed rows in `queue` (emptied), then `statements`, as one
    query; if that fails, the rows are owed in `queue` again."""
    taken = list(queue or ())
    if queue:
        queue.clear()
    try:
        send([row.statement() for row in taken] + statements)
    except BaseException:
        if queue is not None:
            queue[:0] = taken
        raise


class Owed:
    """A row `create_deferred` has not written yet. Its INSERT is built from `obj` when it is
    sent, so a change to `obj` until then is written with it."""

    __slots__ = ("key", "model", "obj", "_created")

    def __init__(self, model, obj):
        self.model, self.obj, self.key = model, obj, str(obj.pk)
        self._created = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}

    def undo_changes(self) -> None:
        """Back to the values it was created with (what a batch that failed changed is void)."""
        for name, value in self._created.items():
            setattr(self.obj, name, value)

    def statement(self) -> tuple[str, list]:
        concrete = self.model._meta.concrete_fields
        values = [getattr(self.obj, f.attname) for f in concrete]
        return insert_statement(self.model, tuple(f.name for f in concrete), [values])


@contextmanager
def deferred():
    """Inside the block, `create_deferred` does not write at once: its INSERT leads the next
    `batched()` block, in that batch's one round trip and one transaction. Any other
    statement run on this connection first writes what is still owed, so nothing reads or
    references a row before it exists; what no batch took is written when the block ends.
    PostgreSQL only (batches); elsewhere `create_deferred` writes at once."""
    if getattr(_local, "owed", None) is not None or not can_batch():
        yield
        return
    _local.owed = []
    try:
        with connection.execute_wrapper(_owed_first):
            yield
    finally:
        try:
            flush_deferred()  # also when the block failed: what it created is stored all the same
        finally:
            _local.owed = None


def owed(key: str) -> Owed | None:
    """The row `create_deferred` made with primary key `key`, if it is not written yet (still
    owed, or leading the current batch)."""
    key = str(key)
    for queue in (getattr(_local, "lead", None), getattr(_local, "owed", None)):
        for row in queue or ():
            if row.key == key:
                return row
    return None


def flush_deferred() -> None:
    """Write now what `create_deferred` still owes (nothing outside a `deferred()` block)."""
    _send_owed(getattr(_local, "owed", None), [])


def _take_owed() -> list:
    queue = getattr(_local, "owed", None)
    if not queue:
        return []
    taken = list(queue)
    queue.clear()
    return taken


def _restore_owed(taken: list | None) -> None:
    """Owed again: rows whose write failed (a batch's changes to them undone)."""
    queue = getattr(_local, "owed", None)
    if taken and queue is not None:
        for row in taken:
            row.undo_changes()
        queue[:0] = taken


def _owed_first(execute, sql, params, many, context):
    """A statement run on its own (not collected by a batch) first writes the owed rows:
    it may read or reference them."""
    if getattr(_local, "lead", None):
        _send_with_lead([])  # one run inside a batch: the rows the batch leads with go first
    if getattr(_local, "owed", None):
        flush_deferred()
    return execute(sql, params, many, context)


def send(statements: list[tuple[str, list]]) -> None:
    """Run the statements as one query. Their values are bound here, statement by statement
    (psycopg would parse the whole joined text for placeholders on every send: a batch is
    too long for its parse cache, and that parse was the largest single cost of a run)."""
    if not statements:
        return
    if len(statements) == 1:
        sql, params = statements[0]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    from psycopg.adapt import Transformer  # batches exist on PostgreSQL only (`can_batch`)

    with connection.cursor() as cursor:
        literal = Transformer.from_context(cursor.cursor).as_literal
        cursor.execute(";\n".join(_bound(sql, params, literal) for sql, params in statements))


@lru_cache(maxsize=512)
def _pieces(sql: str) -> tuple[str, ...]:
    """The text around the `%s` placeholders of one of this module's statements (they hold
    no other `%`)."""
    if "%%" in sql or "%(" in sql:
        raise ValueError("only plain %s placeholders can be bound here")
    return tuple(sql.split("%s"))


def _bound(sql: str, params: list, literal) -> str:
    pieces = _pieces(sql)
    if len(pieces) != len(params) + 1:
        raise ValueError(f"{len(params)} values for {len(pieces) - 1} placeholders")
    out = [pieces[0]]
    for value, piece in zip(params, pieces[1:], strict=True):
        out.append(literal(value).decode())
        out.append(piece)
    return "".join(out)


def flush() -> None:
    """Send what the current `batched()` block collected so far."""
    buffer = _buffer()
    if buffer is not None and (buffer or getattr(_local, "lead", None)):
        statements = list(buffer)
        buffer.clear()
        _send_with_lead(statements)


def on_written(fn: Callable[[], None]) -> None:
    """Call `fn` once what was written so far is committed (after the batch is sent)."""
    after = getattr(_local, "after", None)
    if after is not None:
        after.append(fn)
    else:
        transaction.on_commit(fn)


def execute(sql: str, params: list) -> int | None:
    """Run (or, inside `batched()`, collect) one statement; its row count, None if collected."""
    buffer = _buffer()
    if buffer is not None:
        buffer.append((sql, params))
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@lru_cache(maxsize=64)
def _fields(model, names: tuple[str, ...]) -> tuple:
    return tuple(model._meta.get_field(name) for name in names)


@lru_cache(maxsize=256)
def _insert_sql(model, names: tuple[str, ...], count: int, vendor: str) -> str:
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in _fields(model, names))
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    return f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES " + ", ".join([one] * count)


@lru_cache(maxsize=64)
def _recordset_sql(model, names: tuple[str, ...]) -> str:
    """PostgreSQL: INSERT the rows of a JSON array of objects (keys: column names), in array
    order, each value cast to its column's type by the server as for a literal."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = ", ".join(qn(f.column) for f in _fields(model, names))
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM "
        f"json_populate_recordset(NULL::{table}, %s::json) WITH ORDINALITY ORDER BY ordinality"
    )


@lru_cache(maxsize=256)
def _update_sql(
    model, names: tuple[str, ...], keys: tuple[str, ...], null_keys: tuple[bool, ...], vendor: str
) -> str:
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(f.column)} = %s" for f in _fields(model, names))
    where = " AND ".join(
        f"{qn(f.column)} IS NULL" if null else f"{qn(f.column)} = %s"
        for f, null in zip(_fields(model, keys), null_keys, strict=True)
    )
    return f"UPDATE {qn(model._meta.db_table)} SET {sets} WHERE {where}"


def _prepare(fields: tuple, values: Iterable[Any], conn=None) -> list:
    conn = conn or connections[DEFAULT_DB_ALIAS]  # not the proxy: fields ask it many things
    return [f.get_db_prep_save(v, conn) for f, v in zip(fields, values, strict=True)]


def insert(
    model, names: Sequence[str], rows: Sequence[Sequence[Any]], only_if: tuple[str, list] | None = None
) -> None:
    """INSERT `rows` (value tuples in `names` order) in one statement (in the caller's
    transaction, if any). Ids are assigned in row order. `only_if` (SQL, params): one row,
    inserted only if that query returns a row."""
    if rows:
        execute(*insert_statement(model, names, rows, only_if))


def insert_statement(
    model, names: Sequence[str], rows: Sequence[Sequence[Any]], only_if: tuple[str, list] | None = None
) -> tuple[str, list]:
    """The (SQL, params) of `insert` (at least one row)."""
    names = tuple(names)
    if only_if is None and connection.vendor == "postgresql":
        # One JSON document of the rows, expanded by the server: the per-value preparing
        # and quoting of hundreds of values was most of a run's client-side cost.
        columns = tuple(f.column for f in _fields(model, names))
        document = dumps([dict(zip(columns, row, strict=True)) for row in rows])
        return _recordset_sql(model, names), [document]
    fields = _fields(model, names)
    conn = connections[DEFAULT_DB_ALIAS]
    params = []
    last: list = [_NOTHING] * len(fields)  # per column: (value, prepared) of the row before
    for row in rows:
        for i, (f, v) in enumerate(zip(fields, row, strict=True)):
            before = last[i]
            if before is _NOTHING or before[0] is not v:  # the same object (the run id): reuse
                before = last[i] = (v, f.get_db_prep_save(v, conn))
            params.append(before[1])
    sql = _insert_sql(model, names, len(rows), connection.vendor)
    if only_if is not None:
        head, values = sql.split(" VALUES ", 1)
        sql = f"{head} SELECT {values[1:-1]} WHERE EXISTS ({only_if[0]})"
        params += only_if[1]
    return sql, params


def update(model, values: dict[str, Any], where: dict[str, Any]) -> int | None:
    """UPDATE the rows matching `where` (equality; None matches NULL). Returns the count
    (None inside `batched()`)."""
    names, keys = tuple(values), tuple(where)
    null_keys = tuple(v is None for v in where.values())
    sql = _update_sql(model, names, keys, null_keys, connection.vendor)
    conn = connections[DEFAULT_DB_ALIAS]
    params = _prepare(_fields(model, names), values.values(), conn)
    params += [
        p
        for p, null in zip(_prepare(_fields(model, keys), where.values(), conn), null_keys, strict=True)
        if not null
    ]
    return execute(sql, params)


@lru_cache(maxsize=64)
def _readers(model, vendor: str) -> tuple[tuple[str, ...], tuple]:
    """A model's concrete fields (attribute names) and, per field, the converters the ORM
    applies to a value read from this database (SQLite's UUID and datetime text, JSON)."""
    table = model._meta.db_table
    names, converters = [], []
    for field in model._meta.concrete_fields:
        col = field.get_col(table)
        names.append(field.attname)
        converters.append(
            tuple((c, col) for c in connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    return tuple(names), tuple(converters)


def columns(model, alias: str) -> str:
    """The model's concrete columns, qualified by `alias`, in `instance()` order."""
    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in model._meta.concrete_fields)


def width(model) -> int:
    return len(model._meta.concrete_fields)


def instance(model, values: Sequence[Any]):
    """A model instance from a row of its `columns()`, as the ORM would build it."""
    names, converters = _readers(model, connection.vendor)
    converted = []
    for value, steps in zip(values, converters, strict=True):
        for convert, col in steps:
            value = convert(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


def create(model, **fields):
    """Save a new instance with one prepared INSERT (what `objects.create` stores, without
    building the query each time): defaults and `auto_now_add` applied, no signals sent,
    primary key given by its default (not assigned by the database)."""
    if batching():
        return model.objects.create(**fields)  # written now, not when the batch ends
    return _create(model, fields, owe=False)


def create_deferred(model, **fields):
    """`create`, written with the next batch inside a `deferred()` block (at once elsewhere)."""
    if batching() or getattr(_local, "owed", None) is None:
        return create(model, **fields)
    return _create(model, fields, owe=True)


def _create(model, fields: dict, *, owe: bool):
    obj = model(**fields)
    concrete = model._meta.concrete_fields
    values = [f.pre_save(obj, add=True) for f in concrete]  # sets auto_now_add values on obj
    if owe:
        _local.owed.append(Owed(model, obj))
    else:
        insert(model, tuple(f.name for f in concrete), [values])
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
