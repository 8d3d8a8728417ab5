"""What is stored of a payload: secrets masked, NUL characters shown as U+FFFD (PostgreSQL
stores none), size capped with a visible marker."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from workflows.engine.masking import without_nul
from workflows.engine.outbound import mask_secrets

TRUNCATION_MARKER = "_switchyard_truncated"


def for_storage(value: Any, secrets: list[str] | None = None, limit: int | None = None) -> Any:
    """Mask secrets, then cap the JSON size. Over the cap the stored value becomes a marker
    object with a text preview; the full value still flows to the next node in memory."""
    value = mask_secrets(value, secrets)
    limit = settings.MAX_STORED_PAYLOAD_BYTES if limit is None else limit
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, default=str, separators=(",", ":"))
    if "\\u0000" in text:  # PostgreSQL stores no NUL in text or jsonb: shown as U+FFFD
        value = without_nul(value)
        text = json.dumps(value, default=str, separators=(",", ":"))
    if len(text) <= limit:
        return value
    return {
        TRUNCATION_MARKER: True,
        "message": f"Payload of {len(text)} bytes truncated to {limit} bytes for storage.",
        "size_bytes": len(text),
        "preview": text[: max(0, limit - 200)],
    }
