"""Run ownership: one worker holds a run through a lease that it renews while working.
A worker that dies stops renewing; the timekeeper hands the run back to the queue.

The web process holds leases too: a run it executes in-process (`runs.tasks.run_inline`)
is created already leased to it, so if that process dies the run is handed to the queue
exactly like a dead worker's."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import RunStatus, WorkflowRun

logger = logging.getLogger("switchyard.runs")


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def expiry():
    """When a lease taken or renewed now runs out."""
    return timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)


def acquire(run_id: str, owner: str) -> int:
    """Take the run's lease if it is free or expired. Atomic: one winner. Returns the new
    lease epoch (the fencing token the holder's writes carry, see `runs.store`), 0 when
    the lease was not taken. One statement (`UPDATE … RETURNING`), in one round trip: a
    worker takes every queued run this way, and the transaction of an UPDATE, a read of
    the epoch and a COMMIT held the row for three round trips more."""
    now = timezone.now()
    expires, key = WorkflowRun._meta.get_field("lease_expires_at"), WorkflowRun._meta.pk
    until = now + timedelta(seconds=settings.RUN_LEASE_SECONDS)
    params = [owner, expires.get_db_prep_save(until, connection), key.get_db_prep_save(run_id, connection)]
    params += [*RunStatus.terminal(), expires.get_db_prep_save(now, connection), owner]
    with connection.cursor() as cursor:
        cursor.execute(_acquire_sql(connection.vendor), params)
        row = cursor.fetchone()
    return row[0] if row else 0


@lru_cache(maxsize=4)
def _acquire_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    col = {f.attname: qn(f.column) for f in WorkflowRun._meta.concrete_fields}
    terminal = ", ".join(["%s"] * len(RunStatus.terminal()))
    return (
        f"UPDATE {qn(WorkflowRun._meta.db_table)} SET {col['lease_owner']} = %s, "
        f"{col['lease_expires_at']} = %s, {col['lease_epoch']} = {col['lease_epoch']} + 1 "
        f"WHERE {col['id']} = %s AND {col['status']} NOT IN ({terminal}) AND "
        f"({col['lease_expires_at']} IS NULL OR {col['lease_expires_at']} < %s OR {col['lease_owner']} = %s) "
        f"RETURNING {col['lease_epoch']}"
    )


def epoch_of(run_id: str, owner: str) -> int:
    """The epoch of the lease `owner` holds on the run (0: it holds none)."""
    found = WorkflowRun.objects.filter(pk=run_id, lease_owner=owner).values_list("lease_epoch", flat=True)
    return next(iter(found), 0)


def renew(run_id: str, owner: str) -> bool:
    return bool(WorkflowRun.objects.filter(pk=run_id, lease_owner=owner).update(lease_expires_at=expiry()))


def release(run_id: str, owner: str) -> None:
    WorkflowRun.objects.filter(pk=run_id, lease_owner=owner).update(lease_owner="", lease_expires_at=None)


class _Keeper:
    """One thread per process renews every lease the process holds, every third of the
    lease length (a thread per run cost a start and a join on every run)."""

    def __init__(self):
        self._held: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = None

    def hold(self, run_id: str, owner: str) -> None:
        with self._lock:
            key = (run_id, owner)
            self._held[key] = self._held.get(key, 0) + 1
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()  # a forked worker starts its own thread
                self._thread = threading.Thread(target=self._beat, name="lease-keeper", daemon=True)
                self._thread.start()

    def drop(self, run_id: str, owner: str) -> None:
        with self._lock:
            key = (run_id, owner)
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)

    def _beat(self):
        interval = max(1.0, settings.RUN_LEASE_SECONDS / 3)
        while not self._wake.wait(interval):
            with self._lock:
                held = list(self._held)
            if not held:
                continue
            try:
                until = expiry()
                for run_id, owner in held:
                    WorkflowRun.objects.filter(pk=run_id, lease_owner=owner).update(lease_expires_at=until)
            except Exception:  # retried next beat: a lease outlives two missed renewals
                logger.warning("could not renew run leases", exc_info=True)
            finally:
                connection.close()


_keeper = _Keeper()


class Heartbeat:
    """Keeps the lease renewed while the block runs."""

    def __init__(self, run_id: str, owner: str):
        self.run_id, self.owner = str(run_id), owner

    def __enter__(self):
        _keeper.hold(self.run_id, self.owner)
        return self

    def __exit__(self, *exc):
        _keeper.drop(self.run_id, self.owner)
