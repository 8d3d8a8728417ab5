"""Writes for runs: start, retry, cancel, resume. Keyword-only, transactional; work is
enqueued only after the transaction commits, so a worker never sees an uncommitted run."""

from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.errors import ApplicationError
from workflows.models import Workflow
from workflows.selectors import latest_version

from . import leases, metrics
from .models import (
    NodeExecution,
    NodeStatus,
    RunMode,
    RunStatus,
    WorkflowRun,
)

logger = logging.getLogger("switchyard.runs")

TASK = "runs.tasks.execute_run"


class RunRefused(ApplicationError):
    """A run cannot start or be retried (no version, daily limit, bad `from`)."""


_brokers: dict[int, Any] = {}


def _broker():
    """This process's Django-Q broker (a Redis broker holds a connection pool: building one
    per task cost a connection per run)."""
    import os

    from django_q.brokers import get_broker

    pid = os.getpid()
    if pid not in _brokers:
        _brokers.clear()  # a forked child builds its own
        _brokers[pid] = get_broker()
    return _brokers[pid]


def enqueue_run(run_id: str) -> None:
    """Hand the run to a worker once the current transaction commits."""

    def push():
        from django_q.conf import Conf
        from django_q.tasks import async_task

        options = {} if Conf.SYNC else {"broker": _broker()}
        # save=False: the run row is the record; a Django-Q success row per run is only cost
        async_task(TASK, str(run_id), task_name=f"run {run_id}", ack_failure=True, save=False, **options)

    transaction.on_commit(push)


def _trigger_node_of(document: dict, trigger_node: str) -> tuple[str, str]:
    from workflows.engine.registry import registry

    triggers = [n for n in document["nodes"] if n["type"] in registry and registry.get(n["type"]).is_trigger]
    if trigger_node:
        match = next((n for n in triggers if n["id"] == trigger_node), None)
        if match:
            return match["id"], match["type"]
    if triggers:
        manual = next((n for n in triggers if n["type"] == "trigger.manual"), triggers[0])
        return manual["id"], manual["type"]
    return "", "trigger.manual"


def start_run(
    *,
    workflow: Workflow,
    input: Any = None,
    mode: str = RunMode.LIVE,
    trigger_node: str = "",
    trigger_type: str = "",
    user=None,
    idempotency_key: str = "",
    parent: tuple[WorkflowRun, str, int | None] | None = None,
    version=None,
    enforce_daily_limit: bool = False,
    enqueue: bool = True,
    lease_owner: str = "",
) -> WorkflowRun:
    """Create a durable run of `version` (default: the workflow's latest) and enqueue it.
    Trigger-started runs pass `enforce_daily_limit` to honour `max_runs_per_day`.

    `lease_owner` creates the run already leased (to execute it in this process, see
    `runs.tasks.InlineRunner`; pass `enqueue=False` then): if the owner never finishes it,
    the lease expires and the timekeeper hands the run to the queue. The returned run has
    `fresh` True when this call created it with no node rows (False for an existing run
    found by `idempotency_key`)."""
    version = version or latest_version(workflow)
    if version is None:
        raise RunRefused("VALIDATION_ERROR", "The workflow has no saved version to run.")
    several_triggers = len([n for n in version.document["nodes"] if n["type"].startswith("trigger.")]) > 1
    limited = enforce_daily_limit and (workflow.settings or {}).get("max_runs_per_day")
    if not (idempotency_key or limited or several_triggers):
        # One INSERT: atomic on its own, no transaction to open and close around it.
        return _start_run(
            workflow=workflow,
            input=input,
            mode=mode,
            trigger_node=trigger_node,
            trigger_type=trigger_type,
            user=user,
            idempotency_key="",
            parent=parent,
            version=version,
            enforce_daily_limit=False,
            enqueue=enqueue,
            lease_owner=lease_owner,
            several_triggers=False,
        )
    with transaction.atomic():
        return _start_run(
            workflow=workflow,
            input=input,
            mode=mode,
            trigger_node=trigger_node,
            trigger_type=trigger_type,
            user=user,
            idempotency_key=idempotency_key,
            parent=parent,
            version=version,
            enforce_daily_limit=enforce_daily_limit,
            enqueue=enqueue,
            lease_owner=lease_owner,
            several_triggers=several_triggers,
        )


