"""Reads for the executions page: every run of the caller's workspaces, filtered and
searched on the server, each row with its failure reason; and per-node statistics of a
workflow for the canvas badges. Aggregates and indexed range scans only (see
bench/live_events.py for the figures with 100,000 runs stored)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, FloatField, Func, Q, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.api_params import datetime_value, invalid, uuid_value

from .models import NodeDayStat, NodeExecution, NodeStatus, RunMode, RunStatus, WorkflowRun

FILTERS = ("workflow", "status", "mode", "trigger_type", "since", "until", "q")
MAX_QUERY = 200
MAX_ID_MATCHES = 1000
SEARCH_WINDOW = 10_000
TRIGRAM = 3  # the shortest text a trigram index can find


def _invalid(field: str, message: str):
    return invalid(field, message)


def parse_when(value: str | None, field: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO datetime or date (a date means its midnight UTC, or its last instant for
    `until`); anything else is a 400 naming the field."""
    if not value:
        return None
    when = datetime_value(value, field)
    if end_of_day and parse_datetime(value.strip()) is None:
        when = datetime.combine(when.date(), time.max, tzinfo=when.tzinfo)
    return when


def workspace_ids(user) -> list:
    from workflows.selectors import workspaces_for

    return list(workspaces_for(user=user).values_list("pk", flat=True))


def executions(*, user, params) -> object:
    """The caller's runs, newest first, narrowed by the executions filters (`params`: a
    mapping of query parameters). Unknown values are refused with the field named."""
    qs = WorkflowRun.objects.filter(workspace_id__in=workspace_ids(user))
    if wf := params.get("workflow"):
        qs = qs.filter(workflow_id=uuid_value(wf.strip(), "workflow"))
    if status := params.get("status"):
        wanted = [s for s in status.split(",") if s]
        bad = [s for s in wanted if s not in RunStatus.values]
        if bad:
            raise _invalid("status", f"Unknown status {bad[0]!r}; one of {', '.join(RunStatus.values)}.")
        qs = qs.filter(status__in=wanted)
    if mode := params.get("mode"):
        if mode not in RunMode.values:
            raise _invalid("mode", "`mode` must be 'test' or 'live'.")
        qs = qs.filter(mode=mode)
    if trigger_type := params.get("trigger_type"):
        qs = qs.filter(trigger_type=trigger_type)
    if since := parse_when(params.get("since"), "since"):
        qs = qs.filter(created_at__gte=since)
    if until := parse_when(params.get("until"), "until", end_of_day=True):
        qs = qs.filter(created_at__lte=until)
    if q := (params.get("q") or "").strip():
        qs = _search(qs, q)
    return qs.order_by("-created_at")  # the order of the workspace/workflow indexes


def search_window(q: str | None) -> int | None:
    """How many of the newest runs (after the other filters) a search by input text looks
    through: all of them on PostgreSQL for 3 characters or more (a trigram index on the
    input's text, migration 0013); else the newest SEARCH_WINDOW, so the search stays
    bounded (SQLite has no index for text inside a value)."""
    q = (q or "").strip()
    if not q or _id_only(q) or (connection.vendor == "postgresql" and len(q) >= TRIGRAM):
        return None
    return SEARCH_WINDOW


def _hex(q: str) -> str | None:
    compact = q.replace("-", "").lower()
    return compact if 4 <= len(compact) <= 32 and all(c in "0123456789abcdef" for c in compact) else None


def _id_only(q: str) -> bool:
    """A whole run id, or a prefix of 8 or more hex digits: searched as an id only."""
    try:
        uuid.UUID(q)
        return True
    except ValueError:
        return len(_hex(q) or "") >= 8


