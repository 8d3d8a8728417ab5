"""Callbacks: correlation tokens that let the outside world resume one waiting node.

A token is 256 random bits (URL-safe), bound to its run, node and iteration, with an
optional expiry, node context and HMAC secret. Every request that reaches a known token is
stored as a `CallbackReceipt` (time, payload, headers with secrets masked) and listed in
the run detail. A callback that arrives before its node is parked (the remote answered
while our execute call was still in flight) is kept on the token and consumed when the node
parks: the worker checks for deliveries after parking (`runs.runner`). Its payload counts as
consumed once the node's resume with it is stored (`runs.store`); until then a node re-run
after a takeover gets the same token back, already delivered (`create_callback`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workflows import fencing
from workflows.engine import iterations, masking

from .models import (
    CallbackOutcome,
    CallbackReceipt,
    CorrelationKind,
    CorrelationToken,
    NodeExecution,
)

SIGNATURE_HEADER = "X-Switchyard-Signature"
CALLBACK_PATH = "/api/v1/callbacks/"
DEFAULT_BASE = "http://127.0.0.1:8000"


class CallbackGone(Exception):
    """The token expired or was already used (410)."""


class CallbackRefused(Exception):
    """The signature is missing or wrong (401)."""


def public_base(request=None) -> str:
    """Where callbacks reach us: PUBLIC_BASE_URL, else the request's own origin, else the
    address `serve` listens on, else the default address."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return settings.SERVE_BASE_URL or DEFAULT_BASE


def callback_url(token: str, request=None) -> str:
    return f"{public_base(request)}{CALLBACK_PATH}{token}"


@transaction.atomic
def create_callback(
    *,
    run_id: str,
    node_id: str,
    iteration: int | None,
    expires_in_s: float | None,
    context: dict[str, Any] | None = None,
    signing_secret: str = "",
    outer: tuple[int, ...] | list[int] = (),
) -> dict[str, Any]:
    """Register a token for the node instance (`iteration`, and `outer`: the enclosing
    loops' indices in a nested loop's body); returns {"token", "url", "expires_at",
    "signed", "delivered"}. Nothing is stored by a run's holder that lost its lease
    (`LeaseLost`).

    Idempotent per node instance: while the instance's latest token is neither used nor
    expired, it is returned again (with the same signing secret), so a node re-run after a
    takeover waits on the URL its first attempt may already have handed out. If that token
    was already called but its payload not yet consumed (the callback came before the
    first attempt's wait was stored, and then the run was taken over), it is returned with
    `delivered` true: the node waits on it and is resumed with that payload at once, and
    need not send its URL again. A consumed token (a retry after the callback came) or an
    expired one gets a new token."""
    fencing.check()
    now = timezone.now()
    instance = {
        "node_id": node_id,
        "iteration": iteration,
        "outer_iterations": iterations.encode_outer(outer),
    }
    latest = (
        CorrelationToken.objects.filter(run_id=run_id, kind=CorrelationKind.CALLBACK, **instance)
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is not None and latest.signing_secret == (signing_secret or ""):
        if latest.used_at is not None and latest.consumed_at is None:
            return _registered(latest.token, latest.expires_at, signing_secret, delivered=True)
        if latest.used_at is None and (latest.expires_at is None or latest.expires_at > now):
            return _registered(latest.token, latest.expires_at, signing_secret)
    token = pysecrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=expires_in_s) if expires_in_s else None
    CorrelationToken.objects.create(
        token=token,
        kind=CorrelationKind.CALLBACK,
        run_id=run_id,
        **instance,
        expires_at=expires_at,
        context=context or {},
        signing_secret=signing_secret or "",
    )
    return _registered(token, expires_at, signing_secret)


def _registered(token: str, expires_at, signing_secret: str, delivered: bool = False) -> dict[str, Any]:
    return {
        "token": token,
        "url": callback_url(token),
        "expires_at": expires_at.isoformat() if expires_at else None,
        "signed": bool(signing_secret),
        "delivered": delivered,
    }


