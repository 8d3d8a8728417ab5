"""The visual builder's pages: `/workflows/new` and `/workflows/<id>/edit`.

The page is a shell: the built bundle (`static/bundle/builder.js`, from `frontend/`) draws the
builder and talks to the REST API. The boot data (which workflow, may the user write, the
demo templates for "New from template") rides in a `json_script` tag."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from . import selectors, services
from .models import WRITE_ROLES

DEMO_DIR = Path(__file__).resolve().parent / "demo"


@lru_cache(maxsize=1)
def demo_templates() -> tuple[dict, ...]:
    """The demo workflows, offered as starting points for a new workflow."""
    out = []
    for path in sorted(DEMO_DIR.glob("*.json")):
        document = json.loads(path.read_text())
        out.append(
            {
                "key": path.stem,
                "name": document.get("name") or path.stem,
                "description": document.get("description") or "",
                "document": document,
            }
        )
    return tuple(out)


def _render(request, *, workflow=None, can_write: bool):
    boot = {
        "workflow_id": str(workflow.pk) if workflow else None,
        "can_write": can_write,
        "templates": list(demo_templates()) if workflow is None else [],
    }
    title = workflow.name if workflow else "New workflow"
    return render(request, "workflows/builder.html", {"boot": boot, "title": title, "workflow": workflow})


@ensure_csrf_cookie
@login_required
def new_workflow(request):
    workspace = services.ensure_personal_workspace(user=request.user)
    can_write = selectors.role_in(user=request.user, workspace_id=workspace.id) in WRITE_ROLES
    return _render(request, can_write=can_write)


@ensure_csrf_cookie
@login_required
def edit_workflow(request, pk):
    workflow = get_object_or_404(selectors.workflows_for(user=request.user), pk=pk)
    can_write = selectors.role_in(user=request.user, workspace_id=workflow.workspace_id) in WRITE_ROLES
    return _render(request, workflow=workflow, can_write=can_write)
