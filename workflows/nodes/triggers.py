"""Trigger node types (SPEC §5): manual, webhook, schedule, form.

A trigger's input and output are the run's trigger payload; the host builds that payload
(`{body, query, headers, method}` for webhooks, `{scheduled_at}` for schedules, `{fields}`
for forms) and starts the run. These executors only pass it on; registering the types here
lets documents using them validate and lets the palette show them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..engine.registry import NodeContext, NodeResult, TriggerSpec, node_type

_CRON_PART = re.compile(r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?$")
_CRON_NAMES = ("minute", "hour", "day of month", "month", "day of week", "second")
_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def pass_payload(ctx: NodeContext) -> NodeResult:
    """Every trigger outputs the payload the run was started with (its input)."""
    return NodeResult(output=ctx.input)


@node_type(
    "trigger.manual",
    inline=True,  # pure: computed on the advancing thread
    label="Manual trigger",
    category="trigger",
    is_trigger=True,
    icon="play",
    trigger=TriggerSpec(endpoint="manual", label="Manual"),
    description="Start the workflow by hand or through the API; outputs the run input.",
    config_schema={"type": "object", "additionalProperties": False, "properties": {}},
    output_schema={"description": "the run input"},
)
def manual_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)


_SECRET = {"type": "string", "minLength": 1}
WEBHOOK_AUTH = {
    "oneOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["type"],
            "properties": {"type": {"const": "none"}},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "token"],
            "title": "A header must carry a shared token",
            "properties": {
                "type": {"const": "header"},
                "name": {"type": "string", "minLength": 1, "default": "X-Webhook-Token"},
                "token": _SECRET,
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "secret"],
            "title": "An HMAC-SHA256 signature of the body, keyed by a shared secret",
            "properties": {
                "type": {"const": "hmac_sha256"},
                "secret": _SECRET,
                "header": {"type": "string", "minLength": 1, "default": "X-Signature-256"},
            },
        },
    ],
}


@node_type(
    "trigger.webhook",
    inline=True,  # pure: computed on the advancing thread
    label="Webhook",
    category="trigger",
    is_trigger=True,
    icon="webhook",
    trigger=TriggerSpec(endpoint="hook", label="Webhook", secret_fields=("auth.token", "auth.secret")),
    description="Start the workflow when an HTTP request reaches its URL.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "ANY"], "default": "POST"},
            "auth": WEBHOOK_AUTH,
            "respond": {"enum": ["immediately", "on_completion"], "default": "immediately"},
            # How long an on_completion caller waits before getting 202 {run_id} instead.
            "respond_timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 300, "default": 30},
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "body": {},
            "query": {"type": "object"},
            "headers": {"type": "object"},
            "method": {"type": "string"},
        },
    },
)
def webhook_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)


def check_cron(expression: Any) -> str | None:
    """A message when `expression` is not a cron schedule: 5 fields (minute hour day-of-month
    month day-of-week), an optional sixth for seconds (croniter's order, e.g.
    `* * * * * */10` is every 10 seconds), or an @daily-style macro."""
    if not isinstance(expression, str) or not expression.strip():
        return "cron must be a non-empty string"
    if "{{" in expression:
        return None  # rendered at activation; checked then
    text = expression.strip()
    if text.lower() in _CRON_MACROS:
        return None
    fields = text.split()
    if len(fields) not in (5, 6):
        return (
            f"cron needs 5 fields (minute hour day-of-month month day-of-week) and optionally a "
            f"sixth for seconds, got {len(fields)}"
        )
    for name, value in zip(_CRON_NAMES, fields, strict=False):
        if not all(_CRON_PART.match(part) for part in value.split(",")):
            return f"cron {name} field {value!r} is not valid"
    try:  # ranges and names, when croniter is installed (it is in the app's requirements)
        from croniter import croniter
    except ImportError:
        return None
    return None if croniter.is_valid(text) else f"cron {text!r} is not a valid schedule"


def validate_schedule(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    problem = check_cron(config.get("cron"))
    if problem:
        yield ("cron", problem)
    tz = config.get("timezone", "UTC")
    if isinstance(tz, str) and "{{" not in tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            yield ("timezone", f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)")


@node_type(
    "trigger.schedule",
    inline=True,  # pure: computed on the advancing thread
    label="Schedule",
    category="trigger",
    is_trigger=True,
    icon="clock",
    trigger=TriggerSpec(endpoint="schedule", label="Schedule"),
    description="Start the workflow on a cron schedule, in the trigger's time zone.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["cron"],
        "properties": {
            "cron": {
                "type": "string",
                "minLength": 1,
                "description": "minute hour day-of-month month day-of-week, optionally "
                "followed by seconds; evaluated in `timezone`",
                "examples": ["0 9 * * 1-5", "*/15 * * * *", "* * * * * */30"],
            },
            "timezone": {
                "type": "string",
                "minLength": 1,
                "default": "UTC",
                "examples": ["UTC", "Europe/Berlin", "America/New_York"],
            },
        },
    },
    output_schema={
        "type": "object",
        "properties": {"scheduled_at": {"type": "string", "format": "date-time"}},
    },
    validate_config=validate_schedule,
)
def schedule_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)


FORM_FIELD_TYPES = ["text", "textarea", "number", "email", "date", "checkbox", "select"]


def validate_form(config: dict[str, Any]) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    for i, field in enumerate(config.get("fields") or []):
        name = field.get("name")
        if name in seen:
            yield (f"fields.{i}.name", f"duplicate form field name {name!r}")
        seen.add(name)
        if field.get("type") == "select" and not field.get("options"):
            yield (f"fields.{i}.options", "a select field needs options")


@node_type(
    "trigger.form",
    inline=True,  # pure: computed on the advancing thread
    label="Form",
    category="trigger",
    is_trigger=True,
    icon="form",
    trigger=TriggerSpec(endpoint="form", label="Hosted form"),
    description="Start the workflow when someone submits its hosted form page (/forms/<token>).",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["fields"],
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000},
            "submit_label": {"type": "string", "maxLength": 60, "default": "Submit"},
            "success_message": {
                "type": "string",
                "maxLength": 2000,
                "default": "Thank you! Your response has been received.",
            },
            "fields": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$"},
                        "label": {"type": "string", "maxLength": 200},
                        "type": {"enum": FORM_FIELD_TYPES, "default": "text"},
                        "required": {"type": "boolean", "default": False},
                        "options": {"type": "array", "items": {"type": "string"}},
                        "placeholder": {"type": "string", "maxLength": 200},
                        "help": {"type": "string", "maxLength": 500},
                    },
                },
            },
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "fields": {
                "type": "object",
                "description": "the submitted values by field name: numbers as numbers, "
                "checkboxes as booleans, dates as YYYY-MM-DD, empty optional "
                'fields as null (text: "")',
            }
        },
    },
    validate_config=validate_form,
)
def form_trigger(ctx: NodeContext) -> NodeResult:
    return pass_payload(ctx)
