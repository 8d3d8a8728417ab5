"""Hosted form pages for `trigger.form` (SPEC §5): `/forms/<token>`.

The page is built from the trigger's configured fields (text, textarea, email, number, date,
checkbox, select; labels, required flags, options) with Django forms, so validation, value
re-population and CSRF protection are Django's own. A valid submission starts a live run with
`{fields: {...}}` — numbers as numbers, checkboxes as booleans, dates as `YYYY-MM-DD` — and
redirects to a thank-you page (post/redirect/get, so reloading it submits nothing). Each
rendered form carries a one-off submission id used as the run's idempotency key: a double
click makes one run. Unknown tokens and inactive workflows get a friendly 404 page; over
`max_runs_per_day` a 429 page says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django import forms
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from workflows.models import Workflow

from .. import services
from . import active_trigger

NODE_TYPE = "trigger.form"
PREFIX = "f"  # field inputs are named `f-<name>`, so no configured name meets Django's own
SUBMISSION = "_submission"
TEXT_MAX = 1000
TEXTAREA_MAX = 10000
DEFAULT_SUCCESS = "Thank you! Your response has been received."


@dataclass(frozen=True)
class HostedForm:
    workflow: Workflow
    node: dict

    @property
    def config(self) -> dict:
        return self.node.get("config") or {}

    @property
    def fields(self) -> list[dict]:
        return list(self.config.get("fields") or [])

    @property
    def title(self) -> str:
        return self.config.get("title") or self.workflow.name


def hosted_form(token: str) -> HostedForm | None:
    """The active form trigger behind `token`, or None (unknown token, inactive workflow,
    or a token that belongs to another kind of trigger)."""
    found = active_trigger(token, NODE_TYPE)
    return HostedForm(workflow=found.workflow, node=found.node) if found else None


def _label(spec: dict) -> str:
    return spec.get("label") or spec["name"].replace("_", " ").strip().capitalize()


def _form_field(spec: dict) -> forms.Field:
    kind = spec.get("type", "text")
    common = {
        "label": _label(spec),
        "required": bool(spec.get("required")),
        "help_text": spec.get("help", ""),
    }
    attrs = {"placeholder": spec["placeholder"]} if spec.get("placeholder") else {}
    if kind == "textarea":
        return forms.CharField(
            max_length=TEXTAREA_MAX, widget=forms.Textarea(attrs={"rows": 5, **attrs}), **common
        )
    if kind == "email":
        return forms.EmailField(max_length=TEXT_MAX, widget=forms.EmailInput(attrs=attrs), **common)
    if kind == "number":
        return forms.DecimalField(
            max_digits=30,
            decimal_places=10,
            widget=forms.NumberInput(attrs={"step": "any", **attrs}),
            **common,
        )
    if kind == "date":
        return forms.DateField(
            widget=forms.DateInput(attrs={"type": "date", **attrs}, format="%Y-%m-%d"),
            input_formats=["%Y-%m-%d"],
            **common,
        )
    if kind == "checkbox":
        return forms.BooleanField(error_messages={"required": "Please tick this box to continue."}, **common)
    if kind == "select":
        choices = [("", "Choose…")] + [(o, o) for o in spec.get("options") or []]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=TEXT_MAX, widget=forms.TextInput(attrs=attrs), **common)


def build_form(fields: list[dict], data=None) -> forms.Form:
    form = forms.Form(data=data, prefix=PREFIX)
    for spec in fields:
        form.fields[spec["name"]] = _form_field(spec)
    return form


def _typed(value, kind: str):
    if kind == "number":
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if kind == "date":
        return value.isoformat() if value else None
    if kind == "checkbox":
        return bool(value)
    if kind == "select":
        return value or None
    return value  # text, textarea, email: "" when left empty


def form_payload(hosted: HostedForm, cleaned: dict) -> dict:
    """The run's trigger payload: `{fields: {name: typed value}}`."""
    return {
        "fields": {
            spec["name"]: _typed(cleaned.get(spec["name"]), spec.get("type", "text"))
            for spec in hosted.fields
        }
    }


def _mark_invalid(form: forms.Form) -> None:
    for name in form.errors:
        if name in form.fields:
            bound = form[name]
            form.fields[name].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": f"{bound.auto_id}_error"}
            )


def _page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, f"forms/{template}", context, status=status)


def unavailable(request, status: int = 404) -> HttpResponse:
    if status == 429:
        return _page(
            request,
            "unavailable.html",
            {
                "heading": "This form is taking a break",
                "message": "It has received as many responses as it accepts for today. Please try again "
                "tomorrow.",
                "code": 429,
            },
            status=429,
        )
    return _page(
        request,
        "unavailable.html",
        {
            "heading": "This form isn’t available",
            "message": "The link may be mistyped, or the form's owner has switched it off.",
            "code": 404,
        },
        status=404,
    )


def _submission_key(raw: str) -> str:
    try:
        return f"form:{uuid.UUID(raw)}"
    except (ValueError, TypeError):
        return ""


@require_http_methods(["GET", "HEAD", "POST"])
def form_page(request, token: str):
    hosted = hosted_form(token)
    if hosted is None:
        return unavailable(request)
    if request.method != "POST":
        form = build_form(hosted.fields)
        submission = str(uuid.uuid4())
        return _page(request, "form.html", {"hosted": hosted, "form": form, "submission": submission})
    form = build_form(hosted.fields, data=request.POST)
    submission = request.POST.get(SUBMISSION, "")
    if not form.is_valid():
        _mark_invalid(form)
        return _page(
            request,
            "form.html",
            {"hosted": hosted, "form": form, "submission": submission or str(uuid.uuid4())},
            status=400,
        )
    try:
        services.start_run(
            workflow=hosted.workflow,
            input=form_payload(hosted, form.cleaned_data),
            mode="live",
            trigger_node=hosted.node["id"],
            trigger_type=NODE_TYPE,
            version=hosted.workflow.active_version,
            idempotency_key=_submission_key(submission),
            enforce_daily_limit=True,
        )
    except services.RunRefused as exc:
        if exc.status_code == 429:
            return unavailable(request, 429)
        raise
    return HttpResponseRedirect(reverse("hosted-form-thanks", args=[token]))


@require_http_methods(["GET", "HEAD"])
def thanks_page(request, token: str):
    hosted = hosted_form(token)
    if hosted is None:
        return unavailable(request)
    message = hosted.config.get("success_message") or DEFAULT_SUCCESS
    return _page(
        request,
        "thanks.html",
        {"hosted": hosted, "message": message, "again_url": reverse("hosted-form", args=[token])},
    )
