"""Server-rendered pages: the home dashboard and a workflow's page."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from . import selectors, services
from .engine.registry import registry
from .models import WRITE_ROLES, WorkflowStatus
from .selectors import daily_usage
from .trigger_secrets import mask_document
from .triggers.endpoints import active_triggers

RECENT_RUNS = 25
USAGE_WARNING = 0.8  # share of max_runs_per_day from which the usage meter warns


@login_required
def home(request):
    services.ensure_personal_workspace(user=request.user)
    workflows = (
        selectors.workflows_for(user=request.user)
        .annotate(
            run_count=Count("runs"),
            failed_count=Count("runs", filter=Q(runs__status="failed")),
            last_run_at=Max("runs__created_at"),
        )
        .order_by("workspace__name", "name")
    )
    memberships = request.user.memberships.select_related("workspace").order_by("workspace__name")
    return render(request, "workflows/home.html", {"workflows": workflows, "memberships": memberships})


def indicator(workflow, last_live_run) -> dict:
    """The status dot: green active, gray inactive, red error (the workflow's own error
    status, or an active workflow whose latest live run failed)."""
    if workflow.status == WorkflowStatus.ERROR:
        return {"tone": "error", "label": "Error"}
    if workflow.status == WorkflowStatus.ACTIVE:
        if last_live_run is not None and last_live_run.status == "failed":
            return {"tone": "error", "label": "Active · last run failed"}
        return {"tone": "active", "label": "Active"}
    return {"tone": "inactive", "label": "Inactive"}


def usage_view(workflow) -> dict:
    usage = daily_usage(workflow)
    limit = usage["max_runs_per_day"]
    share = usage["runs_today"] / limit if limit else 0
    return {
        **usage,
        "percent": min(100, round(share * 100)),
        "warning": bool(limit) and share >= USAGE_WARNING,
        "full": bool(limit) and usage["runs_today"] >= limit,
    }


@ensure_csrf_cookie
@login_required
def workflow_detail(request, pk):
    workflow = get_object_or_404(selectors.workflows_for(user=request.user), pk=pk)
    runs = workflow.runs.order_by("-created_at")
    live_runs = list(runs.filter(mode="live")[:RECENT_RUNS])
    test_runs = list(runs.filter(mode="test")[:RECENT_RUNS])
    triggers = [
        {**t, "label": spec.label or t["type"], "endpoint": spec.endpoint}
        for t in active_triggers(workflow, request)
        if (spec := registry.trigger_spec(t["type"])) is not None
    ]
    return render(
        request,
        "workflows/detail.html",
        {
            "workflow": workflow,
            "document": mask_document(selectors.document_of(workflow)),
            "live_runs": live_runs,
            "test_runs": test_runs,
            "has_runs": bool(live_runs or test_runs),
            "indicator": indicator(workflow, live_runs[0] if live_runs else None),
            "usage": usage_view(workflow),
            "triggers": triggers,
            "can_write": selectors.role_in(user=request.user, workspace_id=workflow.workspace_id)
            in WRITE_ROLES,
        },
    )
