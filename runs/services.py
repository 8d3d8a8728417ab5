"""Writes for runs: start, retry, cancel, resume. Keyword-only, transactional; work is
enqueued only after the transaction commits, so a worker never sees an uncommitted run."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from config.errors import ApplicationError
from workflows.engine import iterations
from workflows.engine.registry import registry
from workflows.engine.scheduler import initial_states
from workflows.models import Workflow
from workflows.selectors import latest_version, runs_today
from workflows.trigger_secrets import unset_secrets

from . import leases, metrics, rows
from .models import (
    NodeExecution,
    NodeStatus,
    RunMode,
    RunStatus,
    WorkflowRun,
)
from .queue import enqueue_run, wake_run


class RunRefused(ApplicationError):
    """A run cannot start or be retried (no version, daily limit, bad `from`)."""


def _trigger_node_of(document: dict, trigger_node: str) -> tuple[str, str]:
    """The fired trigger: `trigger_node`, else the one the API starts runs from (endpoint
    "manual"), else the first; ("", "trigger.manual") for a document without triggers."""
    triggers = [n for n in document["nodes"] if registry.trigger_spec(n["type"]) is not None]
    if trigger_node:
        match = next((n for n in triggers if n["id"] == trigger_node), None)
        if match:
            return match["id"], match["type"]
    if triggers:
        manual = next(
            (n for n in triggers if registry.trigger_spec(n["type"]).endpoint == "manual"), triggers[0]
        )
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
    parent: tuple[WorkflowRun, str, int | None, tuple[int, ...]] | None = None,
    version=None,
    enforce_daily_limit: bool = False,
    enqueue: bool = True,
    lease_owner: str = "",
    depth: int = 0,
    defer_insert: bool = False,
) -> WorkflowRun:
    """Create a durable run of `version` (default: the workflow's latest) and enqueue it.
    Trigger-started runs pass `enforce_daily_limit` to honour `max_runs_per_day`.

    `lease_owner` creates the run already leased (to execute it in this process, see
    `runs.runner`; pass `enqueue=False` then): if the owner never finishes it,
    the lease expires and the timekeeper hands the run to the queue. The returned run has
    `fresh` True when this call created it with no node rows (False for an existing run
    found by `idempotency_key`).

    `defer_insert` (inside `rows.deferred()`): a run with no idempotency key, daily limit or
    initial node rows is INSERTed with the first batch of what it writes next (`runs.runner`)."""
    version = version or latest_version(workflow)
    if version is None:
        raise RunRefused("VALIDATION_ERROR", "The workflow has no saved version to run.")
    if unset := unset_secrets(version.document):
        fields = {f"nodes.{node}.config.{field}": ["The secret is not set."] for node, field in unset}
        raise RunRefused(
            "VALIDATION_ERROR",
            f"{', '.join(fields)}: a secret that was masked (***) when the workflow was copied is "
            "not set; type it again or reference a credential as {{ workspace.<name> }}.",
            details=fields,
        )
    several_triggers = (
        sum(registry.trigger_spec(n["type"]) is not None for n in version.document["nodes"]) > 1
    )
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
            depth=depth,
            defer_insert=defer_insert,
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
            depth=depth,
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
    depth=0,
    defer_insert=False,
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
        parent_outer_iterations=iterations.encode_outer(parent[3]) if parent else "",
        depth=depth,
    )
    if lease_owner:
        fields.update(lease_owner=lease_owner, lease_expires_at=leases.expiry(), lease_epoch=1)
    if idempotency_key:
        try:
            with transaction.atomic():
                run = rows.create(WorkflowRun, **fields)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won: answer with its run.
            return WorkflowRun.objects.get(workflow=workflow, idempotency_key=idempotency_key)
    elif defer_insert:
        run = rows.create_deferred(WorkflowRun, **fields)
    else:
        run = rows.create(WorkflowRun, **fields)
    run.fresh = True
    metrics.run_started(run)
    if several_triggers:
        types = {n["id"]: (i, n["type"]) for i, n in enumerate(version.document["nodes"])}
        NodeExecution.objects.bulk_create(
            NodeExecution(
                run=run,
                node_id=s.node_id,
                status=s.status,
                order=types[s.node_id][0],
                node_type=types[s.node_id][1],
            )
            for s in initial_states(version.document, node_id, registry)
        )
        run.fresh = False
    if enqueue:
        enqueue_run(run.id)
    return run


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
