"""Running a run in this process, and waiting for one.

A caller that waits for a run (a webhook answering `on_completion`, execute with `wait`)
uses `start_and_wait`: the run is created already leased to this process, advanced on a
small in-process pool, and the answer comes from the outcome in memory. The run row is
committed before it starts, so a 2xx still means a stored run, and a process that dies
leaves it to the lease reaper (`runs.timekeeping`). A run whose every node is pure is
advanced on the caller's thread in a few milliseconds; on PostgreSQL its row is written
with its one batch instead (`rows.deferred`): committed before the 2xx all the same, and
a process that dies before that batch leaves no run, for a request it never answered.
When every slot is busy the run takes the queue and the caller waits for the stored
result. Idempotent and retry-safe: a run is advanced only by whoever holds its lease, and
a finished run is never advanced again."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection

from config.log_format import bind_run
from workflows import fencing
from workflows.engine.registry import registry
from workflows.engine.scheduler import RunOutcome
from workflows.engine.store import LeaseLost

from . import leases, rows
from .engine_host import scheduler
from .models import RunStatus, WorkflowRun
from .queue import enqueue_run
from .services import start_run
from .store import lease_fence, pending_deliveries, write_lock

logger = logging.getLogger("switchyard.runs")

TERMINAL = set(RunStatus.terminal())


LEASE_LOST = "lease lost"  # the status `advance_leased` reports when another worker took over


def advance_leased(run_id: str, owner: str, epoch: int | None = None) -> str:
    """Advance a run whose lease `owner` holds (at `epoch`; read when not given), keep the
    lease renewed meanwhile, then let it go. Returns the status the run reached."""
    return _advance_leased(run_id, owner, epoch).status


def _advance_leased(run_id: str, owner: str, epoch: int | None = None) -> RunOutcome:
    """Every store write of the advance is fenced by (owner, epoch): once another worker
    has taken the run over, this process writes nothing more, starts nothing more, and
    returns `LEASE_LOST`."""
    status = ""
    store = scheduler().store
    try:
        epoch = epoch or leases.epoch_of(run_id, owner)
        if not epoch:
            status = LEASE_LOST
            return RunOutcome(LEASE_LOST)
        with leases.Heartbeat(run_id, owner), bind_run(run_id):
            store.hold(run_id, owner, epoch)
            with fencing.holding(lease_fence(run_id, owner, epoch)):
                outcome = scheduler().advance(run_id)
            # A callback or child result may have arrived while this worker held the lease
            # (its own enqueue was skipped): take it now rather than leave the run parked.
            # Parking let the lease go: take it again first (whoever else has, wins).
            while outcome.status == "waiting" and pending_deliveries(run_id):
                epoch = leases.acquire(run_id, owner)
                if not epoch:
                    break
                store.hold(run_id, owner, epoch)
                with fencing.holding(lease_fence(run_id, owner, epoch)):
                    outcome = scheduler().advance(run_id)
        status = outcome.status
        return outcome
    except LeaseLost:
        logger.warning("run %s was taken over by another worker; this one stopped and wrote nothing", run_id)
        status = LEASE_LOST
        return RunOutcome(LEASE_LOST)
    except DatabaseError:
        raise  # likely transient: the lease is let go and the timekeeper hands the run back
    except Exception as exc:  # the run itself cannot be executed: say why, never leave it pending
        logger.exception("run %s cannot be executed; failing it", run_id)
        outcome = _fail_unrunnable(store, run_id, exc)
        status = outcome.status
        return outcome
    finally:
        store.forget(run_id)
        if status not in TERMINAL and status not in (RunStatus.WAITING, LEASE_LOST):  # those let it go
            leases.release(run_id, owner)


def _fail_unrunnable(store, run_id: str, exc: BaseException) -> RunOutcome:
    """Fail a run the engine could not advance (e.g. data it cannot encode), with the
    reason, through the (still fenced) store."""
    error = {
        "category": "VALIDATION_ERROR",
        "message": f"the run could not be executed: {type(exc).__name__}: {str(exc)[:300]}",
        "details": {"exception": type(exc).__name__},
        "node": None,
    }
    try:
        with store.batch(run_id):
            store.save_run(run_id, status=RunStatus.FAILED, error=error)
    except LeaseLost:
        return RunOutcome(LEASE_LOST)
    return RunOutcome(RunStatus.FAILED, error=error)


class InlineRunner:
    """Runs that a web request waits for are advanced here, in the web process, on a small
    thread pool, instead of taking the queue -> worker -> database-poll round trip. When
    every slot is busy the caller uses the queue as usual."""

    def __init__(self):
        self._lock = threading.Lock()
        self._busy = 0
        self._pool: ThreadPoolExecutor | None = None

    @property
    def size(self) -> int:
        return settings.INLINE_RUNS

    def reserve(self) -> bool:
        """Claim a slot; pair with `submit` (or `cancel_reservation`)."""
        with self._lock:
            if self._busy >= self.size:
                return False
            self._busy += 1
            return True

    def cancel_reservation(self) -> None:
        with self._lock:
            self._busy -= 1

    def submit(self, run, owner: str) -> Future:
        """Advance `run` (leased to `owner`: a `WorkflowRun` or its id) on a reserved slot.
        The future's result is the `RunOutcome`. A run `start_run` has just created (it
        carries its version, and no node rows yet) is not read back from the database.

        A run whose every node is pure (`inline` node types: no I/O, no wait, no loop) is
        advanced right here, on the caller's thread: it cannot outlast a few node
        computations, so the hand-off to a pool thread (and back) would only cost."""
        if self.runs_here(run):
            future = Future()
            try:
                future.set_result(self._advance(run, owner))
            except Exception as exc:  # logged by `_advance`, which handed the run to a worker
                future.set_exception(exc)
            return future
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="inline-run")
        return self._pool.submit(self._advance, run, owner)

    @staticmethod
    def runs_here(run) -> bool:
        """`submit` advances this run on the caller's thread (see there)."""
        return getattr(run, "fresh", False) and all_pure(run.version)

    def _advance(self, run, owner: str) -> RunOutcome:
        run_id = str(getattr(run, "pk", run))
        try:
            epoch = None
            if getattr(run, "fresh", False):
                scheduler().store.prime(run)
                epoch = run.lease_epoch  # created leased to us (runs.services.start_run)
            return _advance_leased(run_id, owner, epoch)
        except Exception:
            logger.exception("run %s failed in the web process; handing it to a worker", run_id)
            rows.flush_deferred()  # the worker must find the run stored
            enqueue_run(run_id)
            raise
        finally:
            with self._lock:
                self._busy -= 1
            release_connection()