def _search(qs, q: str):
    """By run id (whole, or a prefix of at least 4 hex digits: an index range on the primary
    key) or by text in the input (see `search_window`). A prefix of 8 or more hex digits is
    taken as an id only."""
    if len(q) > MAX_QUERY:
        raise _invalid("q", f"`q` is at most {MAX_QUERY} characters.")
    try:
        return qs.filter(pk=uuid.UUID(q))
    except ValueError:
        pass
    compact = _hex(q)
    by_text = Q(input_text__icontains=q)
    if window := search_window(q):
        # From the creation time of the window's oldest run on: an index range the text
        # filter then reads, not every run.
        edge = list(qs.order_by("-created_at").values_list("created_at", flat=True)[window - 1 : window])
        if edge:
            by_text &= Q(created_at__gte=edge[0])
    if compact:
        low, high = uuid.UUID(compact.ljust(32, "0")), uuid.UUID(compact.ljust(32, "f"))
        # The range alone, on the primary key (with the other filters a planner without
        # statistics may walk a workspace index instead); the filters then apply to those few.
        found = WorkflowRun.objects.filter(pk__gte=low, pk__lte=high).values_list("pk", flat=True)
        by_id = Q(pk__in=list(found[:MAX_ID_MATCHES]))
        if _id_only(q):
            return qs.filter(by_id)
        return qs.annotate(input_text=Cast("input", output_field=TextField())).filter(by_id | by_text)
    return qs.annotate(input_text=Cast("input", output_field=TextField())).filter(by_text)


def failure_reasons(runs: list[WorkflowRun]) -> dict[str, dict]:
    """{run id: {node_id, category, message}} for failed and partial runs of a page: the
    run's own error names the failing node; a partial run's first failed node is read."""
    reasons: dict[str, dict] = {}
    partial = []
    for run in runs:
        error = run.error or {}
        if run.status in (RunStatus.FAILED, RunStatus.CANCELLED) and error:
            reasons[str(run.pk)] = {
                "node_id": error.get("node"),
                "category": error.get("category"),
                "message": error.get("message"),
            }
        if run.status == RunStatus.PARTIAL or (run.status == RunStatus.FAILED and not error.get("node")):
            partial.append(run.pk)
    if partial:
        rows = (
            NodeExecution.objects.filter(run_id__in=partial, status=NodeStatus.FAILED)
            .order_by("run_id", "completed_at", "order")
            .values_list("run_id", "node_id", "error")
        )
        for run_id, node_id, error in rows:
            key = str(run_id)
            if key in reasons and reasons[key].get("node_id"):
                continue
            error = error or {}
            reasons[key] = {
                "node_id": node_id,
                "category": error.get("category"),
                "message": error.get("message"),
            }
    return reasons


def execution_rows(runs: list[WorkflowRun]) -> list[dict]:
    from .selectors import run_summary

    reasons = failure_reasons(runs)
    names = {}
    out = []
    for run in runs:
        row = run_summary(run)
        row["workflow_name"] = names.setdefault(run.workflow_id, run.workflow.name)
        row["failure"] = reasons.get(str(run.pk))
        row["start_node"] = run.start_node or None
        out.append(row)
    return out


class DurationMs(Func):
    """completed_at - started_at in milliseconds, computed by the database itself (Django's
    portable datetime difference calls a Python function per row on SQLite)."""

    output_field = FloatField()

    def __init__(self):
        super().__init__(F("completed_at"), F("started_at"))

    def as_sql(self, compiler, connection, **extra):
        completed, c_params = compiler.compile(self.source_expressions[0])
        started, s_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "sqlite":
            sql = f"((julianday({completed}) - julianday({started})) * 86400000.0)"
        elif connection.vendor == "postgresql":
            sql = f"(EXTRACT(EPOCH FROM ({completed} - {started})) * 1000.0)"
        else:
            sql = f"(TIMESTAMPDIFF(MICROSECOND, {started}, {completed}) / 1000.0)"
        return sql, [*c_params, *s_params]


