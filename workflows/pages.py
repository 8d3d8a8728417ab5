"""Server-rendered pages: the home dashboard and a workflow's page."""
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404, render

from . import selectors, services


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


@login_required
def workflow_detail(request, pk):
    workflow = get_object_or_404(selectors.workflows_for(user=request.user), pk=pk)
    runs = workflow.runs.order_by("-created_at")[:50]
    return render(
        request,
        "workflows/detail.html",
        {"workflow": workflow, "document": selectors.document_of(workflow), "runs": runs},
    )
