"""Secret masking: every stored or returned form of a credential becomes `***`.

A secret reaches text in more shapes than its own spelling: inside a Basic-auth header
(base64 of `user:password`), in a query string or form body (URL-encoded), inside a JSON
string (escaped), and cut short by whatever truncated an error text. `Masker` knows all
the forms we ourselves produce and hides each of them:

- the plain text, its URL-encodings (`quote`, `quote_plus`), its JSON-escaped spellings
  (once and twice escaped) and its HTML-escaped spelling;
- base64 (standard and URL-safe): the characters that depend only on the secret, at each
  of the three byte alignments it can have inside a longer encoded value (so the secret
  is hidden inside `base64("user:" + secret)` too), when that core is 6+ characters;
- any prefix of 8+ characters of a form, so text truncated before it was masked does not
  leak a long secret's beginning.

Header values whose name says they carry credentials (`mask_headers`) are replaced whole,
and so are a URL's userinfo password and credential-named query parameters (`mask_url`:
`https://user:***@host/x?api_key=***`).
Pure Python, no Django: the engine, the connector executor and the host share it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"
MIN_SECRET = 3  # shorter strings are not masked (they would blank unrelated text)
MIN_ENCODED_CORE = 6  # shorter base64 fragments are too likely to occur by chance
PREFIX = 8  # a prefix this long (or longer) of a form is masked wherever it appears

# Header names (lower case) whose values are credentials, whatever they contain.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrftoken",
        "x-csrf-token",
        "x-amz-security-token",
    }
)
# Anywhere in the name: `X-Webhook-Token`, `access_token`, `sessionid`, `X-Hub-Signature-256`.
_SENSITIVE_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "api-key",
    "api_key",
    "apikey",
    "session",
    "signature",
    "cookie",
    "credential",
)
# As a whole word of the name (split at `-`, `_`, `.`): `X-Auth`, `X-Amz-Sig`, but not
# `author`.
_SENSITIVE_PARTS = frozenset({"auth", "authorization", "sig", "jwt", "bearer", "pass", "pwd"})
# `key` alone, or after one of these words: `X-Access-Key`, `Ocp-Apim-Subscription-Key`,
# `client_key`; not `Idempotency-Key` or `X-Cache-Key`.
_KEY_KINDS = frozenset(
    {"api", "access", "private", "secret", "auth", "client", "app", "master", "subscription", "license"}
)
_PARTS = re.compile(r"[-_.\s]+")


def is_sensitive_header(name: Any) -> bool:
    """True for a header (or query parameter) name that says its value is a credential."""
    lowered = str(name).strip().lower()
    if lowered in SENSITIVE_HEADERS or any(word in lowered for word in _SENSITIVE_WORDS):
        return True
    parts = [p for p in _PARTS.split(lowered) if p]
    if any(part in _SENSITIVE_PARTS for part in parts):
        return True
    return parts == ["key"] or any(
        part == "key" and i and parts[i - 1] in _KEY_KINDS for i, part in enumerate(parts)
    )


def mask_headers(headers: Mapping[str, Any] | None, extra: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of `headers` with every credential-carrying value (by name, or a name in
    `extra`) replaced by `***`."""
    names = {n.lower() for n in extra}
    return {
        k: (MASK if is_sensitive_header(k) or str(k).lower() in names else v)
        for k, v in (headers or {}).items()
    }


