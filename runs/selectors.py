"""Reads for runs, scoped to the caller's workspaces, and the run detail shape of SPEC §6."""

from __future__ import annotations

from django.db.models import Q

from config.api_params import datetime_value

from .callbacks import callback_url, receipts_of
from .models import ExecutionLog, NodeExecution, RunStatus, WorkflowRun


def runs_for(*, user):
    return WorkflowRun.objects.for_user(user)


def filter_runs(qs, *, status=None, since=None, until=None, mode=None):
    if status:
        qs = qs.filter(status__in=[s for s in status.split(",") if s])
    if mode:
        qs = qs.filter(mode=mode)
    if since:
        qs = qs.filter(created_at__gte=datetime_value(since, "since"))
    if until:
        qs = qs.filter(created_at__lte=datetime_value(until, "until"))
    return qs.order_by("-created_at")


def _iso(value):
    return value.isoformat() if value else None


def node_entry(row: NodeExecution | None, node_id: str, *, finished: bool, request=None) -> dict:
    if row is None:
        return {
            "node_id": node_id,
            "status": "skipped" if finished else "pending",
            "attempts": 0,
            "iteration": None,
            "iteration_path": None,
            "input": None,
            "output": None,
            "error": None,
            "started_at": None,
            "completed_at": None,
            "duration_ms": None,
        }
    entry = {
        "node_id": row.node_id,
        "type": row.node_type,
        "status": row.status,
        "attempts": row.attempts,
        "iteration": row.iteration,
        "iteration_path": row.iteration_path,
        "input": row.input,
        "output": row.output,
        "error": row.error,
        "started_at": _iso(row.started_at),
        "completed_at": _iso(row.completed_at),
        "duration_ms": row.duration_ms,
        "handles": row.handles,
    }
    if (row.wait or {}).get("kind") == "loop":
        entry["items"] = len(row.wait.get("items") or [])  # a loop's iteration count
    if row.status == "waiting" and row.wait:
        entry["wait_kind"] = row.wait.get("kind")
    data = (row.wait or {}).get("data") or {}
    if row.status == "waiting":
        if data.get("token") and (data.get("url") or data.get("callback_url")):
            # Rebuilt for the caller: the address it reached us on (unless PUBLIC_BASE_URL).
            entry["callback_url"] = callback_url(data["token"], request) if request else data.get("url")
            entry["expires_at"] = data.get("expires_at")
        elif data.get("url"):
            entry["callback_url"] = data["url"]
            entry["expires_at"] = data.get("expires_at")
        entry["resume_at"] = _iso(row.resume_at)
    return entry


def run_summary(run: WorkflowRun) -> dict:
    return {
        "id": str(run.id),
        "workflow": str(run.workflow_id),
        "workspace": str(run.workspace_id),
        "status": run.status,
        "mode": run.mode,
        "trigger_type": run.trigger_type,
        "trigger_node": run.trigger_node or None,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "completed_at": _iso(run.completed_at),
        "duration_ms": run.duration_ms,
        "total_nodes": run.total_nodes,
        "successful_nodes": run.successful_nodes,
        "failed_nodes": run.failed_nodes,
        "retry_of": str(run.retry_of_id) if run.retry_of_id else None,
        "parent_run": str(run.parent_run_id) if run.parent_run_id else None,
        "start_node": run.start_node or None,
    }


def run_detail(run: WorkflowRun, request=None) -> dict:
    """The run with `nodes`: every node of the workflow once (loop-body nodes once per
    iteration), in document order; nodes that never ran are `skipped` once it finished. A
    node in a nested loop's body has one entry per (outer, inner) iteration, ordered by
    `iteration_path`."""
    document = run.version.document
    rows: dict[str, list[NodeExecution]] = {}
    for row in run.node_executions.all().order_by("order", "iteration"):
        rows.setdefault(row.node_id, []).append(row)
    for found in rows.values():
        if any(r.outer_iterations for r in found):
            found.sort(key=lambda r: r.iteration_path or [])
    finished = run.status in RunStatus.terminal()
    nodes = []
    for node in document["nodes"]:
        found = rows.get(node["id"])
        if not found:
            entry = node_entry(None, node["id"], finished=finished)
            entry["type"] = node["type"]
            nodes.append(entry)
        else:
            nodes.extend(node_entry(r, node["id"], finished=finished, request=request) for r in found)
    if not finished:
        # Live counts: the stored totals are written when the run ends.
        flat = [r for group in rows.values() for r in group]
        run.successful_nodes = sum(r.status == "succeeded" for r in flat)
        run.failed_nodes = sum(r.status == "failed" for r in flat)
    links = WorkflowRun.objects.filter(Q(parent_run=run) | Q(retry_of=run)).order_by("created_at")
    children, retries = [], []
    for link in links.only(
        "pk", "parent_run_id", "parent_node_id", "parent_iteration", "parent_outer_iterations"
    ):
        if link.parent_run_id == run.pk:
            children.append(
                {
                    "id": str(link.pk),
                    "node_id": link.parent_node_id or None,
                    "iteration_path": link.parent_iteration_path,
                }
            )
        else:
            retries.append(str(link.pk))
    return {
        **run_summary(run),
        "version": run.version.number,
        "nodes": nodes,
        "children": children,
        "retries": retries,
        "callbacks": receipts_of(run, request),
    }


def run_logs(run: WorkflowRun, *, level=None, node=None) -> list[dict]:
    qs = ExecutionLog.objects.filter(run=run).order_by("id")
    if level:
        order = ["debug", "info", "warning", "error"]
        if level in order:
            qs = qs.filter(level__in=order[order.index(level) :])
    if node:
        qs = qs.filter(node_id=node)
    return [
        {
            "timestamp": _iso(e.timestamp),
            "level": e.level,
            "node_id": e.node_id or None,
            "iteration": e.iteration,
            "iteration_path": e.iteration_path,
            "message": e.message,
            "data": e.data,
        }
        for e in qs
    ]


def role_in_run_workspace(*, user, run: WorkflowRun) -> str | None:
    from workflows.selectors import role_in

    return role_in(user=user, workspace_id=run.workspace_id)
