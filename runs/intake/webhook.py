"""`ANY /hooks/<token>` for `trigger.webhook`: start a live run from an HTTP request
(SPEC §5).

Every 2xx answer means the run is already durably stored (the run row commits before the
response is written). Auth is the trigger's own: none, a shared header token, or an
HMAC-SHA256 signature of the raw body (`runs.intake.auth`)."""

from __future__ import annotations

from django.http import JsonResponse

from config import json_input
from workflows.engine import masking
from workflows.engine.errors import ErrorCategory

from .. import selectors, services
from ..payloads import for_storage
from ..runner import start_and_wait
from ..store import write_lock
from . import handles
from .auth import header_token_matches, hmac_sha256_matches
from .body import json_error, parse_body, read_body
from .secret import secret_field

HOP_HEADERS = {"cookie", "authorization", "proxy-authorization"}


def _authorized(request, raw: bytes, *, workflow, node) -> tuple[bool, str]:
    """The trigger's auth, and the secret it checked ("" for none); a token or secret
    written `{{ workspace.<credential> }}` is the credential's value (read through
    `trigger_secret`, the use audited)."""
    auth = (node.get("config") or {}).get("auth") or {}
    kind = auth.get("type", "none")
    if kind == "none":
        return True, ""
    if kind == "header":
        token = secret_field(workflow, node, "auth.token")
        name = auth.get("name") or "X-Webhook-Token"
        return bool(token) and header_token_matches(request, name, token), token
    if kind == "hmac_sha256":
        secret = secret_field(workflow, node, "auth.secret")
        header = auth.get("header") or "X-Signature-256"
        return bool(secret) and hmac_sha256_matches(request, header, secret, raw), secret
    return False, ""


def trigger_payload(request, body, auth: dict, secret: str = "") -> dict:
    """What the run receives (and stores) of the request: credentials never. Cookies and
    Authorization are dropped; the trigger's own auth header and every other header or
    query parameter named like a credential is `***`, and the trigger's secret (`secret`,
    as checked) is masked wherever else it was repeated."""
    auth_header = (auth.get("name") or "X-Webhook-Token") if auth.get("type") == "header" else ""
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    payload = {
        "body": body,
        "query": masking.mask_headers(dict(request.GET.items())),
        "headers": masking.mask_headers(headers, extra=[auth_header] if auth_header else ()),
        "method": request.method,
    }
    return masking.mask_secrets(payload, [secret] if secret else [])


@handles("trigger.webhook")
def receive_webhook(request, *, workflow, endpoint, node):
    config = node.get("config") or {}
    method = config.get("method", "POST")
    raw = read_body(request, methods=None if method == "ANY" else (method,))
    if not isinstance(raw, bytes):
        return raw
    authorized, secret = _authorized(request, raw, workflow=workflow, node=node)
    if not authorized:
        return json_error(401, "AUTHENTICATION_FAILED", "The webhook's authentication did not match.")
    try:
        body = parse_body(request, raw)
    except json_input.JSONHasNul as exc:
        return json_error(400, "PARSE_ERROR", f"The body is not accepted: {exc}", {"body": [str(exc)]})
    except ValueError as exc:
        return json_error(400, "PARSE_ERROR", f"The body is not valid JSON: {exc}", {"body": [str(exc)]})
    start = dict(
        workflow=workflow,
        input=trigger_payload(request, body, config.get("auth") or {}, secret),
        mode="live",
        trigger_node=node["id"],
        trigger_type="trigger.webhook",
        version=workflow.active_version,
        idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
        enforce_daily_limit=True,
    )
    try:
        if config.get("respond", "immediately") != "on_completion":
            with write_lock():
                run = services.start_run(**start)
            return JsonResponse({"run_id": str(run.pk)}, status=202)
        waited = start_and_wait(timeout_s=float(config.get("respond_timeout_s", 30)), **start)
    except services.RunRefused as exc:
        return json_error(exc.status_code, exc.code, exc.message)
    return completion_response(waited)


# How a failed run a caller waited for is answered, by the category of its error: a service
# the workflow called failed (502) or timed out (504); it was cancelled (409); else the
# request's data did not make it through the workflow (422). The server itself did not fail:
# never 500.
_UPSTREAM = frozenset(
    {
        ErrorCategory.CONNECTION_ERROR,
        ErrorCategory.AUTHENTICATION_ERROR,
        ErrorCategory.RATE_LIMIT_ERROR,
        ErrorCategory.SERVICE_UNAVAILABLE,
        ErrorCategory.HTTP_ERROR,
        ErrorCategory.INTEGRATION_ERROR,
    }
)


def failed_run_status(status: str, error: dict | None) -> int:
    category = (error or {}).get("category")
    if status == "cancelled" or category == ErrorCategory.CANCELLED:
        return 409
    if category == ErrorCategory.TIMEOUT_ERROR:
        return 504
    return 502 if category in _UPSTREAM else 422


def completion_response(waited) -> JsonResponse:
    """200 with the output of a completed (or partial) run, a RUN_FAILED error naming a
    failed or cancelled one (`failed_run_status`), 202 `{run_id}` for one still going on."""
    if waited.outcome is not None:
        return JsonResponse(for_storage(waited.outcome.output), status=200, safe=False)
    finished = waited.finished
    if finished is None:
        return JsonResponse({"run_id": str(waited.run.pk)}, status=202)
    if finished.status in ("completed", "partial"):
        return JsonResponse(finished.output, status=200, safe=False)
    detail = selectors.run_summary(finished)
    return json_error(
        failed_run_status(finished.status, detail["error"]),
        "RUN_FAILED",
        f"The run ended {finished.status}.",
        {"run_id": detail["id"], "error": detail["error"]},
    )