# `scheme://user:password@`: the password runs to the authority's last `@` (no `/?#`).
_USERINFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)([^/?#\s]*)(?=@)")


def url_password(url: Any) -> str | None:
    """The password written into `url`'s userinfo, as written (percent-encoded or not);
    None when it has none."""
    found = _USERINFO.match(url) if isinstance(url, str) else None
    return found.group(2) if found else None


def with_url_password(url: str, password: str) -> str:
    """`url` with the password of its userinfo replaced by `password` (as it is)."""
    return _USERINFO.sub(lambda m: m.group(1) + password, url, count=1)


def url_query_secrets(url: Any) -> list[tuple[str, int, int]]:
    """(name, start, end) of the value of each credential-named parameter written into
    `url`'s query string (`?api_key=...`), as written, in order."""
    start = url.find("?") if isinstance(url, str) else -1
    if start < 0:
        return []
    end = url.find("#", start)
    end = len(url) if end < 0 else end
    found, pos = [], start + 1
    for part in url[start + 1 : end].split("&"):
        name, eq, _value = part.partition("=")
        if eq and is_sensitive_header(unquote_plus(name)):
            found.append((unquote_plus(name), pos + len(name) + 1, pos + len(part)))
        pos += len(part) + 1
    return found


def url_query_value(url: Any, name: str, n: int) -> str | None:
    """The value (as written) of the `n`th parameter called `name` of `url`'s query string,
    when it is named like a credential; else None."""
    spans = [(s, e) for key, s, e in url_query_secrets(url) if key == name]
    return url[spans[n][0] : spans[n][1]] if n < len(spans) else None


def with_url_query_value(url: str, name: str, n: int, value: str) -> str:
    """`url` with the `n`th credential-named parameter called `name` set to `value` (as it is)."""
    spans = [(s, e) for key, s, e in url_query_secrets(url) if key == name]
    if n >= len(spans):
        return url
    start, end = spans[n]
    return url[:start] + value + url[end:]


def mask_url(url: Any) -> Any:
    """`url` with the password of its userinfo and the values of its credential-named query
    parameters (those not empty) as `***`."""
    if url_password(url):
        url = with_url_password(url, MASK)
    for _name, start, end in reversed(url_query_secrets(url)):
        if end > start:
            url = url[:start] + MASK + url[end:]
    return url


def url_secrets(url: Any) -> list[str]:
    """The password in `url`'s userinfo as written and decoded (what goes on the wire in a
    Basic header), to mask them wherever they could be stored or logged."""
    return password_texts(url_password(url))


def password_texts(text: str | None) -> list[str]:
    """A secret written into a URL as written and percent-decoded (none for no text)."""
    return list(dict.fromkeys([text, unquote(text), unquote_plus(text)])) if text else []


def secret_values(value: Any, out: list[str] | None = None) -> list[str]:
    """Every string inside resolved credentials (nested objects and lists included), to be
    masked wherever it could be stored or logged. Numbers such as ports are left alone:
    masking them would blank unrelated digits everywhere."""
    out = [] if out is None else out
    if isinstance(value, dict):
        for item in value.values():
            secret_values(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            secret_values(item, out)
    elif isinstance(value, str):
        out.append(value)
    return out


def _base64_cores(data: bytes, encode) -> set[str]:
    """The base64 characters fixed by `data` alone at each byte offset (0, 1, 2) it may
    have inside a longer encoded value."""
    cores = set()
    for offset in range(3):
        encoded = encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        start = -(-8 * offset // 6)  # the first character with no bits of the padding
        end = 8 * (offset + len(data)) // 6  # the last character with only the secret's bits
        core = encoded[start:end]
        if len(core) >= MIN_ENCODED_CORE:
            cores.add(core)
    return cores


def secret_forms(secret: str) -> set[str]:
    """The plain, URL-encoded, JSON-escaped, HTML-escaped and base64 forms of `secret`."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), html.escape(secret)}
    for ascii_only in (True, False):
        once = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms |= {once, json.dumps(once, ensure_ascii=ascii_only)[1:-1]}
    data = secret.encode("utf-8")
    forms |= _base64_cores(data, base64.b64encode) | _base64_cores(data, base64.urlsafe_b64encode)
    return {f for f in forms if len(f) >= MIN_SECRET}


class Masker:
    """Masks every form of a fixed set of secrets in strings and nested values."""

    def __init__(self, secrets: Iterable[str]):
        by_head: dict[str, set[str]] = {}
        for secret in secrets:
            for form in secret_forms(secret):
                by_head.setdefault(form[:PREFIX], set()).add(form)
        self._forms = {head: sorted(forms, key=len, reverse=True) for head, forms in by_head.items()}
        heads = sorted(by_head, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, heads))) if heads else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        parts, pos = [], 0
        search = self._pattern.search
        while True:
            found = search(value, pos)
            if found is None:
                break
            start = found.start()
            length = self._covered(value, start, found.group())
            if length == 0:  # a head that no form continues here: step past its first char
                parts.append(value[pos : start + 1])
                pos = start + 1
                continue
            parts += [value[pos:start], MASK]
            pos = start + length
        if not parts:
            return value
        parts.append(value[pos:])
        return "".join(parts)

    def _covered(self, value: str, start: int, head: str) -> int:
        """How many characters from `start` are a form or a long enough prefix of one."""
        best = 0
        for form in self._forms[head]:
            if len(form) <= best:
                break
            same = len(head)
            limit = min(len(form), len(value) - start)
            while same < limit and value[start + same] == form[same]:
                same += 1
            if same == len(form) or same >= PREFIX:
                best = max(best, same)
        return best

    def value(self, value: Any) -> Any:
        """`value` with every string inside it (dict keys too) masked."""
        if self._pattern is None:
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {(self.text(k) if isinstance(k, str) else k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._walk(v) for v in value)
        return value


@lru_cache(maxsize=256)
def _masker(needles: frozenset[str]) -> Masker:
    return Masker(needles)


def masker(secrets: Any) -> Masker:
    """The (cached) `Masker` for `secrets`: strings and numbers of 3+ characters."""
    needles = frozenset(
        str(s)
        for s in secrets or ()
        if isinstance(s, str | int | float) and not isinstance(s, bool) and len(str(s)) >= MIN_SECRET
    )
    return _masker(needles)


def mask_secrets(value: Any, secrets: Any) -> Any:
    """Replace each secret (strings of 3+ characters), in every form listed in the module
    docstring, with "***" in every string of `value`, recursively through dicts, lists and
    tuples. Other values pass through unchanged."""
    return masker(secrets).value(value)


def mask_then_cut(text: str, secrets: Any, limit: int, marker: str = "") -> str:
    """Mask, then truncate to `limit` characters (plus `marker` when cut): never the other
    way round, which would leave a cut secret's beginning unmatched."""
    text = masker(secrets).text(text)
    return text if len(text) <= limit else text[:limit] + marker


def without_nul(value: Any) -> Any:
    """`value` with each NUL in its strings and keys shown as U+FFFD: what is stored of a
    payload (PostgreSQL stores no NUL in text or jsonb; every database gets the same)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value
