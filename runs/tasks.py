"""Django-Q tasks, and running a run in the current process. Idempotent and retry-safe: a
run is advanced only by whoever holds its lease, and a finished run is never advanced again."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection

from config.log_format import bind_run
from workflows.engine.scheduler import RunOutcome
from workflows.engine.store import LeaseLost

from . import leases
from .engine_host import scheduler
from .models import RunStatus
from .store import pending_deliveries

logger = logging.getLogger("switchyard.runs")


TERMINAL = set(RunStatus.terminal())


LEASE_LOST = "lease lost"  # the status `advance_leased` reports when another worker took over


def execute_run(run_id: str) -> str:
    """Advance the run until it finishes or parks. Returns the status it reached."""
    owner = leases.new_owner()
    epoch = leases.acquire(run_id, owner)
    if not epoch:
        return "skipped: another worker holds the run, or it is finished"
    return advance_leased(str(run_id), owner, epoch)


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
            outcome = scheduler().advance(run_id)
            # A callback or child result may have arrived while this worker held the lease
            # (its own enqueue was skipped): take it now rather than leave the run parked.
            # Parking let the lease go: take it again first (whoever else has, wins).
            while outcome.status == "waiting" and pending_deliveries(run_id):
                epoch = leases.acquire(run_id, owner)
                if not epoch:
                    break
                store.hold(run_id, owner, epoch)
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


# -- in-process execution -------------------------------------------------------------------


class InlineRunner:
    """Runs that a web request waits for (`respond: on_completion`, execute with `wait`)
    are advanced here, in the web process, on a small thread pool, instead of taking the
    queue -> worker -> database-poll round trip. The run row is committed and leased to
    this process before it starts, so nothing is lost if the process dies: the lease
    expires and the timekeeper hands the run to the queue. When every slot is busy the
    caller uses the queue as usual."""

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
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="inline-run")
            return True

    def cancel_reservation(self) -> None:
        with self._lock:
            self._busy -= 1

    def submit(self, run, owner: str) -> Future:
        """Advance `run` (leased to `owner`: a `WorkflowRun` or its id) on a reserved slot.
        The future's result is the `RunOutcome`. A run `start_run` has just created (it
        carries its version, and no node rows yet) is not read back from the database."""
        return self._pool.submit(self._advance, run, owner)

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
            from .services import enqueue_run

            enqueue_run(run_id)
            raise
        finally:
            with self._lock:
                self._busy -= 1
            release_connection()


inline = InlineRunner()


def release_connection() -> None:
    """End of a unit of work (or the start of a long wait): give a pooled connection back,
    keep a healthy SQLite one (cheap to hold, slow to reopen), close the rest (an idle
    thread must not hold a database server connection). Never inside a transaction."""
    if connection.in_atomic_block or connection.connection is None:
        return
    if connection.vendor != "sqlite" or connection.errors_occurred:
        connection.close()
