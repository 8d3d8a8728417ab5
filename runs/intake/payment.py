"""`POST /hooks/<token>` for `trigger.payment`: Stripe-compatible signed events.

The provider signs each delivery with the endpoint's secret:
`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (several
`v1` entries are accepted, as during a secret roll). A missing or malformed header, a
signature that matches no `v1`, or a timestamp further than `tolerance_s` from now (either
way) is answered 400 `SIGNATURE_INVALID` — the status Stripe's own libraries use for a
failed verification. The signature is checked before the timestamp, in constant time, so
an unsigned request learns nothing. Verified events the filters leave out answer 200
`{"ignored": reason}` (providers resend anything not 2xx); a stored run answers 202
`{run_id}`, and a redelivered event `id` answers with the first run."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from config import json_input

from . import handles
from .body import ignored, json_error, read_body
from .secret import secret_field
from .start import idempotency_key, start_live_run

SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE_S = 300
AMOUNT_FIELDS = ("amount", "amount_total", "amount_paid", "amount_received")


class SignatureInvalid(Exception):
    pass


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `v1` signature of `body` at `timestamp` (what the provider sends)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    header: str, body: bytes, secret: str, *, tolerance_s: int, now: float | None = None
) -> int:
    """Check a `Stripe-Signature` header against the raw body; the signed timestamp, or raise
    SignatureInvalid saying why."""
    if not header:
        raise SignatureInvalid(f"The {SIGNATURE_HEADER} header is missing.")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise SignatureInvalid(f"The {SIGNATURE_HEADER} header needs t=<timestamp> and v1=<signature>.")
    expected = sign(secret, body, int(timestamp)).encode()
    matched = False
    for candidate in signatures:  # check every entry: no early exit tells which one matched
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not secret or not matched:
        raise SignatureInvalid("No v1 signature matches the body and the trigger's signing secret.")
    skew = (time.time() if now is None else now) - int(timestamp)
    if abs(skew) > tolerance_s:
        when = "old" if skew > 0 else "in the future"
        raise SignatureInvalid(
            f"The signature timestamp is {abs(int(skew))} s {when}; the tolerance is {tolerance_s} s."
        )
    return int(timestamp)


def _amount(obj: dict) -> int | None:
    for name in AMOUNT_FIELDS:
        value = obj.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def payment_payload(event: dict) -> dict:
    obj = event["data"]["object"]
    currency = obj.get("currency")
    return {
        "id": event["id"],
        "type": event["type"],
        "created": event.get("created"),
        "livemode": bool(event.get("livemode", False)),
        "amount": _amount(obj),
        "currency": currency.lower() if isinstance(currency, str) else None,
        "status": obj.get("status") if isinstance(obj.get("status"), str) else None,
        "object": obj,
    }


def _event_selected(event_type: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def filter_reason(config: dict, payload: dict) -> str | None:
    """Why the trigger leaves this event out, or None when it should start a run."""
    events = config.get("events")
    if events and not _event_selected(payload["type"], events):
        return f"{payload['type']} events are not selected"
    currency = config.get("currency")
    if currency:
        wanted = {c.lower() for c in ([currency] if isinstance(currency, str) else currency)}
        if payload["currency"] not in wanted:
            return f"currency {payload['currency']} is not selected"
    amount = payload["amount"]
    low, high = config.get("min_amount"), config.get("max_amount")
    if (low is not None or high is not None) and amount is None:
        return "the event carries no amount"
    if low is not None and amount < low:
        return f"amount {amount} is below {low}"
    if high is not None and amount > high:
        return f"amount {amount} is above {high}"
    statuses = config.get("status")
    if statuses and payload["status"] not in statuses:
        return f"status {payload['status']} is not selected"
    return None


def _event_problem(event: Any) -> tuple[str, str] | None:
    if not isinstance(event, dict):
        return "body", "An event must be a JSON object."
    for name in ("id", "type"):
        if not isinstance(event.get(name), str) or not event[name]:
            return name, f"{name} must be a non-empty string."
    if not isinstance(event.get("data"), dict) or not isinstance(event["data"].get("object"), dict):
        return "data.object", "data.object must be an object."
    return None


@handles("trigger.payment")
def receive_payment_event(request, *, workflow, endpoint, node):
    raw = read_body(request)
    if not isinstance(raw, bytes):
        return raw
    config = node.get("config") or {}
    secret = secret_field(workflow, node, "secret")
    try:
        verify_signature(
            request.headers.get(SIGNATURE_HEADER, ""),
            raw,
            secret,
            tolerance_s=int(config.get("tolerance_s", DEFAULT_TOLERANCE_S)),
        )
    except SignatureInvalid as exc:
        return json_error(400, "SIGNATURE_INVALID", str(exc))
    try:
        event = json_input.loads(raw)
    except ValueError as exc:
        return json_error(400, "PARSE_ERROR", f"The body is not valid JSON: {exc}", {"body": [str(exc)]})
    problem = _event_problem(event)
    if problem:
        return json_error(400, "VALIDATION_ERROR", problem[1], {problem[0]: [problem[1]]})
    payload = payment_payload(event)
    reason = filter_reason(config, payload)
    if reason:
        return ignored(reason)
    return start_live_run(
        workflow=workflow, node=node, payload=payload, key=idempotency_key("payment", node["id"], event["id"])
    )
