"""Pages for watching runs: the executions list (`/runs`) and a run's page (`/runs/<id>`).

Both are shells for the built bundle (`static/bundle/executions.js`, `run.js`, from
`frontend/`), which reads the REST API and the run websockets; the boot data rides in a
`json_script` tag."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from workflows.engine.registry import registry
from workflows.models import WRITE_ROLES, Membership
from workflows.selectors import workflows_for
from workflows.trigger_secrets import mask_document

from . import selectors
from .models import WorkflowRun


@ensure_csrf_cookie
@login_required
def executions_page(request):
    workflows = workflows_for(user=request.user).order_by("name")
    writable = Membership.objects.filter(user=request.user, role__in=WRITE_ROLES).exists()
    trigger_types = sorted(
        set(
            WorkflowRun.objects.filter(workflow__in=workflows)
            .order_by()
            .values_list("trigger_type", flat=True)
            .distinct()[:50]
        )
        | {node_type.type for node_type in registry.all() if node_type.is_trigger}
    )
    boot = {
        "workflows": [{"id": str(w.pk), "name": w.name} for w in workflows],
        "trigger_types": trigger_types,
        "can_write": writable,
    }
    return render(request, "runs/executions.html", {"boot": boot})


@ensure_csrf_cookie
@login_required
def run_page(request, pk):
    run = get_object_or_404(
        selectors.runs_for(user=request.user).select_related("version", "workflow"), pk=pk
    )
    can_write = selectors.role_in_run_workspace(user=request.user, run=run) in WRITE_ROLES
    boot = {
        "run_id": str(run.pk),
        "workflow": {"id": str(run.workflow_id), "name": run.workflow.name},
        "document": mask_document(run.version.document),
        "can_write": can_write,
    }
    return render(request, "runs/run.html", {"boot": boot, "run": run})