class OuterIterations(Func):
    """A node execution's enclosing loop indices (`outer_iterations`, "2.10") as a key that
    orders numerically, component by component ("2.10" after "2.9", "10" after "9"): an
    int array on PostgreSQL, zero-padded components on SQLite. Other databases order the
    stored text."""

    def __init__(self, field="outer_iterations"):
        super().__init__(F(field))

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            sql = f"string_to_array({column}, '.')::integer[]"
        elif connection.vendor == "sqlite":
            sql = (
                "COALESCE((SELECT group_concat(printf('%%010d', value), '.') "
                f"FROM json_each('[' || replace({column}, '.', ',') || ']')), '')"
            )
        else:
            sql = column
        return sql, params


def start_of_today() -> datetime:
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def node_stats(*, workflow, since: datetime | None = None) -> dict:
    """Per node of the workflow: executions since `since` (default: midnight UTC) in runs
    created since then, skipped ones excepted; how many succeeded and failed; the success
    ratio of the finished ones and their mean duration. Finished runs are read from the
    per-day totals (`NodeDayStat`, a few rows a day); only the unfinished runs, and the
    finished ones of a day `since` starts within, are read row by row. One statement, so
    a run finishing meanwhile is counted once."""
    since = since or start_of_today()
    since_utc = since.astimezone(UTC)
    midnight = datetime.combine(since_utc.date(), time.min, tzinfo=UTC)
    boundary = midnight if since_utc == midnight else midnight + timedelta(days=1)
    stored = (
        NodeDayStat.objects.filter(workflow_id=workflow.pk, day__gte=boundary.date())
        .values("node_id")
        .annotate(
            n_runs=Sum("runs"),
            n_succeeded=Sum("succeeded"),
            n_failed=Sum("failed"),
            n_duration=Sum("duration_ms"),
            n_durations=Sum("durations"),
        )
    )
    unfinished = [s for s in RunStatus.values if s not in RunStatus.terminal()]
    runs = WorkflowRun.objects.filter(workflow_id=workflow.pk, created_at__gte=since)
    # Each part on its own index range (an OR of the two would read every run since `since`).
    parts = [runs.filter(status__in=unfinished)]
    if boundary > since_utc:
        parts.append(runs.filter(created_at__lt=boundary, status__in=RunStatus.terminal()))
    timed = Q(status__in=[NodeStatus.SUCCEEDED, NodeStatus.FAILED]) & Q(
        started_at__isnull=False, completed_at__isnull=False
    )
    live = [
        NodeExecution.objects.filter(run__in=part.values("pk"))
        .exclude(status=NodeStatus.SKIPPED)
        .values("node_id")
        .annotate(
            n_runs=Count("pk"),
            n_succeeded=Count("pk", filter=Q(status=NodeStatus.SUCCEEDED)),
            n_failed=Count("pk", filter=Q(status=NodeStatus.FAILED)),
            n_duration=Sum(DurationMs(), filter=timed),
            n_durations=Count("pk", filter=timed),
        )
        .order_by()
        for part in parts
    ]
    totals: dict[str, list[float]] = {}
    for node_id, *values in (
        stored.order_by()
        .union(*live, all=True)
        .values_list("node_id", "n_runs", "n_succeeded", "n_failed", "n_duration", "n_durations")
    ):
        into = totals.setdefault(node_id, [0, 0, 0, 0.0, 0])
        for i, value in enumerate(values):
            into[i] += value or 0
    nodes = {}
    for node_id, (runs, succeeded, failed, duration, durations) in sorted(totals.items()):
        if runs <= 0:
            continue
        done = succeeded + failed
        nodes[node_id] = {
            "runs": int(runs),
            "succeeded": int(succeeded),
            "failed": int(failed),
            "success_ratio": round(int(succeeded) / int(done), 4) if done else None,
            "avg_duration_ms": round(float(duration) / int(durations), 1) if durations else None,
        }
    return {"workflow": str(workflow.pk), "since": since.isoformat(), "nodes": nodes}