def sign(secret: str, body: bytes) -> str:
    """The signature header value a sender computes: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def receive_callback(
    *,
    token: str,
    payload: Any,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    remote_addr: str = "",
) -> CallbackReceipt | dict[str, Any]:
    """Store the callback and resume the node waiting on `token` (now, or when it parks),
    or finish the API provider execution waiting on it (the receipt is then a dict).

    Raises DoesNotExist (unknown token, nothing stored), CallbackGone (expired or already
    used) or CallbackRefused (bad signature); refused requests are stored too."""
    headers = headers or {}
    with transaction.atomic():
        corr = CorrelationToken.objects.select_for_update().filter(token=token).first()
        if corr is None:
            receipt, refusal = _receive_execution_callback(token, payload, body, headers, remote_addr)
        else:
            receipt, refusal = _receive_run_callback(corr, payload, body, headers, remote_addr)
    if refusal is not None:
        raise refusal
    return receipt


def _receive_run_callback(corr, payload, body, headers, remote_addr):
    from .queue import wake_run

    refusal: Exception | None = None
    now = timezone.now()
    if corr.used_at:
        outcome, refusal = CallbackOutcome.DUPLICATE, CallbackGone("already used")
    elif corr.expires_at and corr.expires_at < now:
        outcome, refusal = CallbackOutcome.EXPIRED, CallbackGone("expired")
    elif corr.signing_secret and not _signature_ok(corr.signing_secret, body, headers):
        outcome, refusal = CallbackOutcome.BAD_SIGNATURE, CallbackRefused("bad signature")
    else:
        waiting = NodeExecution.objects.filter(
            run_id=corr.run_id,
            node_id=corr.node_id,
            iteration=corr.iteration,
            outer_iterations=corr.outer_iterations,
            status="waiting",
        ).exists()
        outcome = CallbackOutcome.ACCEPTED if waiting else CallbackOutcome.EARLY
        corr.used_at = now
        corr.payload = payload
        corr.save(update_fields=["used_at", "payload"])
        wake_run(run_id=corr.run_id)
    receipt = CallbackReceipt.objects.create(
        run_id=corr.run_id,
        token=corr,
        node_id=corr.node_id,
        iteration=corr.iteration,
        outer_iterations=corr.outer_iterations,
        outcome=outcome,
        payload=payload,
        headers=masking.mask_headers(headers),
        remote_addr=remote_addr[:64],
    )
    return receipt, refusal


def _receive_execution_callback(token, payload, body, headers, remote_addr):
    """A callback for a provider execution started from the API (its token lives on the
    execution record, not on a run): stored on the record, which it finishes.
    Call inside a transaction."""
    from providers.services import callback_signing_secret, execution_for_callback, record_execution_callback

    record = execution_for_callback(token)
    if record is None:
        raise CorrelationToken.DoesNotExist("unknown callback token")
    now = timezone.now()
    secret = callback_signing_secret(record)
    if record.status in ("succeeded", "failed"):
        outcome, refusal = CallbackOutcome.DUPLICATE, CallbackGone("already used")
    elif record.callback_expires_at and record.callback_expires_at < now:
        outcome, refusal = CallbackOutcome.EXPIRED, CallbackGone("expired")
    elif secret and not _signature_ok(secret, body, headers):
        outcome, refusal = CallbackOutcome.BAD_SIGNATURE, CallbackRefused("bad signature")
    else:
        outcome, refusal = CallbackOutcome.ACCEPTED, None
    receipt = {
        "received_at": now.isoformat(),
        "outcome": str(outcome),
        "payload": payload,
        "headers": masking.mask_headers(headers),
        "remote_addr": remote_addr[:64] or None,
        "signed": bool(secret),
    }
    record_execution_callback(record, outcome=str(outcome), receipt=receipt)
    return receipt, refusal


def _signature_ok(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
    return bool(given) and hmac.compare_digest(given.strip(), sign(secret, body))


def receipts_of(run, request=None) -> list[dict[str, Any]]:
    """The run's callbacks for the run detail, oldest first."""
    rows = CallbackReceipt.objects.filter(run=run).select_related("token").order_by("id")
    return [
        {
            "node_id": r.node_id,
            "iteration": r.iteration,
            "iteration_path": r.iteration_path,
            "received_at": r.received_at.isoformat(),
            "outcome": r.outcome,
            "payload": r.payload,
            "headers": r.headers,
            "remote_addr": r.remote_addr or None,
            "context": r.token.context or {},
            "signed": bool(r.token.signing_secret),
        }
        for r in rows
    ]
