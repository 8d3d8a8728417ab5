"""Shared-secret checks for HTTP intakes: a header carrying a token, or an HMAC-SHA256
signature of the raw body; both compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def header_token_matches(request, header: str, expected: str) -> bool:
    given = request.headers.get(header, "")
    return hmac.compare_digest(given.encode(), expected.encode())


def hmac_sha256_matches(request, header: str, secret: str, raw: bytes) -> bool:
    """`header` carries the hex HMAC-SHA256 of `raw` keyed by `secret` (`sha256=` prefix optional)."""
    given = request.headers.get(header, "")
    given = given.split("=", 1)[1] if given.lower().startswith("sha256=") else given
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())
