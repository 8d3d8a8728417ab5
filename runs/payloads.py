"""What is stored of a payload: secrets masked, NUL characters shown as U+FFFD (PostgreSQL
stores none), size capped with a visible marker."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.conf import settings

from workflows.engine.masking import without_nul
from workflows.engine.outbound import mask_secrets

TRUNCATION_MARKER = "_switchyard_truncated"


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON of `value`, other types as `str()` (datetimes in ISO 8601, UUIDs as
    text). orjson writes it several times faster than the standard library, and encoding was
    the largest single cost of storing a run's payloads; what orjson refuses (an integer over
    64 bits, a string holding a lone surrogate, nesting deeper than it goes) is written by
    `json` as before."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, default=str, separators=(",", ":")).encode()


def dumps(value: Any) -> str:
    """`encode` as text."""
    return encode(value).decode()


def for_storage(value: Any, secrets: list[str] | None = None, limit: int | None = None) -> Any:
    """Mask secrets, then cap the JSON size. Over the cap the stored value becomes a marker
    object with a text preview; the full value still flows to the next node in memory."""
    value = mask_secrets(value, secrets)
    limit = settings.MAX_STORED_PAYLOAD_BYTES if limit is None else limit
    if value is None or isinstance(value, bool | int | float):
        return value
    data = encode(value)
    if b"\\u0000" in data:  # PostgreSQL stores no NUL in text or jsonb: shown as U+FFFD
        value = without_nul(value)
        data = encode(value)
    if len(data) <= limit:
        return value
    return {
        TRUNCATION_MARKER: True,
        "message": f"Payload of {len(data)} bytes truncated to {limit} bytes for storage.",
        "size_bytes": len(data),
        "preview": data[: max(0, limit - 200)].decode(errors="ignore"),  # no half character
    }
