"""The engine's `Store`, implemented with the ORM.

One worker owns a run at a time (see `runs.leases`), so this store caches the mapping from
node instance to row id and writes straight through. Every persisted payload is masked and
size-capped (`runs.payloads`); each change is published to live listeners after commit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from workflows.engine.outbound import secret_values
from workflows.engine.store import LogEntry, NodeState, RunSnapshot

from . import events
from .models import CorrelationToken, ExecutionLog, NodeExecution, RunStatus, WorkflowRun
from .payloads import for_storage

TERMINAL = set(RunStatus.terminal())


def _waiting_on(states, kind: str) -> dict[str, NodeState]:
    """Waiting (or interrupted) node instances of one wait kind, by their correlation key."""
    key = {"callback": "token", "child": "child_run_id"}[kind]
    found = {}
    for state in states:
        wait = state.wait or {}
        data = wait.get("data") or {}
        if state.status in ("waiting", "running") and wait.get("kind") == kind and data.get(key) \
                and "resume" not in wait:
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
                run_id=run_id, token__in=list(callbacks), used_at__isnull=False).values_list("token", "payload"):
            callbacks[token].wait = {**callbacks[token].wait, "resume": payload}
            merged += 1
    children = _waiting_on(states, "child")
    if children:
        for child in WorkflowRun.objects.filter(pk__in=list(children), status__in=RunStatus.terminal()):
            state = children[str(child.pk)]
            state.wait = {**state.wait, "resume": {"run_id": str(child.pk), "status": child.status,
                                                   "output": child.output, "error": child.error}}
            merged += 1
    return merged


def pending_deliveries(run_id: str) -> int:
    """How many waiting nodes of the run have a delivery ready to resume them."""
    rows = NodeExecution.objects.filter(run_id=run_id, status="waiting")
    return merge_deliveries(run_id, [node_state_of(r) for r in rows])


def node_state_of(row: NodeExecution) -> NodeState:
    return NodeState(
        node_id=row.node_id,
        iteration=row.iteration,
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


class OrmStore:
    def __init__(self, *, resolve_secrets=None):
        # resolve_secrets(run) -> {credential name: value}; audited by the caller.
        self._resolve_secrets = resolve_secrets
        self._rows: dict[str, dict[tuple[str, int | None], int]] = {}
        self._secrets: dict[str, list[str]] = {}
        self._types: dict[str, dict[str, str]] = {}
        self._order: dict[str, dict[str, int]] = {}
        self._workflow: dict[str, str] = {}

    # -- loading ------------------------------------------------------------------------
    def load_run(self, run_id: str) -> RunSnapshot:
        run = WorkflowRun.objects.select_related("version").get(pk=run_id)
        document = run.version.document
        secrets = self._resolve_secrets(run) if self._resolve_secrets else {}
        self._secrets[run_id] = secret_values(secrets)
        self._types[run_id] = {n["id"]: n["type"] for n in document["nodes"]}
        self._order[run_id] = {n["id"]: i for i, n in enumerate(document["nodes"])}
        self._workflow[run_id] = str(run.workflow_id)
        rows = list(NodeExecution.objects.filter(run_id=run_id))
        self._rows[run_id] = {(r.node_id, r.iteration): r.pk for r in rows}
        states = {(r.node_id, r.iteration): node_state_of(r) for r in rows}
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
        rows = self._rows.setdefault(run_id, {})
        types = self._types.get(run_id, {})
        order = self._order.get(run_id, {})
        with transaction.atomic():
            new = []
            for state in states:
                fields = self._fields(run_id, state)
                pk = rows.get(state.key)
                if pk is None:
                    new.append(NodeExecution(run_id=run_id, node_id=state.node_id, iteration=state.iteration,
                                             node_type=types.get(state.node_id, ""),
                                             order=order.get(state.node_id, 0), **fields))
                else:
                    NodeExecution.objects.filter(pk=pk).update(**fields)
            if new:
                for row in NodeExecution.objects.bulk_create(new):
                    if row.pk is None:  # backends that do not return ids
                        row = NodeExecution.objects.get(run_id=run_id, node_id=row.node_id, iteration=row.iteration)
                    rows[(row.node_id, row.iteration)] = row.pk
            events.record(run_id, self._workflow[run_id], [events.node_event(run_id, s) for s in states])

    def save_run(self, run_id: str, *, status: str, output: Any = None, error: dict | None = None,
                 resume_at: datetime | None = None) -> None:
        secrets = self._secrets.get(run_id, [])
        now = timezone.now()
        fields: dict[str, Any] = {"status": status, "resume_at": resume_at}
        with transaction.atomic():
            run = WorkflowRun.objects.select_for_update().get(pk=run_id)
            if run.status in TERMINAL:
                return  # a finished run never changes again (e.g. cancelled while a node ran)
            if status == RunStatus.RUNNING and run.started_at is None:
                fields["started_at"] = now
            if status in TERMINAL:
                counts = NodeExecution.objects.filter(run_id=run_id).aggregate(
                    ok=Count("id", filter=Q(status="succeeded")), bad=Count("id", filter=Q(status="failed"))
                )
                fields.update(
                    output=for_storage(output, secrets),
                    error=for_storage(error, secrets),
                    completed_at=now,
                    started_at=run.started_at or now,
                    successful_nodes=counts["ok"],
                    failed_nodes=counts["bad"],
                    lease_owner="",
                    lease_expires_at=None,
                )
            elif status == RunStatus.WAITING:
                fields.update(lease_owner="", lease_expires_at=None)
            WorkflowRun.objects.filter(pk=run_id).update(**fields)
            events.record(run_id, str(run.workflow_id), [{"type": "run.status", "run_id": run_id, "status": status}])
            if status in TERMINAL and run.parent_run_id:
                from .services import child_finished

                child_finished(child=run, status=status, output=output, error=error)

    def append_logs(self, run_id: str, entries: list[LogEntry]) -> None:
        if not entries:
            return
        secrets = self._secrets.get(run_id, [])
        now = timezone.now()
        ExecutionLog.objects.bulk_create(
            ExecutionLog(
                run_id=run_id,
                timestamp=e.timestamp or now,
                level=e.level,
                node_id=e.node_id or "",
                iteration=e.iteration,
                message=for_storage(str(e.message), secrets, limit=1 << 30)[:10_000],
                data=for_storage(e.data, secrets, limit=20_000),
            )
            for e in entries
        )

    def cancel_requested(self, run_id: str) -> bool:
        return WorkflowRun.objects.filter(pk=run_id, cancel_requested=True).exists()