def _start_run(
    *,
    workflow,
    input,
    mode,
    trigger_node,
    trigger_type,
    user,
    idempotency_key,
    parent,
    version,
    enforce_daily_limit,
    enqueue,
    lease_owner,
    several_triggers,
) -> WorkflowRun:
    if idempotency_key:
        existing = WorkflowRun.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
        if existing:
            return existing
    if enforce_daily_limit:
        check_daily_limit(workflow)
    node_id, node_type = _trigger_node_of(version.document, trigger_node)
    fields = dict(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=version,
        mode=mode,
        input=input if input is not None else {},
        trigger_node=node_id,
        trigger_type=trigger_type or node_type,
        total_nodes=len(version.document["nodes"]),
        idempotency_key=idempotency_key,
        started_by=user if user and user.is_authenticated else None,
        parent_run=parent[0] if parent else None,
        parent_node_id=parent[1] if parent else "",
        parent_iteration=parent[2] if parent else None,
    )
    if lease_owner:
        fields.update(lease_owner=lease_owner, lease_expires_at=leases.expiry(), lease_epoch=1)
    if idempotency_key:
        try:
            with transaction.atomic():
                run = WorkflowRun.objects.create(**fields)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won: answer with its run.
            return WorkflowRun.objects.get(workflow=workflow, idempotency_key=idempotency_key)
    else:
        run = WorkflowRun.objects.create(**fields)
    run.fresh = True
    metrics.run_started(run)
    if several_triggers:
        from workflows.engine.scheduler import initial_states

        types = {n["id"]: (i, n["type"]) for i, n in enumerate(version.document["nodes"])}
        NodeExecution.objects.bulk_create(
            NodeExecution(
                run=run,
                node_id=s.node_id,
                status=s.status,
                order=types[s.node_id][0],
                node_type=types[s.node_id][1],
            )
            for s in initial_states(version.document, node_id)
        )
        run.fresh = False
    if enqueue:
        enqueue_run(run.id)
    return run


def runs_today(workflow: Workflow) -> int:
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return WorkflowRun.objects.filter(workflow=workflow, created_at__gte=start).count()


def check_daily_limit(workflow: Workflow) -> None:
    """Refuse (429) once the workflow has started `settings.max_runs_per_day` runs today (UTC).
    The workflow row is locked so concurrent triggers cannot overshoot the limit."""
    limit = (workflow.settings or {}).get("max_runs_per_day")
    if not limit:
        return
    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
    used = runs_today(workflow)
    if used >= limit:
        raise RunRefused(
            "RATE_LIMITED",
            f"This workflow has reached its limit of {limit} runs per day "
            f"({used} today, UTC); try again tomorrow or raise max_runs_per_day.",
            429,
        )


def wait_for_run(run_id, timeout_s: float) -> WorkflowRun | None:
    """Wait until the run is finished; None if it is still going after `timeout_s`.

    A queued run that no worker has taken yet is taken here: it is leased to this process
    and advanced on its in-process pool (`runs.tasks.inline`), and the wait ends when it
    does; the queued task then finds the run taken and skips it. Otherwise the run is
    polled (5 ms, backing off to 20 ms)."""
    from .tasks import inline, release_connection

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


