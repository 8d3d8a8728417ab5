"""`ANY /hooks/<token>`: start a live run from an HTTP request (SPEC §5 trigger.webhook).

Every 2xx answer means the run is already durably stored (the run row commits before the
response is written). Auth is the trigger's own: none, a shared header token, or an
HMAC-SHA256 signature of the raw body; both compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import time
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config import json_input
from config.api_errors import error_body
from workflows.engine import masking

from . import intake, leases, selectors, services
from .payloads import for_storage
from .store import write_lock
from .tasks import inline, release_connection

HOP_HEADERS = {"cookie", "authorization", "proxy-authorization"}


def _error(status: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


def _parse_body(request, raw: bytes):
    ctype = (request.content_type or "").lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        if not raw.strip():
            return None
        return json_input.loads(raw)
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return raw.decode("utf-8", "replace") if raw else None


def trigger_payload(request, body, auth: dict) -> dict:
    """What the run receives (and stores) of the request: credentials never. Cookies and
    Authorization are dropped; the trigger's own auth header and every other header or
    query parameter named like a credential is `***`, and the header token is masked
    wherever else it was repeated."""
    auth_header = (auth.get("name") or "X-Webhook-Token") if auth.get("type") == "header" else ""
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    payload = {
        "body": body,
        "query": masking.mask_headers(dict(request.GET.items())),
        "headers": masking.mask_headers(headers, extra=[auth_header] if auth_header else ()),
        "method": request.method,
    }
    secrets = [str(auth.get("token") or "")] if auth_header else []
    return masking.mask_secrets(payload, secrets)


def _authorized(auth: dict, request, raw: bytes) -> bool:
    kind = (auth or {}).get("type", "none")
    if kind == "none":
        return True
    if kind == "header":
        given = request.headers.get(auth.get("name") or "X-Webhook-Token", "")
        return hmac.compare_digest(given.encode(), str(auth.get("token", "")).encode())
    if kind == "hmac_sha256":
        given = request.headers.get(auth.get("header") or "X-Signature-256", "")
        given = given.split("=", 1)[1] if given.lower().startswith("sha256=") else given
        expected = hmac.new(str(auth.get("secret", "")).encode(), raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given.strip().lower().encode(), expected.encode())
    return False


@csrf_exempt
def receive_webhook(request, token: str):
    found = intake.active_trigger(token)
    if found is not None and found.node["type"] != "trigger.webhook":
        handler = intake.handler_for(found.node["type"])
        if handler is not None:
            return handler(request, workflow=found.workflow, endpoint=found.endpoint, node=found.node)
        found = None
    if found is None:
        return _error(404, "NOT_FOUND", "No active webhook at this address.")
    workflow, node = found.workflow, found.node
    version = workflow.active_version
    config = node.get("config") or {}
    method = config.get("method", "POST")
    if method != "ANY" and request.method != method:
        response = _error(405, "METHOD_NOT_ALLOWED", f"This webhook accepts {method} requests.")
        response["Allow"] = method
        return response
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.WEBHOOK_MAX_BODY_BYTES:
        return _error(413, "PAYLOAD_TOO_LARGE", f"The body is over {settings.WEBHOOK_MAX_BODY_BYTES} bytes.")
    raw = request.body
    if len(raw) > settings.WEBHOOK_MAX_BODY_BYTES:
        return _error(413, "PAYLOAD_TOO_LARGE", f"The body is over {settings.WEBHOOK_MAX_BODY_BYTES} bytes.")
    if not _authorized(config.get("auth") or {}, request, raw):
        return _error(401, "AUTHENTICATION_FAILED", "The webhook's authentication did not match.")
    try:
        body = _parse_body(request, raw)
    except ValueError as exc:
        return _error(400, "PARSE_ERROR", f"The body is not valid JSON: {exc}", {"body": [str(exc)]})
    payload = trigger_payload(request, body, config.get("auth") or {})
    on_completion = config.get("respond", "immediately") == "on_completion"
    # on_completion: execute the run right here (see runs.tasks.InlineRunner) when a slot is
    # free. The run row commits leased to this process before it starts, so a 2xx still
    # means a durable run, and a process that dies leaves it to the lease reaper.
    owner = leases.new_owner() if on_completion and inline.reserve() else ""
    try:
        with write_lock():
            run = services.start_run(
                workflow=workflow,
                input=payload,
                mode="live",
                trigger_node=node["id"],
                trigger_type="trigger.webhook",
                version=version,
                idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
                enforce_daily_limit=True,
                enqueue=not owner,
                lease_owner=owner,
            )
    except services.RunRefused as exc:
        if owner:
            inline.cancel_reservation()
        return _error(exc.status_code, exc.code, exc.message)
    except BaseException:
        if owner:
            inline.cancel_reservation()
        raise
    if not on_completion:
        return JsonResponse({"run_id": str(run.pk)}, status=202)
    timeout_s = float(config.get("respond_timeout_s", 30))
    deadline = time.monotonic() + timeout_s
    if owner and run.lease_owner == owner:
        future = inline.submit(run, owner)
        release_connection()  # a pooled connection is not held while waiting
        try:
            outcome = future.result(timeout=timeout_s)
        except FutureTimeout:
            return JsonResponse({"run_id": str(run.pk)}, status=202)
        except Exception:  # logged by the runner, which handed the run to a worker
            outcome = None
        if outcome is not None and outcome.status in ("completed", "partial"):
            return JsonResponse(for_storage(outcome.output), status=200, safe=False)
        # failed or cancelled: answered from the stored run; parked or handed over: waited for
        finished = services.wait_for_run(run.pk, max(0.0, deadline - time.monotonic()))
    else:
        if owner:  # an earlier run with this Idempotency-Key answers
            inline.cancel_reservation()
        finished = services.wait_for_run(run.pk, timeout_s)
    if finished is not None:
        status = 200 if finished.status in ("completed", "partial") else 500
        if status == 200:
            return JsonResponse(finished.output, status=200, safe=False)
        detail = selectors.run_summary(finished)
        return _error(
            status,
            "RUN_FAILED",
            f"The run ended {finished.status}.",
            {"run_id": detail["id"], "error": detail["error"]},
        )
    return JsonResponse({"run_id": str(run.pk)}, status=202)
