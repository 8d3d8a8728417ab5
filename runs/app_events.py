"""What the app-event intakes (chat, payment, email) share: JSON answers, body limits, the
trigger's secret (literal or a workspace credential), and starting the live run.

Every 2xx an intake answers means the run row is committed (start_run is atomic and
returns after its transaction), or that the event was deliberately filtered out, which the
body says as `{"ignored": "<reason>"}`."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.http import JsonResponse

from config.api_errors import error_body

from . import services

logger = logging.getLogger("switchyard.triggers")


def json_error(status: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def ignored(reason: str) -> JsonResponse:
    """A delivery the trigger's filters leave out: 200 so the sender does not retry it."""
    return JsonResponse({"ignored": reason}, status=200)


def read_body(request, *, methods=("POST",)) -> bytes | JsonResponse:
    """The raw body, or the error answer for a wrong method or an oversized body."""
    if request.method not in methods:
        response = json_error(
            405, "METHOD_NOT_ALLOWED", f"This trigger accepts {', '.join(methods)} requests."
        )
        response["Allow"] = ", ".join(methods)
        return response
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        return json_error(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit} bytes.")
    raw = request.body
    if len(raw) > limit:
        return json_error(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit} bytes.")
    return raw


def trigger_secret(workflow, node: dict, value: Any) -> str:
    """The trigger's secret: the literal config value, or a `{{ workspace.<name> }}`
    credential decrypted for this delivery (the access is audited like any other use)."""
    text = "" if value is None else str(value)
    if "{{" not in text:
        return text
    from connectors.services import credential_refs, resolve_credentials
    from workflows.engine.templates import render

    names = credential_refs(text)
    creds = resolve_credentials(
        workspace_id=workflow.workspace_id,
        names=names,
        purpose=f"{node['type']} {node['id']} of workflow {workflow.pk}",
    )
    try:
        return str(render(text, {"workspace": creds}))
    except Exception:  # a credential removed since activation: nothing can match
        logger.warning(
            "secret of %s %s in workflow %s does not render", node["type"], node["id"], workflow.pk
        )
        return ""


def idempotency_key(kind: str, node_id: str, event_id: Any) -> str:
    """A per-trigger key (start_run dedupes per workflow), hashed when it would not fit."""
    key = f"{kind}:{node_id}:{event_id}"
    if len(key) > 200:
        key = f"{kind}:{node_id}:sha256:{hashlib.sha256(str(event_id).encode()).hexdigest()}"
    return key


def start_live_run(*, workflow, node: dict, payload: dict, key: str, status: int = 202) -> JsonResponse:
    """Start (or find, by `key`) the live run and answer `{run_id}`; RunRefused as its error."""
    try:
        run = services.start_run(
            workflow=workflow,
            input=payload,
            mode="live",
            trigger_node=node["id"],
            trigger_type=node["type"],
            version=workflow.active_version,
            idempotency_key=key,
            enforce_daily_limit=True,
        )
    except services.RunRefused as exc:
        return json_error(exc.status_code, exc.code, exc.message)
    return JsonResponse({"run_id": str(run.pk)}, status=status)
