"""The engine's `Store`, implemented with the ORM.

One worker owns a run at a time (see `runs.leases`), so this store caches the mapping from
node instance to row id and writes straight through. Every persisted payload is masked and
size-capped (`runs.payloads`); each change is published to live listeners after commit.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from django.db import DataError, connection, transaction
from django.utils import timezone

from workflows.engine import iterations
from workflows.engine.outbound import secret_values
from workflows.engine.store import LeaseLost, LogEntry, NodeKey, NodeState, RunSnapshot
from workflows.trigger_secrets import sealed_texts, unseal_document

from . import events, leases, metrics, rows
from .models import CorrelationToken, ExecutionLog, NodeExecution, RunStatus, WorkflowRun
from .payloads import for_storage
from .queue import child_finished

TERMINAL = set(RunStatus.terminal())


class _SqliteWriters:
    """On SQLite, writers take turns here instead of in SQLite's busy handler, which
    sleeps in steps of up to 100 ms and made waits far longer than the transactions they
    waited for. Threads of a process queue on a lock, processes on an flock() of a file
    beside the database. Not taken inside a transaction (which already holds SQLite's
    write lock: waiting here could deadlock against it)."""

    def __init__(self):
        self._lock = threading.RLock()
        self._local = threading.local()
        self._files: dict[tuple[int, str], int] = {}

    def _fd(self) -> int | None:
        key = (os.getpid(), str(connection.settings_dict["NAME"]))
        if ":memory:" in key[1] or "mode=memory" in key[1]:
            return None  # one process only
        if key not in self._files:
            self._files[key] = os.open(f"{key[1]}.writers", os.O_RDWR | os.O_CREAT, 0o600)
        return self._files[key]

    @contextmanager
    def __call__(self):
        depth = getattr(self._local, "depth", 0)
        if depth == 0 and connection.in_atomic_block:
            yield
            return
        with self._lock:
            fd = self._fd() if depth == 0 else None
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)


_sqlite_writers = _SqliteWriters()


def write_lock():
    """Writers take turns (see `_SqliteWriters`) on SQLite; a no-op on other databases."""
    return _sqlite_writers() if connection.vendor == "sqlite" else nullcontext()


def _update_run(
    run_id: str, fields: dict[str, Any], *, started_at: datetime | None, count_nodes: bool
) -> int:
    """UPDATE an unfinished run: `fields`, plus `started_at` unless already set, plus the
    succeeded/failed node counts. Returns 0 when the run was already finished."""
    qn = connection.ops.quote_name
    sets, params = [], []
    for name, value in fields.items():
        field = WorkflowRun._meta.get_field(name)
        sets.append(f"{qn(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    if started_at is not None:
        field = WorkflowRun._meta.get_field("started_at")
        sets.append(f"{qn(field.column)} = COALESCE({qn(field.column)}, %s)")
        params.append(field.get_db_prep_save(started_at, connection))
    run_pk = WorkflowRun._meta.pk.get_db_prep_save(run_id, connection)
    if count_nodes:
        for column, node_status in (("successful_nodes", "succeeded"), ("failed_nodes", "failed")):
            sets.append(
                f"{qn(column)} = (SELECT COUNT(*) FROM {qn(NodeExecution._meta.db_table)} "
                f"WHERE {qn('run_id')} = %s AND {qn('status')} = %s)"
            )
            params += [run_pk, node_status]
    done = ", ".join(["%s"] * len(TERMINAL))
    sql = (
        f"UPDATE {qn(WorkflowRun._meta.db_table)} SET {', '.join(sets)} "
        f"WHERE {qn('id')} = %s AND {qn('status')} NOT IN ({done})"
    )
    return rows.execute(sql, [*params, run_pk, *sorted(TERMINAL)])


def _changed_to(run_id: str, status: str, completed_at: datetime | None) -> tuple[str, list]:
    """A query that finds the run only if `_update_run` just changed it to `status` (an
    unfinished run always takes the new status; a finished one keeps its own, and a
    finishing one takes our exact completion time)."""
    qn = connection.ops.quote_name
    opts = WorkflowRun._meta
    # The row is read by its key alone (a materialized CTE), then checked: a planner left with
    # statistics from when few runs had `status` (a young table) otherwise walks the whole
    # (status, ...) index instead, every run's cost growing with the count of finished runs.
    sql = (
        f"WITH r AS MATERIALIZED (SELECT {qn('status')}, {qn('completed_at')} "
        f"FROM {qn(opts.db_table)} WHERE {qn('id')} = %s) "
        f"SELECT 1 FROM r WHERE {qn('status')} = %s"
    )
    params = [opts.pk.get_db_prep_save(run_id, connection), status]
    if completed_at is not None:
        sql += f" AND {qn('completed_at')} = %s"
        params.append(opts.get_field("completed_at").get_db_prep_save(completed_at, connection))
    return sql, params


NODE_FIELDS = (
    "status",
    "attempts",
    "input",
    "output",
    "error",
    "handles",
    "wait",
    "warnings",
    "started_at",
    "completed_at",
    "resume_at",
)  # OrmStore._fields, in this order
NODE_COLUMNS = ("run", "node_id", "iteration", "outer_iterations", "node_type", "order", *NODE_FIELDS)
LOG_COLUMNS = ("run", "timestamp", "level", "node_id", "iteration", "outer_iterations", "message", "data")
# A run's own log entries also go to this logger (LOG_FORMAT=json: with run_id and node_id).
run_log = logging.getLogger("switchyard.run")
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _waiting_on(states, kind: str) -> dict[str, NodeState]:
    """Waiting (or interrupted) node instances of one wait kind, by their correlation key."""
    key = {"callback": "token", "child": "child_run_id"}[kind]
    found = {}
    for state in states:
        wait = state.wait or {}
        data = wait.get("data") or {}
        if (
            state.status in ("waiting", "running")
            and wait.get("kind") == kind
            and data.get(key)
            and "resume" not in wait
        ):
            found[str(data[key])] = state
    return found


def merge_deliveries(run_id: str, states) -> int:
    """Hand waiting nodes what the outside world delivered (SPEC resume protocol). The
    payloads live where the scheduler never writes: used callback tokens and finished child
    runs. Returns how many nodes can resume."""
    states = list(states)
    merged = 0
    callbacks = _waiting_on(states, "callback")
    if callbacks:
        for token, payload in CorrelationToken.objects.filter(
            run_id=run_id, token__in=list(callbacks), used_at__isnull=False
        ).values_list("token", "payload"):
            callbacks[token].wait = {**callbacks[token].wait, "resume": payload}
            merged += 1
    children = _waiting_on(states, "child")
    if children:
        for child in WorkflowRun.objects.filter(pk__in=list(children), status__in=RunStatus.terminal()):
            state = children[str(child.pk)]
            state.wait = {
                **state.wait,
                "resume": {
                    "run_id": str(child.pk),
                    "status": child.status,
                    "output": child.output,
                    "error": child.error,
                },
            }
            merged += 1
    return merged


def _resumed_with(states, kind: str, key: str) -> list[str]:
    """The deliveries (callback tokens, child run ids) that these states resume with."""
    return [
        str(data[key])
        for state in states
        if state.status != "waiting"
        and (wait := state.wait or {}).get("kind") == kind
        and "resume" in wait
        and (data := wait.get("data") or {}).get(key)
    ]


def _consume_deliveries(run_id: str, states) -> None:
    """Callback payloads and child results a node now resumes with are consumed, in the
    batch that stores the resume (fenced like it): from then on the node row holds them,
    and a later attempt of the node (a retry) gets a new callback token or child run (see
    `runs.callbacks.create_callback`, `runs.engine_host`). Until then a re-run of the node
    after a takeover is handed the delivered one again."""
    qn = connection.ops.quote_name
    now = timezone.now()
    run_pk = WorkflowRun._meta.pk.get_db_prep_save(run_id, connection)
    for model, column, match, values in (
        (CorrelationToken, "consumed_at", "token", _resumed_with(states, "callback", "token")),
        (WorkflowRun, "parent_resumed_at", "id", _resumed_with(states, "child", "child_run_id")),
    ):
        if not values:
            continue
        opts = model._meta
        owner = "run_id" if model is CorrelationToken else "parent_run_id"
        prepare = opts.get_field(match).get_db_prep_save
        marks = ", ".join(["%s"] * len(values))
        rows.execute(
            f"UPDATE {qn(opts.db_table)} SET {qn(column)} = %s WHERE {qn(owner)} = %s "
            f"AND {qn(match)} IN ({marks}) AND {qn(column)} IS NULL",
            [opts.get_field(column).get_db_prep_save(now, connection), run_pk]
            + [prepare(v, connection) for v in values],
        )


def pending_deliveries(run_id: str) -> int:
    """How many waiting nodes of the run have a delivery ready to resume them."""
    waiting = NodeExecution.objects.filter(run_id=run_id, status="waiting")
    return merge_deliveries(run_id, [node_state_of(r) for r in waiting])


def node_state_of(row: NodeExecution) -> NodeState:
    return NodeState(
        node_id=row.node_id,
        iteration=row.iteration,
        outer=iterations.decode_outer(row.outer_iterations),
        status=row.status,
        attempts=row.attempts,
        input=row.input,
        output=row.output,
        error=row.error,
        handles=row.handles,
        started_at=row.started_at,
        completed_at=row.completed_at,
        resume_at=row.resume_at,
        wait=row.wait,
        warnings=row.warnings or [],
    )


def check_lease(run_id: str, owner: str, epoch: int) -> None:
    """Raise `LeaseLost` unless `owner` still holds the run's lease at `epoch`; renews it.

    One UPDATE that renews the lease only where owner and epoch still match, meant as the
    first statement of the transaction it guards (on PostgreSQL the run row then stays
    locked until that transaction ends, so no takeover slips in). Collected in a batch it
    divides by the count of matched rows, so a lost lease aborts the whole batch."""
    qn = connection.ops.quote_name
    opts = WorkflowRun._meta
    sql = (
        f"UPDATE {qn(opts.db_table)} SET {qn('lease_expires_at')} = %s "
        f"WHERE {qn('id')} = %s AND {qn('lease_owner')} = %s AND {qn('lease_epoch')} = %s"
    )
    params = [
        opts.get_field("lease_expires_at").get_db_prep_save(leases.expiry(), connection),
        opts.pk.get_db_prep_save(run_id, connection),
        owner,
        int(epoch),
    ]
    if rows.batching():
        rows.execute(f"WITH fence AS ({sql} RETURNING 1) SELECT 1 / (SELECT COUNT(*) FROM fence)", params)
    elif not rows.execute(sql, params):
        raise LeaseLost(f"run {run_id}: the lease was taken over; nothing was written")


def lease_fence(run_id: str, owner: str, epoch: int):
    """The check a holder binds with `workflows.fencing.holding` while it advances the run:
    every write made on the run's behalf outside this store (connector executions,
    callback tokens, child runs, provider and integration records) runs it first."""

    def check() -> None:
        with write_lock():
            check_lease(run_id, owner, epoch)

    return check


def _log_lines(run_id: str, stored: list[tuple]) -> None:
    for _, _, level, node_id, iteration, _, message, _ in stored:
        run_log.log(
            LOG_LEVELS.get(level, logging.INFO),
            message,
            extra={"run_id": str(run_id), "node_id": node_id or None, "iteration": iteration},
        )


class OrmStore:
    def __init__(self, *, resolve_secrets=None):
        # resolve_secrets(run) -> {credential name: value}; audited by the caller.
        self._resolve_secrets = resolve_secrets
        self._rows: dict[str, set[NodeKey]] = {}  # node instances with a row
        self._timed: dict[str, set] = {}  # node instances whose duration was measured
        self._secrets: dict[str, list[str]] = {}
        self._types: dict[str, dict[str, str]] = {}
        self._order: dict[str, dict[str, int]] = {}
        self._workflow: dict[str, str] = {}
        self._parent: dict[str, Any] = {}
        self._primed: dict[str, WorkflowRun] = {}
        self._cancel_read: dict[str, bool] = {}  # the flag as `load_run` read it, answered once
        self._fences: dict[str, tuple[str, int]] = {}  # run id -> (lease owner, epoch)
        self._statuses: dict[str, dict[NodeKey, str]] = {}  # node instance -> status saved

    # -- loading ------------------------------------------------------------------------
    def prime(self, run: WorkflowRun) -> None:
        """The next `load_run` of this run, in this process, uses `run` (its version
        selected) instead of reading it back, and knows it has no node rows yet. For the
        host that has just created the run (unstarted, no initial states)."""
        self._primed[str(run.pk)] = run

    def hold(self, run_id: str, owner: str, epoch: int) -> None:
        """Fence every write of this run: from now on each `batch()` first checks, in the
        same transaction, that `owner` still holds the lease at `epoch` (and renews it);
        if another worker took the run over, the batch writes nothing and raises
        `LeaseLost`. Cleared by `forget`."""
        self._fences[run_id] = (owner, int(epoch))

    def forget(self, run_id: str) -> None:
        """Drop what this process cached about the run (after an `advance()`)."""
        for cache in (
            self._fences,
            self._statuses,
            self._rows,
            self._timed,
            self._secrets,
            self._types,
            self._order,
            self._workflow,
            self._parent,
            self._primed,
            self._cancel_read,
        ):
            cache.pop(run_id, None)

    @contextmanager
    def batch(self, run_id: str):
        """One transaction around a scheduler flush (node states, events, logs, run status);
        on PostgreSQL its statements also travel together, in one round trip. A held run's
        batch starts with the lease check (see `hold`)."""
        if rows.can_batch():
            outermost = not rows.batching()
            try:
                with rows.batched():
                    if not outermost:
                        yield
                    elif rows.owed(run_id) is None:
                        self._fence(run_id)
                        yield
                    else:
                        # Its own row leads the batch (`rows.deferred`): it is stored nowhere
                        # yet, so nobody else can hold it (no lease to check), and its events
                        # (none stored only-if) travel as one INSERT.
                        with events.coalesced():
                            yield
            except DataError as exc:
                if outermost and run_id in self._fences and "division by zero" in str(exc):
                    raise LeaseLost(f"run {run_id}: the lease was taken over; nothing was written") from None
                raise
            finally:
                if outermost and rows.owed(run_id) is not None:  # not sent: none of the run is stored
                    self._rows.pop(run_id, None)
                    self._statuses.pop(run_id, None)
        else:
            outermost = not connection.in_atomic_block
            # One transaction: its events travel as one INSERT at the end (on PostgreSQL the
            # batch already sends every statement in one round trip).
            with write_lock(), transaction.atomic(savepoint=False), events.coalesced():
                if outermost:
                    self._fence(run_id)
                yield

    def _fence(self, run_id: str) -> None:
        """The lease check of a held run, first in the current transaction (see `check_lease`)."""
        fence = self._fences.get(run_id)
        if fence is not None:
            check_lease(run_id, *fence)

    def load_run(self, run_id: str) -> RunSnapshot:
        primed = self._primed.pop(run_id, None)
        run = primed or WorkflowRun.objects.select_related("version").get(pk=run_id)
        self._cancel_read[run_id] = bool(run.cancel_requested)
        # Secrets typed into the document are sealed at rest: the engine gets their text, in
        # memory, and everything this store writes for the run masks them.
        literal = sealed_texts(run.version.document)
        document = unseal_document(run.version.document) if literal else run.version.document
        secrets = self._resolve_secrets(run) if self._resolve_secrets else {}
        self._secrets[run_id] = secret_values(secrets) + literal
        self._types[run_id] = {n["id"]: n["type"] for n in document["nodes"]}
        self._order[run_id] = {n["id"]: i for i, n in enumerate(document["nodes"])}
        self._workflow[run_id] = str(run.workflow_id)
        self._parent[run_id] = run.parent_run_id
        found = [] if primed is not None else list(NodeExecution.objects.filter(run_id=run_id))
        states = {s.key: s for s in map(node_state_of, found)}
        self._rows[run_id] = set(states)
        if states:
            merge_deliveries(run_id, states.values())
        return RunSnapshot(
            run_id=str(run.id),
            workflow_id=str(run.workflow_id),
            document=document,
            trigger=run.input,
            mode=run.mode,
            status=run.status,
            started_at=run.started_at,
            nodes=states,
            secrets=secrets,
            literals=literal,
            timeout_s=(document.get("settings") or {}).get("timeout_s"),
        )

    # -- writing ------------------------------------------------------------------------
    def _fields(self, run_id: str, state: NodeState) -> dict[str, Any]:
        secrets = self._secrets.get(run_id, [])
        return {
            "status": state.status,
            "attempts": state.attempts,
            "input": for_storage(state.input, secrets),
            "output": for_storage(state.output, secrets),
            "error": for_storage(state.error, secrets),
            "handles": state.handles,
            "wait": for_storage(state.wait, secrets),
            "warnings": state.warnings or [],
            "started_at": state.started_at,
            "completed_at": state.completed_at,
            "resume_at": state.resume_at,
        }

    def save_nodes(self, run_id: str, states: list[NodeState]) -> None:
        if not states:
            return
        known = self._rows.setdefault(run_id, set())
        timed = self._timed.setdefault(run_id, set())
        types = self._types.get(run_id, {})
        order = self._order.get(run_id, {})
        latest = list({state.key: state for state in states}.values())  # one row per instance
        saved = self._statuses.setdefault(run_id, {})
        for state in latest:
            saved[state.key] = state.status
        finished = []
        with rows.transaction_unless_batching():
            new = []
            for state in latest:
                fields = self._fields(run_id, state)
                if state.status in metrics.FINISHED_NODE_STATUSES and state.key not in timed:
                    timed.add(state.key)
                    finished.append((types.get(state.node_id, ""), state))
                if state.key in known:
                    rows.update(
                        NodeExecution,
                        fields,
                        {
                            "run": run_id,
                            "node_id": state.node_id,
                            "iteration": state.iteration,
                            "outer_iterations": iterations.encode_outer(state.outer),
                        },
                    )
                else:
                    new.append(
                        (
                            run_id,
                            state.node_id,
                            state.iteration,
                            iterations.encode_outer(state.outer),
                            types.get(state.node_id, ""),
                            order.get(state.node_id, 0),
                            *fields.values(),
                        )
                    )
            if new:
                rows.insert(NodeExecution, NODE_COLUMNS, new)
                known.update(s.key for s in states)
            _consume_deliveries(run_id, latest)
            events.record(run_id, self._workflow[run_id], [events.node_event(run_id, s) for s in states])
            if finished:  # counted once stored (a holder that lost the lease stores nothing)
                rows.on_written(lambda: [metrics.node_finished(t, state) for t, state in finished])

    def save_run(
        self,
        run_id: str,
        *,
        status: str,
        output: Any = None,
        error: dict | None = None,
        resume_at: datetime | None = None,
        started_at: datetime | None = None,
    ) -> None:
        secrets = self._secrets.get(run_id, [])
        now = timezone.now()
        fields: dict[str, Any] = {"status": status, "resume_at": resume_at}
        keep_started = status == RunStatus.RUNNING or status in TERMINAL
        if status in TERMINAL:
            fields.update(
                output=for_storage(output, secrets),
                error=for_storage(error, secrets),
                completed_at=now,
                lease_owner="",
                lease_expires_at=None,
            )
        elif status == RunStatus.WAITING:
            # Parked by a worker: a resume that was queued did start (see runs.timekeeping).
            fields.update(lease_owner="", lease_expires_at=None, orphan_requeues=0)
        if run_id not in self._workflow:  # not loaded through this store (e.g. a host finalizing)
            workflow_id, parent_id = (
                WorkflowRun.objects.filter(pk=run_id).values_list("workflow_id", "parent_run_id").get()
            )
            self._workflow[run_id], self._parent[run_id] = str(workflow_id), parent_id
        if self._parent.get(run_id):
            rows.flush()  # the parent is woken below: from here on, write straight through
            if rows.batching():
                self._fence(run_id)  # the rest of the batch is checked again
        owed = rows.owed(run_id)
        if owed is not None:
            self._save_owed(owed.obj, fields, started_at=(started_at or now) if keep_started else None)
            return
        with rows.transaction_unless_batching():
            # One statement; a finished run never changes again (e.g. cancelled while a node ran).
            updated = _update_run(
                run_id,
                fields,
                started_at=(started_at or now) if keep_started else None,
                count_nodes=status in TERMINAL,
            )
            if updated == 0:
                return
            if status in TERMINAL:
                rows.on_written(lambda: metrics.run_finished(status))
            # Collected for later (updated is None): the event is stored if the update was.
            events.record(
                run_id,
                self._workflow[run_id],
                [{"type": "run.status", "run_id": run_id, "status": status}],
                only_if=None if updated else _changed_to(run_id, status, now if status in TERMINAL else None),
            )
            if status in TERMINAL and self._parent.get(run_id):
                child_finished(
                    child=WorkflowRun.objects.get(pk=run_id), status=status, output=output, error=error
                )

    def _save_owed(self, run: WorkflowRun, fields: dict[str, Any], *, started_at: datetime | None) -> None:
        """`save_run` of a run whose row is not written yet (it leads the batch being made,
        see `rows.deferred`): the row is written with these values, once, instead of being
        written and then updated; nobody else can have seen or changed it. Its node rows
        are all in this batch, so their counts are this store's own."""
        run_id, status = str(run.pk), fields["status"]
        for name, value in fields.items():
            setattr(run, name, value)
        if started_at is not None and run.started_at is None:
            run.started_at = started_at
        if status in TERMINAL:
            statuses = self._statuses.get(run_id, {}).values()
            run.successful_nodes = sum(s == "succeeded" for s in statuses)
            run.failed_nodes = sum(s == "failed" for s in statuses)
            rows.on_written(lambda: metrics.run_finished(status))
        events.record(
            run_id, self._workflow[run_id], [{"type": "run.status", "run_id": run_id, "status": status}]
        )

    def append_logs(self, run_id: str, entries: list[LogEntry]) -> None:
        if not entries:
            return
        secrets = self._secrets.get(run_id, [])
        now = timezone.now()
        stored = [
            (
                run_id,
                e.timestamp or now,
                e.level,
                e.node_id or "",
                e.iteration,
                iterations.encode_outer(e.outer),
                for_storage(str(e.message), secrets, limit=1 << 30)[:10_000],
                for_storage(e.data, secrets, limit=20_000),
            )
            for e in entries
        ]
        rows.insert(ExecutionLog, LOG_COLUMNS, stored)
        if run_log.isEnabledFor(logging.DEBUG if any(e.level == "debug" for e in entries) else logging.INFO):
            # Logged once stored: a holder that lost the lease logs nothing it did not store.
            rows.on_written(lambda: _log_lines(run_id, stored))

    def cancel_requested(self, run_id: str) -> bool:
        """The first ask after `load_run` (the scheduler's check before it starts anything)
        is answered from the row it read; later ones read the flag again."""
        read = self._cancel_read.pop(run_id, None)
        if read is not None:
            return read
        return WorkflowRun.objects.filter(pk=run_id, cancel_requested=True).exists()
