"""The timekeeper's jobs (`manage.py timekeeper`): resume waiting runs when due, hand runs
whose worker died back to the queue, prune old runs. Every claim is atomic, so several
timekeepers may run at once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.models import ConnectorExecution, ExecutionStatus

from . import metrics
from .models import NodeDayStat, RunStatus, WorkflowRun
from .queue import enqueue_run, queued_runs

logger = logging.getLogger("switchyard.runs")


def resume_due_runs(now=None) -> int:
    """Enqueue waiting runs whose resume time has come. Each is claimed atomically, and its
    `resume_at` moves RUN_ORPHAN_SECONDS on: the worker that advances the run sets its own
    resume time (and, parking it again, sets `orphan_requeues` back to 0), so a run whose
    queued resume never started (its task lost with the cluster) is queued again then,
    unless the broker still holds that task. After RUN_MAX_REQUEUES such tries in a row the
    run is failed with the reason."""
    now = now or timezone.now()
    due = list(
        WorkflowRun.objects.filter(status=RunStatus.WAITING, resume_at__lte=now).values_list(
            "pk", "orphan_requeues"
        )[:500]
    )
    held = _still_queued([run_id for run_id, requeues in due if requeues])
    count = 0
    for run_id, requeues in due:
        if requeues and str(run_id) in held:
            _look_again(run_id, now, status=RunStatus.WAITING)  # its resume is still queued
            continue
        if requeues >= settings.RUN_MAX_REQUEUES:
            _give_up(run_id, f"the run was resumed {requeues} times and no worker continued it", requeues)
            count += 1
            continue
        with transaction.atomic():
            if WorkflowRun.objects.filter(pk=run_id, status=RunStatus.WAITING, resume_at__lte=now).update(
                resume_at=now + timedelta(seconds=settings.RUN_ORPHAN_SECONDS),
                orphan_requeues=F("orphan_requeues") + 1,
            ):
                if requeues:
                    logger.warning("run %s was resumed but never continued; queueing it again", run_id)
                enqueue_run(run_id)
                count += 1
    return count


class _Everything(set):
    def __contains__(self, item) -> bool:
        return True


def _still_queued(run_ids) -> set[str]:
    """The runs among `run_ids` whose task the broker still holds (all of them when that
    cannot be told: better late than twice)."""
    if not run_ids:
        return set()
    held = queued_runs(run_ids)
    return _Everything() if held is None else held


def _look_again(run_id, now, *, status) -> None:
    """Check the run again in RUN_ORPHAN_SECONDS, without counting a requeue."""
    WorkflowRun.objects.filter(pk=run_id, status=status).update(
        resume_at=now + timedelta(seconds=settings.RUN_ORPHAN_SECONDS)
    )


def _give_up(run_id, reason: str, requeues: int) -> None:
    from .engine_host import scheduler

    error = {
        "category": "VALIDATION_ERROR",
        "message": f"{reason}; giving up",
        "details": {"requeues": requeues},
        "node": None,
    }
    with transaction.atomic():
        scheduler().store.save_run(str(run_id), status=RunStatus.FAILED, error=error)
    logger.warning("run %s failed: %s", run_id, reason)


def reap_expired_leases(now=None) -> int:
    """Runs whose worker stopped renewing its lease go back to the queue."""
    now = now or timezone.now()
    count = 0
    stale = WorkflowRun.objects.filter(
        status__in=[RunStatus.RUNNING, RunStatus.PENDING], lease_expires_at__lt=now
    )
    for run_id in stale.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            if WorkflowRun.objects.filter(pk=run_id, lease_expires_at__lt=now).update(
                lease_owner="", lease_expires_at=None
            ):
                logger.warning(
                    "run %s lost its worker; handing it back to the queue",
                    run_id,
                    extra={"run_id": str(run_id)},
                )
                metrics.LEASE_TAKEOVERS.inc()
                enqueue_run(run_id)
                count += 1
    return count


def recover_orphaned_runs(now=None) -> int:
    """Every run that is not finished is running somewhere, waiting, or queued. A pending
    or running run that no worker holds (no lease) and that has not moved for
    RUN_ORPHAN_SECONDS lost its queue message (or failed before it could be stored):
    it is queued again, at most once per RUN_ORPHAN_SECONDS (`resume_at`, unused while a
    run is pending or running, holds when to look again), unless the broker still holds
    its task (a long backlog: queueing it twice would only cost a second delivery). A run
    that was started (it has held a lease) and was already queued again RUN_MAX_REQUEUES
    times is failed with the reason instead; one never started is not."""
    now = now or timezone.now()
    idle = now - timedelta(seconds=settings.RUN_ORPHAN_SECONDS)
    orphans = list(
        WorkflowRun.objects.filter(
            status__in=[RunStatus.PENDING, RunStatus.RUNNING],
            lease_owner="",
            lease_expires_at__isnull=True,
            created_at__lt=idle,
        )
        .filter(Q(resume_at__isnull=True) | Q(resume_at__lt=now))
        .values_list("pk", "orphan_requeues", "lease_epoch", "status")[:500]
    )
    held = _still_queued([run_id for run_id, *_ in orphans])
    count = 0
    for run_id, requeues, epoch, status in orphans:
        if str(run_id) in held:
            _look_again(run_id, now, status=status)
            continue
        if requeues >= settings.RUN_MAX_REQUEUES and epoch > 0:
            _give_up(run_id, f"the run was queued again {requeues} times and never finished", requeues)
        else:
            with transaction.atomic():
                if WorkflowRun.objects.filter(
                    pk=run_id, lease_owner="", lease_expires_at__isnull=True
                ).update(
                    resume_at=now + timedelta(seconds=settings.RUN_ORPHAN_SECONDS),
                    orphan_requeues=F("orphan_requeues") + 1,
                ):
                    logger.warning("run %s had no worker and no queue entry; queueing it again", run_id)
                    enqueue_run(run_id)
        count += 1
    return count


def prune_finished_runs(now=None) -> int:
    """Delete finished runs older than RUN_RETENTION_DAYS (with their nodes and logs)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.RUN_RETENTION_DAYS)
    old = WorkflowRun.objects.filter(status__in=RunStatus.terminal(), completed_at__lt=cutoff)
    with transaction.atomic():
        deleted, _ = old.delete()
        # The per-day totals those runs leave at nothing (their triggers subtracted them).
        NodeDayStat.objects.filter(runs=0, succeeded=0, failed=0, durations=0).delete()
    return deleted


ABANDONED = (
    "abandoned: the process that ran this call stopped or lost the run's lease before recording "
    "an outcome; the run went on without it (its node was run again by the next holder)"
)


def close_abandoned_executions(now=None) -> int:
    """Connector calls still `executing` for a run that has finished: their process stopped, or
    lost the run's lease and was fenced off, before it could record the outcome. They are
    marked failed with the reason, so no record says `executing` forever."""
    now = now or timezone.now()
    return ConnectorExecution.objects.filter(
        status=ExecutionStatus.EXECUTING, run__status__in=RunStatus.terminal()
    ).update(
        status=ExecutionStatus.FAILED,
        error={"category": "INTEGRATION_ERROR", "message": ABANDONED, "details": {}},
        error_category="INTEGRATION_ERROR",
        completed_at=now,
    )