@transaction.atomic
def retry_run(*, run: WorkflowRun, start_from: str = "start", user=None) -> WorkflowRun:
    """A new run of the same version and input. From `failed`, the succeeded nodes' states
    (outputs included) are copied in, so only what failed or never ran executes again."""
    if start_from not in ("start", "failed"):
        raise RunRefused("VALIDATION_ERROR", "`from` must be 'start' or 'failed'.")
    if start_from == "failed" and run.status not in (
        RunStatus.FAILED,
        RunStatus.PARTIAL,
        RunStatus.CANCELLED,
    ):
        raise RunRefused(
            "VALIDATION_ERROR",
            f"Only a failed, partial or cancelled run can be retried from "
            f"the failed node; this one is {run.status}.",
            409,
        )
    new = WorkflowRun.objects.create(
        workspace_id=run.workspace_id,
        workflow_id=run.workflow_id,
        version_id=run.version_id,
        mode=run.mode,
        input=run.input,
        trigger_node=run.trigger_node,
        trigger_type=run.trigger_type,
        total_nodes=run.total_nodes,
        retry_of=run,
        started_by=user if user and user.is_authenticated else None,
    )
    if start_from == "failed":
        kept = NodeExecution.objects.filter(run=run, status=NodeStatus.SUCCEEDED, iteration__isnull=True)
        # A loop is re-run whole unless it succeeded: drop iterations of unfinished loops.
        NodeExecution.objects.bulk_create(
            NodeExecution(
                run=new,
                node_id=n.node_id,
                node_type=n.node_type,
                iteration=n.iteration,
                status=n.status,
                attempts=n.attempts,
                input=n.input,
                output=n.output,
                handles=n.handles,
                wait=n.wait,
                warnings=n.warnings,
                order=n.order,
                started_at=n.started_at,
                completed_at=n.completed_at,
            )
            for n in kept
        )
    enqueue_run(new.id)
    return new


@transaction.atomic
def cancel_run(*, run: WorkflowRun) -> WorkflowRun:
    """Ask a run to stop. A run no worker holds (pending, waiting) is finished right here;
    a running one stops at its nodes' next safe point."""
    run = WorkflowRun.objects.select_for_update().get(pk=run.pk)
    if run.is_finished:
        return run
    run.cancel_requested = True
    run.save(update_fields=["cancel_requested"])
    if not run.lease_owner:
        # No worker holds it (queued or parked): a worker finalizes the cancellation.
        wake_run(run_id=run.pk)
    return run


# -- resuming waiting nodes -----------------------------------------------------------


def wake_run(*, run_id) -> None:
    """Something the run waits for arrived: queue it now instead of at its resume time."""
    WorkflowRun.objects.filter(pk=run_id, status=RunStatus.WAITING).update(resume_at=None)
    enqueue_run(run_id)


def child_finished(*, child: WorkflowRun, status: str, output: Any, error: Any) -> None:
    """A sub-workflow run ended: resume the parent node that waits for it."""
    wake_run(run_id=child.parent_run_id)


# Callbacks live in `runs.callbacks`; these names stay importable from here.
from .callbacks import CallbackGone, create_callback, receive_callback  # noqa: E402,F401

# -- timekeeping ----------------------------------------------------------------------


def resume_due_runs(now=None) -> int:
    """Enqueue waiting runs whose resume time has come. Each is claimed atomically."""
    now = now or timezone.now()
    count = 0
    for run_id in WorkflowRun.objects.filter(status=RunStatus.WAITING, resume_at__lte=now).values_list(
        "pk", flat=True
    )[:500]:
        with transaction.atomic():
            if WorkflowRun.objects.filter(pk=run_id, status=RunStatus.WAITING, resume_at__lte=now).update(
                resume_at=None
            ):
                enqueue_run(run_id)
                count += 1
    return count


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
    run is pending or running, holds when to look again). A run that was started (it has
    held a lease) and was already queued again RUN_MAX_REQUEUES times is failed with the
    reason instead; one never started (a lost queue message, a long backlog) is not."""
    from .engine_host import scheduler

    now = now or timezone.now()
    idle = now - timedelta(seconds=settings.RUN_ORPHAN_SECONDS)
    orphans = WorkflowRun.objects.filter(
        status__in=[RunStatus.PENDING, RunStatus.RUNNING],
        lease_owner="",
        lease_expires_at__isnull=True,
        created_at__lt=idle,
    ).filter(Q(resume_at__isnull=True) | Q(resume_at__lt=now))
    count = 0
    for run_id, requeues, epoch in orphans.values_list("pk", "orphan_requeues", "lease_epoch")[:500]:
        if requeues >= settings.RUN_MAX_REQUEUES and epoch > 0:
            error = {
                "category": "VALIDATION_ERROR",
                "message": f"the run was queued again {requeues} times and never finished; giving up",
                "details": {"requeues": requeues},
                "node": None,
            }
            with transaction.atomic():
                scheduler().store.save_run(str(run_id), status=RunStatus.FAILED, error=error)
            logger.warning("run %s never finished after %s requeues; failed", run_id, requeues)
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
    deleted, _ = old.delete()
    return deleted
