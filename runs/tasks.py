"""Django-Q tasks. Idempotent and retry-safe: a run is advanced only by the worker that
holds its lease, and a finished run is never advanced again."""
from __future__ import annotations

import logging

from . import leases
from .engine_host import scheduler
from .store import pending_deliveries

logger = logging.getLogger("switchyard.runs")


def execute_run(run_id: str) -> str:
    """Advance the run until it finishes or parks. Returns the status it reached."""
    owner = leases.new_owner()
    if not leases.acquire(run_id, owner):
        return "skipped: another worker holds the run, or it is finished"
    try:
        with leases.Heartbeat(run_id, owner):
            outcome = scheduler().advance(run_id)
            # A callback or child result may have arrived while this worker held the lease
            # (its own enqueue was skipped): take it now rather than leave the run parked.
            while outcome.status == "waiting" and pending_deliveries(run_id):
                outcome = scheduler().advance(run_id)
        return outcome.status
    finally:
        leases.release(run_id, owner)
