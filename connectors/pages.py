"""Server-rendered pages for connectors and credentials (the API lives under /api/v1/).

Members of a workspace see its connectors and credentials; owners and editors change them
(viewers get the same pages read-only, and a 403 if they post). Anything outside the
user's workspaces is a 404. Credential values are write-only here too: no page ever
renders one, not even back into an input after a failed form.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from config import json_input
from workflows.models import WRITE_ROLES, Workspace
from workflows.selectors import role_in
from workflows.services import ensure_personal_workspace

from . import editor, selectors, services
from .config import config_problems, is_multi_step
from .models import CredentialKind, ExecutionStatus

RECENT_EXECUTIONS = 20
RECENT_ACCESSES = 3
# The fields each credential kind asks for (a `custom` credential names its own).
KIND_FIELDS = {
    CredentialKind.BEARER: ("token",),
    CredentialKind.API_KEY: ("key",),
    CredentialKind.BASIC: ("username", "password"),
    CredentialKind.CUSTOM: (),
}
CUSTOM_ROWS = 3


def _writable_workspaces(user):
    return Workspace.objects.filter(memberships__user=user, memberships__role__in=list(WRITE_ROLES)).order_by(
        "name"
    )


def _can_write(user, workspace_id) -> bool:
    return role_in(user=user, workspace_id=workspace_id) in WRITE_ROLES


def _require_write(user, workspace_id) -> None:
    if not _can_write(user, workspace_id):
        raise PermissionDenied("Your role in this workspace is read-only.")


# ----------------------------------------------------------------------------- connectors


@login_required
def connector_list(request):
    ensure_personal_workspace(user=request.user)
    connectors = list(
        selectors.connectors_for(user=request.user)
        .select_related("workspace")
        .order_by("workspace__name", "name")
    )
    for c in connectors:
        c.success_rate = (
            round(100 * c.successful_executions / c.total_executions) if c.total_executions else None
        )
    totals = {
        "connectors": len(connectors),
        "executions": sum(c.total_executions for c in connectors),
        "failed": sum(c.failed_executions for c in connectors),
    }
    return render(
        request,
        "connectors/list.html",
        {
            "connectors": connectors,
            "totals": totals,
            "can_create": _writable_workspaces(request.user).exists(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def connector_new(request):
    ensure_personal_workspace(user=request.user)
    workspaces = list(_writable_workspaces(request.user))
    if not workspaces:
        raise PermissionDenied("Your role in every workspace is read-only.")
    if request.method == "POST":
        form = editor.form_from_post(request.POST)
        workspace = next((w for w in workspaces if str(w.pk) == form.workspace), None)
        if workspace is None:
            form.errors.setdefault("workspace", []).append("Choose one of your workspaces.")
        connector = _save(request, form, connector=None, workspace=workspace)
        if connector is not None:
            return _after_save(request, form, connector)
    else:
        form = editor.ConnectorForm(workspace=str(workspaces[0].pk), steps=[editor.StepForm(key="k0")])
    return _render_editor(
        request, form, connector=None, workspaces=workspaces, status=400 if form.has_errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def connector_detail(request, pk):
    connector = get_object_or_404(
        selectors.connectors_for(user=request.user).select_related("workspace"), pk=pk
    )
    if request.method == "POST":
        _require_write(request.user, connector.workspace_id)
        form = editor.form_from_post(request.POST)
        form.workspace = str(connector.workspace_id)  # moving between workspaces is not supported
        saved = _save(request, form, connector=connector, workspace=connector.workspace)
        if saved is not None:
            return _after_save(request, form, saved)
        return _render_editor(
            request, form, connector=connector, workspaces=[connector.workspace], status=400
        )
    form = editor.form_from_connector(connector)
    shown = None
    if wanted := request.GET.get("execution"):
        shown = connector.executions.filter(pk=_uuid_or_404(wanted)).first()
        if shown is None:
            raise Http404("No such execution of this connector.")
        if shown.input not in (None, {}):
            form.sample_input = json.dumps(shown.input, indent=2)
    return _render_editor(request, form, connector=connector, workspaces=[connector.workspace], shown=shown)


def _uuid_or_404(value: str):
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        raise Http404("No such execution.") from None


def _save(request, form: editor.ConnectorForm, *, connector, workspace):
    """Validate and save the editor; None (with errors on the form) when it cannot be saved."""
    config, timeout_ms = editor.config_from_form(form)
    if request.POST.get("action") == "test":
        try:
            json_input.loads(form.sample_input or "null")
        except ValueError as exc:
            reason = getattr(exc, "msg", str(exc))
            form.errors.setdefault("sample_input", []).append(f"The test input must be JSON ({reason}).")
    multi = is_multi_step(config)
    if form.has_errors or workspace is None:
        # Still show every config problem at once, not only the ones parsing found.
        editor.attach_problems(form, config_problems(config), multi_step=multi)
        return None
    fields = {
        "name": form.name,
        "description": form.description,
        "config": config,
        "timeout_ms": timeout_ms if timeout_ms is not None else 30_000,
    }
    try:
        if connector is None:
            saved = services.create_connector(workspace=workspace, **fields)
        else:
            saved = services.update_connector(connector=connector, **fields)
    except services.ConnectorRefused as refused:
        problems = dict(refused.details)
        for path, more in config_problems(config).items():  # the service stops at the first non-config field
            problems.setdefault(path, more)
        editor.attach_problems(form, problems, multi_step=multi)
        return None
    return saved


def _after_save(request, form, connector):
    url = reverse("connector-detail", args=[connector.pk])
    if request.POST.get("action") == "test":
        sample = json.loads(form.sample_input or "null")  # checked by _save
        execution = services.execute_connector(connector=connector, input=sample, user=request.user)
        return redirect(f"{url}?execution={execution.pk}#result")
    messages.success(request, f"Saved {connector.name}.")
    return redirect(url)


def _render_editor(request, form, *, connector, workspaces, shown=None, status=200):
    can_write = _can_write(request.user, connector.workspace_id) if connector else True
    executions = list(connector.executions.order_by("-created_at")[:RECENT_EXECUTIONS]) if connector else []
    running = (ExecutionStatus.PENDING, ExecutionStatus.EXECUTING)
    return render(
        request,
        "connectors/editor.html",
        {
            "form": form,
            "connector": connector,
            "workspaces": workspaces,
            "can_write": can_write,
            "executions": executions,
            "shown": shown,
            "has_running": any(e.status in running for e in executions),
            "methods": editor.METHODS,
            "auth_types": editor.AUTH_TYPES,
            "body_types": editor.BODY_TYPES,
            "blank_step": editor.StepForm(key="__KEY__"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def connector_delete(request, pk):
    connector = get_object_or_404(selectors.connectors_for(user=request.user), pk=pk)
    _require_write(request.user, connector.workspace_id)
    if request.method == "POST":
        services.delete_connector(connector=connector)
        messages.success(request, f"Deleted connector {connector.name}.")
        return redirect("connector-list")
    return render(
        request,
        "connectors/confirm_delete.html",
        {
            "what": "connector",
            "object": connector,
            "cancel": reverse("connector-detail", args=[connector.pk]),
            "consequence": f"Its {connector.total_executions} recorded executions are deleted with it; "
            "workflows "
            "that run it by name or id will fail.",
        },
    )


# ---------------------------------------------------------------------------- credentials


def _credential_rows(user):
    credentials = list(
        selectors.credentials_for(user=user).select_related("workspace").order_by("workspace__name", "name")
    )
    writable = {str(w.pk) for w in _writable_workspaces(user)}
    for c in credentials:
        # One small query per credential: the audit table grows with every use, so it is
        # read newest first and cut, never loaded whole.
        c.recent_accesses = list(
            c.accesses.select_related("user", "connector_execution__connector")[:RECENT_ACCESSES]
        )
        c.can_write = str(c.workspace_id) in writable
    return credentials


@login_required
@require_http_methods(["GET", "POST"])
def credential_list(request):
    ensure_personal_workspace(user=request.user)
    workspaces = list(_writable_workspaces(request.user))
    add = {
        "name": "",
        "kind": CredentialKind.BEARER,
        "workspace": str(workspaces[0].pk) if workspaces else "",
        "custom_names": [""] * CUSTOM_ROWS,
        "errors": {},
    }
    status = 200
    if request.method == "POST":
        if not workspaces:
            raise PermissionDenied("Your role in every workspace is read-only.")
        add = _credential_post(request, workspaces)
        if not add["errors"]:
            messages.success(request, f"Added credential {add['name']}.")
            return redirect("credential-list")
        status = 400
    return render(
        request,
        "credentials/list.html",
        {
            "credentials": _credential_rows(request.user),
            "workspaces": workspaces,
            "add": add,
            "kinds": CredentialKind.choices,
            "kind_fields": KIND_FIELDS,
            "open_add": request.method == "POST",
        },
        status=status,
    )


def _posted_fields(request, names, *, custom_rows: bool) -> dict[str, str]:
    """Field → value from the form: the named `field_<name>` inputs, then (if wanted) the
    custom name/value rows."""
    data = {name: request.POST.get(f"field_{name}", "") for name in names}
    if custom_rows:
        names, values = request.POST.getlist("custom_name"), request.POST.getlist("custom_value")
        for name, value in zip(names, values, strict=False):
            if name.strip():
                data[name.strip()] = value
    return data


def _credential_post(request, workspaces) -> dict:
    kind = request.POST.get("kind", "")
    name = request.POST.get("name", "").strip()
    posted = _posted_fields(request, KIND_FIELDS.get(kind, ()), custom_rows=kind == CredentialKind.CUSTOM)
    form = {
        "name": name,
        "kind": kind,
        "workspace": request.POST.get("workspace", ""),
        "custom_names": [n for n in request.POST.getlist("custom_name") if n.strip()] + [""],
        "errors": {},
    }
    workspace = next((w for w in workspaces if str(w.pk) == form["workspace"]), None)
    if workspace is None:
        form["errors"]["workspace"] = ["Choose one of your workspaces."]
        return form
    missing = [f for f in KIND_FIELDS.get(kind, ()) if not posted.get(f)]
    if missing:
        for f in missing:
            form["errors"][f"data_{f}"] = [f"{f} is required for this kind."]
        return form
    data = {k: v for k, v in posted.items() if v != ""}
    if not data:
        form["errors"]["data"] = ["Add at least one field with a value."]
        return form
    try:
        services.create_credential(workspace=workspace, name=name, kind=kind, data=data)
    except services.ConnectorRefused as refused:
        form["errors"] = _field_errors(refused.details)
    return form


def _field_errors(details: dict) -> dict[str, list[str]]:
    """Service error details keyed for templates (`data.token` → `data_token`)."""
    return {
        k.replace(".", "_"): list(v) if isinstance(v, list | tuple) else [str(v)] for k, v in details.items()
    }


@login_required
@require_http_methods(["GET", "POST"])
def credential_detail(request, pk):
    credential = get_object_or_404(
        selectors.credentials_for(user=request.user).select_related("workspace"), pk=pk
    )
    can_write = _can_write(request.user, credential.workspace_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        _require_write(request.user, credential.workspace_id)
        kind = request.POST.get("kind", credential.kind)
        standard = {f for fields in KIND_FIELDS.values() for f in fields}
        changes: dict[str, str | None] = {
            k: v for k, v in _posted_fields(request, standard, custom_rows=True).items() if v != ""
        }
        for removed in request.POST.getlist("remove"):
            changes[removed] = None
        try:
            services.update_credential(
                credential=credential,
                name=request.POST.get("name", "").strip(),
                kind=kind,
                data=changes,
                merge_data=True,
            )
        except services.ConnectorRefused as refused:
            errors = _field_errors(refused.details)
        else:
            messages.success(request, f"Saved credential {request.POST.get('name', '').strip()}.")
            return redirect("credential-detail", pk=credential.pk)
    credential.refresh_from_db()
    fields_set = credential.fields_set
    standard = list(KIND_FIELDS.get(credential.kind, ()))
    rows = [{"name": f, "set": f in fields_set, "standard": True} for f in standard]
    rows += [{"name": f, "set": True, "standard": False} for f in fields_set if f not in standard]
    accesses = credential.accesses.select_related("user", "connector_execution__connector")[:25]
    return render(
        request,
        "credentials/detail.html",
        {
            "credential": credential,
            "rows": rows,
            "kinds": CredentialKind.choices,
            "can_write": can_write,
            "errors": errors,
            "accesses": accesses,
            "used_by": _connectors_using(credential),
            "custom_rows": range(2),
        },
        status=400 if errors else 200,
    )


def _connectors_using(credential):
    connectors = selectors.connectors_for_workspace(workspace_id=credential.workspace_id)
    return [c for c in connectors if credential.name in services.credential_refs(c.config)]


@login_required
@require_http_methods(["GET", "POST"])
def credential_delete(request, pk):
    credential = get_object_or_404(selectors.credentials_for(user=request.user), pk=pk)
    _require_write(request.user, credential.workspace_id)
    if request.method == "POST":
        services.delete_credential(credential=credential)
        messages.success(request, f"Deleted credential {credential.name}.")
        return redirect("credential-list")
    users = _connectors_using(credential)
    consequence = f"Templates that use {{{{ workspace.{credential.name} }}}} will fail with a TEMPLATE_ERROR."
    if users:
        consequence += " Used by: " + ", ".join(c.name for c in users) + "."
    return render(
        request,
        "connectors/confirm_delete.html",
        {
            "what": "credential",
            "object": credential,
            "cancel": reverse("credential-detail", args=[credential.pk]),
            "consequence": consequence,
        },
    )
