"""The Providers page: a shell the bundle (`static/bundle/providers.js`) draws; boot data
(may the user write, the provider catalog, workflows to add a node to) rides in a
`json_script` tag. Everything else goes through the REST API."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from workflows.models import WRITE_ROLES, Workflow
from workflows.services import ensure_personal_workspace

from .selectors import providers_catalog


@ensure_csrf_cookie
@login_required
def providers_page(request):
    ensure_personal_workspace(user=request.user)
    writable = Workflow.objects.writable_by(request.user).order_by("name")[:200]
    can_write = request.user.memberships.filter(role__in=list(WRITE_ROLES)).exists()
    boot = {
        "can_write": can_write,
        "catalog": providers_catalog(),
        "workflows": [{"id": str(w.pk), "name": w.name} for w in writable],
    }
    return render(request, "providers/page.html", {"boot": boot})
