"""What is stored of a payload: secrets masked, size capped with a visible marker."""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings

TRUNCATION_MARKER = "_switchyard_truncated"


def _mask(value: Any, secrets: list[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    return value


def secret_strings(secrets: dict) -> list[str]:
    """Every secret value worth masking (longest first, so overlaps mask fully)."""
    found: list[str] = []

    def walk(v):
        if isinstance(v, str) and len(v) >= 3:
            found.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(secrets)
    return sorted(set(found), key=len, reverse=True)


def for_storage(value: Any, secrets: list[str] | None = None, limit: int | None = None) -> Any:
    """Mask secrets, then cap the JSON size. Over the cap the stored value becomes a marker
    object with a text preview; the full value still flows to the next node in memory."""
    value = _mask(value, secrets or [])
    limit = settings.MAX_STORED_PAYLOAD_BYTES if limit is None else limit
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, default=str, separators=(",", ":"))
    if len(text) <= limit:
        return value if not isinstance(value, str) else value
    return {
        TRUNCATION_MARKER: True,
        "message": f"Payload of {len(text)} bytes truncated to {limit} bytes for storage.",
        "size_bytes": len(text),
        "preview": text[: max(0, limit - 200)],
    }
