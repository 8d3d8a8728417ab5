"""Starting the live run of an intake. Every 2xx an intake answers means the run row is
committed (start_run is atomic and returns after its transaction), or that the event was
deliberately filtered out, which the body says as `{"ignored": "<reason>"}`."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import JsonResponse

from .. import services
from .body import json_error


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
