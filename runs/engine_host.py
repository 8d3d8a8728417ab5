"""The engine's host side: Django-backed `Services` and the per-process scheduler."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import requests
from django.conf import settings
from django.db import connection, transaction

from workflows import fencing
from workflows.engine import iterations
from workflows.engine.registry import registry
from workflows.engine.store import Services

from .callbacks import create_callback
from .models import RunStatus, WorkflowRun
from .services import RunRefused, start_run
from .store import OrmStore


class DjangoServices(Services):
    """Node executors reach the rest of the product through this object."""

    def __init__(self):
        self.allow_private_outbound = settings.ALLOW_PRIVATE_OUTBOUND
        self.max_response_bytes = settings.MAX_RESPONSE_BYTES
        self.inline_wait_max_s = settings.WAIT_INLINE_MAX_S
        self.max_subworkflow_depth = settings.SUBWORKFLOW_MAX_DEPTH

    def http_session(self) -> requests.Session:
        from workflows.engine.outbound import session_for

        return session_for(allow_private=self.allow_private_outbound)

    def start_child_run(
        self, *, parent_run_id, parent_node_id, workflow_id, input, wait, iteration=None, outer=()
    ) -> str:
        """A child run one level deeper than its parent (at most `max_subworkflow_depth`),
        counted against its workflow's `max_runs_per_day` like a triggered run."""
        from workflows.engine.errors import ErrorCategory, NodeError
        from workflows.models import Workflow

        try:
            with transaction.atomic():
                fencing.check()  # a holder that lost the parent's lease starts nothing
                parent = WorkflowRun.objects.get(pk=parent_run_id)
                depth = parent.depth + 1
                if depth > self.max_subworkflow_depth:
                    raise NodeError(
                        ErrorCategory.LOOP_LIMIT,
                        f"sub-workflows nested more than {self.max_subworkflow_depth} deep "
                        "(does a workflow call itself?)",
                        {"depth": depth, "max_depth": self.max_subworkflow_depth},
                        retryable=False,
                    )
                workflow = Workflow.objects.get(pk=workflow_id, workspace_id=parent.workspace_id)
                key = _child_key(workflow, parent_run_id, parent_node_id, iterations.path(iteration, outer))
                try:
                    child = start_run(
                        workflow=workflow,
                        input=input,
                        mode=parent.mode,
                        trigger_type="flow.subworkflow",
                        parent=(parent, parent_node_id, iteration, tuple(outer)) if wait else None,
                        enforce_daily_limit=True,
                        depth=depth,
                        idempotency_key=key,
                    )
                except RunRefused as exc:
                    category = (
                        ErrorCategory.RATE_LIMIT_ERROR
                        if exc.code == "RATE_LIMITED"
                        else ErrorCategory.VALIDATION_ERROR
                    )
                    raise NodeError(
                        category, f"the sub-workflow cannot start: {exc.message}", retryable=False
                    ) from None
            return str(child.pk)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    def create_callback(
        self, *, run_id, node_id, iteration, expires_in_s, context=None, outer=()
    ) -> dict[str, Any]:
        try:
            return create_callback(
                run_id=run_id,
                node_id=node_id,
                iteration=iteration,
                outer=outer,
                expires_in_s=expires_in_s,
                context=context or {"type": "flow.callback"},
            )
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    def run_connector(self, *, connector, input, run_id, node_id, secrets=()) -> Any:
        """Execute a connector of the run's workspace (by id or name) now, in this thread;
        its output, or a NodeError with the connector's error category. The execution
        record is masked with `secrets` (the run's credentials in play) too."""
        from connectors.selectors import find_connector
        from connectors.services import execute_connector
        from workflows.engine.errors import ErrorCategory, NodeError

        try:
            run = WorkflowRun.objects.get(pk=run_id)
            found = find_connector(workspace_id=run.workspace_id, ref=connector)
            if found is None:
                raise NodeError(
                    ErrorCategory.VALIDATION_ERROR,
                    f"No connector {connector!r} in this workspace",
                    {"connector": connector},
                    retryable=False,
                )
            execution = execute_connector(
                connector=found, input=input, run=run, node_id=node_id, secrets=list(secrets)
            )
            if execution.status != "completed":
                error = execution.error or {}
                raise NodeError(
                    error.get("category") or ErrorCategory.INTEGRATION_ERROR,
                    f"connector {found.name!r} failed: {error.get('message', 'unknown error')}",
                    {**(error.get("details") or {}), "execution_id": str(execution.pk)},
                    retryable=False,
                )
            return execution.output
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()


CHILD_KEY = "subworkflow:{parent}:{node}:{iteration}#"


def _child_key(workflow, parent_run_id, node_id: str, path: list[int] | None) -> str:
    """The idempotency key of a node instance's child run (`path`: the instance's iteration
    path): the same while its latest child is unfinished, succeeded, or finished without
    its result taken by the node yet (a re-run of the node after a takeover gets that
    child, and its result, even a failure); the next one once the node took a failed or
    cancelled child's result (its retry starts a new child)."""
    prefix = CHILD_KEY.format(
        parent=parent_run_id, node=node_id, iteration=".".join(str(i) for i in path or ())
    )
    keys = WorkflowRun.objects.filter(
        workflow=workflow, idempotency_key__startswith=prefix, trigger_type="flow.subworkflow"
    ).values_list("idempotency_key", "status", "parent_resumed_at")
    tries = {
        int(k.rsplit("#", 1)[1]): (status, taken)
        for k, status, taken in keys
        if k.rsplit("#", 1)[1].isdigit()
    }
    latest = max(tries, default=0)
    if latest:
        status, taken = tries[latest]
        if status not in (RunStatus.FAILED, RunStatus.CANCELLED) or taken is None:
            return f"{prefix}{latest}"
    return f"{prefix}{latest + 1}"


def resolve_run_secrets(run) -> dict[str, Any]:
    """The workspace credentials the run's document references, decrypted, each use audited."""
    from connectors.services import resolve_credentials_for_run

    return resolve_credentials_for_run(run=run)


@cache
def scheduler():
    from workflows.engine.scheduler import Scheduler

    return Scheduler(
        OrmStore(resolve_secrets=resolve_run_secrets),
        registry,
        DjangoServices(),
        max_workers=settings.ENGINE_MAX_THREADS,
    )
