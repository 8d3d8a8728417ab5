"""Intake: how events from outside become live runs, one module per trigger family
(webhook, chat, payment, form, email, schedule, contact) plus what they share (`body`,
`auth`, `secret`, `start`).

`receive_hook` serves `/hooks/<token>`: it resolves the token to an active workflow's
trigger node whose type's `TriggerSpec` has endpoint "hook", and hands the request to the
spec's `receive`, or to the handler an intake module registered for that node type:

    @handles("trigger.payment")
    def receive_payment(request, *, workflow, endpoint, node) -> HttpResponse: ...

The handler answers the request itself; every 2xx it returns must mean the run is durably
stored (or that the event was deliberately filtered out, which it says in the body)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.views.decorators.csrf import csrf_exempt

from workflows.engine.registry import registry
from workflows.models import TriggerEndpoint, Workflow, WorkflowStatus, WorkflowVersion

from .. import rows
from .body import json_error

HANDLER_MODULES = ("runs.intake.webhook", "runs.intake.chat", "runs.intake.payment")

_handlers: dict[str, Callable] = {}
_loaded = False


@dataclass(frozen=True)
class ActiveTrigger:
    endpoint: TriggerEndpoint
    workflow: Workflow  # its `active_version` is the pinned version
    node: dict


# (id, created_at as read) -> WorkflowVersion. Versions never change once saved, but an id
# alone does not name one: SQLite hands a rolled-back row's id to the next row saved (its
# sequence rolls back with the transaction), so a version this process read inside a
# transaction that then rolled back would answer for another document under the same id.
_versions: dict = {}
_VERSIONS_KEPT = 256


def _active_version(workflow: Workflow, stamp) -> WorkflowVersion:
    """The workflow's active version, from this process's cache of immutable versions;
    `stamp` is the version's `created_at` as the endpoint lookup read it."""
    key = (workflow.active_version_id, stamp)
    version = _versions.get(key)
    if version is None:
        version = WorkflowVersion.objects.get(pk=workflow.active_version_id)
        if len(_versions) >= _VERSIONS_KEPT:
            _versions.clear()
        _versions[key] = version
    return version


def active_trigger(token: str, node_type: str | None = None) -> ActiveTrigger | None:
    """The trigger node behind a public token (`/hooks/`, `/forms/`, an email address) of an
    ACTIVE workflow, in the version pinned at activation; None for an unknown token, an
    inactive workflow, or (with `node_type`) a token of another kind of trigger. The endpoint
    and workflow are read every time, so deactivation takes effect at once."""
    endpoint, stamp = _endpoint(token)
    workflow = endpoint.workflow if endpoint else None
    if workflow is None or workflow.status != WorkflowStatus.ACTIVE or stamp is None:
        return None
    workflow.active_version = _active_version(workflow, stamp)
    node = next((n for n in workflow.active_version.document["nodes"] if n["id"] == endpoint.node_id), None)
    if node is None or (node_type is not None and node["type"] != node_type):
        return None
    return ActiveTrigger(endpoint=endpoint, workflow=workflow, node=node)


def _endpoint(token: str) -> tuple[TriggerEndpoint | None, Any]:
    """The endpoint with its workflow, and the active version's `created_at` (None without
    one): one prepared SELECT (the ORM built the query anew on every request)."""
    with connection.cursor() as cursor:
        cursor.execute(_endpoint_sql(connection.vendor), [token])
        row = cursor.fetchone()
    if row is None:
        return None, None
    split = rows.width(TriggerEndpoint)
    endpoint = rows.instance(TriggerEndpoint, row[:split])
    endpoint.workflow = rows.instance(Workflow, row[split:-1])
    return endpoint, row[-1]


@cache
def _endpoint_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    return (
        f"SELECT {rows.columns(TriggerEndpoint, 'e')}, {rows.columns(Workflow, 'w')}, "
        f"v.{qn('created_at')} "
        f"FROM {qn(TriggerEndpoint._meta.db_table)} e JOIN {qn(Workflow._meta.db_table)} w "
        f"ON w.{qn('id')} = e.{qn('workflow_id')} "
        f"LEFT JOIN {qn(WorkflowVersion._meta.db_table)} v ON v.{qn('id')} = w.{qn('active_version_id')} "
        f"WHERE e.{qn('token')} = %s"
    )


def handles(node_type: str):
    def register(fn: Callable) -> Callable:
        _handlers[node_type] = fn
        return fn

    return register


def handler_for(node_type: str) -> Callable | None:
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
        _loaded = True
    return _handlers.get(node_type)


@csrf_exempt
def receive_hook(request, token: str):
    """`ANY /hooks/<token>`: the handler of the token's trigger type answers."""
    found = active_trigger(token)
    spec = registry.trigger_spec(found.node["type"]) if found is not None else None
    handler = (spec.receive or handler_for(found.node["type"])) if spec and spec.endpoint == "hook" else None
    if handler is None:
        return json_error(404, "NOT_FOUND", "No active webhook at this address.")
    return handler(request, workflow=found.workflow, endpoint=found.endpoint, node=found.node)
