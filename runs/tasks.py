"""Django-Q entry points, and nothing else: each names the work a queued task does.
Schedule rows and queued tasks name these paths, so they stay put."""

from __future__ import annotations

from . import leases
from .intake import schedule
from .runner import advance_leased


def execute_run(run_id: str) -> str:
    """Advance the run until it finishes or parks. Returns the status it reached."""
    owner = leases.new_owner()
    epoch = leases.acquire(run_id, owner)
    if not epoch:
        return "skipped: another worker holds the run, or it is finished"
    return advance_leased(str(run_id), owner, epoch)


def fire_schedule(*, workflow_id: str, node_id: str, version_id: int, slot: str) -> str | None:
    """One slot of a schedule trigger (see `runs.intake.schedule`)."""
    return schedule.fire_schedule(workflow_id=workflow_id, node_id=node_id, version_id=version_id, slot=slot)