inline = InlineRunner()


def all_pure(version) -> bool:
    """Every node of the version is of a pure (`inline`) node type."""
    types = {node["type"] for node in version.document["nodes"]}
    return all(t in registry and registry.get(t).inline for t in types)


def release_connection() -> None:
    """End of a unit of work (or the start of a long wait): give a pooled connection back,
    keep a healthy SQLite one (cheap to hold, slow to reopen), close the rest (an idle
    thread must not hold a database server connection). Never inside a transaction."""
    if connection.in_atomic_block or connection.connection is None:
        return
    if connection.vendor != "sqlite" or connection.errors_occurred:
        connection.close()


@dataclass(frozen=True)
class Waited:
    """What `start_and_wait` saw. `outcome` is set when the run finished here, completed or
    partial (its output in memory, masked like the stored one); `finished` is the stored
    run when it ended otherwise; both None when it still goes on after the timeout."""

    run: WorkflowRun
    outcome: RunOutcome | None = None
    finished: WorkflowRun | None = None

    def stored(self) -> WorkflowRun | None:
        """The finished run as stored (read back when it finished here); None if unfinished."""
        if self.finished is not None or self.outcome is None:
            return self.finished
        return WorkflowRun.objects.get(pk=self.run.pk)


def start_and_wait(*, timeout_s: float, **start) -> Waited:
    """Start a run (`services.start_run` keywords; it raises RunRefused as usual) and wait
    up to `timeout_s` for it to finish, executing it in this process when a slot is free."""
    owner = leases.new_owner() if inline.reserve() else ""
    # A run advanced right here, on this thread, writes its own row with the first batch it
    # writes (one transaction, one round trip less): nobody can see or take over the run
    # before then, and a 2xx is only answered after that batch is committed.
    with rows.deferred():
        try:
            with write_lock():
                run = start_run(**start, enqueue=not owner, lease_owner=owner, defer_insert=bool(owner))
        except BaseException:
            if owner:
                inline.cancel_reservation()
            raise
        deadline = time.monotonic() + timeout_s
        mine = bool(owner) and run.lease_owner == owner
        if mine:
            if not inline.runs_here(run):
                rows.flush_deferred()  # stored before another thread looks for it
            future = inline.submit(run, owner)
    if not mine:
        if owner:  # an earlier run with this idempotency key answers
            inline.cancel_reservation()
        return Waited(run=run, finished=wait_for_run(run.pk, timeout_s))
    release_connection()  # a pooled connection is not held while waiting
    try:
        outcome = future.result(timeout=timeout_s)
    except FutureTimeout:
        return Waited(run=run)
    except Exception:  # logged by the runner, which handed the run to a worker
        outcome = None
    if outcome is not None and outcome.status in ("completed", "partial"):
        return Waited(run=run, outcome=outcome)
    # failed or cancelled: answered from the stored run; parked or handed over: waited for
    return Waited(run=run, finished=wait_for_run(run.pk, max(0.0, deadline - time.monotonic())))


def wait_for_run(run_id, timeout_s: float) -> WorkflowRun | None:
    """Wait until the run is finished; None if it is still going after `timeout_s`.

    A queued run that no worker has taken yet is taken here: it is leased to this process
    and advanced on its in-process pool, and the wait ends when it does; the queued task
    then finds the run taken and skips it. Otherwise the run is polled (5 ms, backing off
    to 20 ms)."""
    deadline = time.monotonic() + timeout_s
    run = WorkflowRun.objects.get(pk=run_id)
    if run.status == RunStatus.PENDING and not run.lease_owner and inline.reserve():
        owner = leases.new_owner()
        if leases.acquire(run.pk, owner):
            future = inline.submit(run.pk, owner)
            release_connection()  # a pooled connection is not held while waiting
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                return None
            except Exception:  # logged by the runner; the run went to a worker: poll it
                pass
        else:
            inline.cancel_reservation()
    delay = 0.005
    while True:
        run = WorkflowRun.objects.get(pk=run_id)
        if run.is_finished:
            return run
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.02)  # waiting callers feel every poll step in their latency
