"""What the HTTP-based adapters (GraphQL, SOAP) share: a guarded requests session per
connection (the engine's outbound address rule on every connection and redirect), the
connection's TLS options (verify, CA bundle, minimum version), and its authentication from
the credential (`token` → Bearer, `api_key` + `api_key_header`, or the URL's user and
password → Basic)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import requests

from workflows.engine import outbound

from .base import ConnectionSettings, Limits
from .security import tls_min_version


def guarded_session(settings: ConnectionSettings, limits: Limits) -> requests.Session:
    session = outbound.new_session(
        allow_private=limits.allow_private, tls_min_version=tls_min_version(settings.tls)
    )
    if not settings.tls.verify:
        session.verify = False
    elif settings.tls.ca_bundle:
        session.verify = ca_file(settings.tls.ca_bundle)
    token = settings.field("token")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    elif settings.field("api_key"):
        session.headers[settings.field("api_key_header", "X-API-Key")] = settings.field("api_key")
    elif settings.username:
        session.auth = (settings.username, settings.password or "")
    return session


def endpoint_without_userinfo(url: str) -> str:
    """The URL to call: credentials travel in headers, never in the URL."""
    parts = requests.utils.urlparse(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def ca_file(pem: str) -> str:
    """Client libraries want a CA bundle file: write each distinct bundle once."""
    path = Path(tempfile.gettempdir()) / f"switchyard-ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
    if not path.exists():
        path.write_text(pem)
    return str(path)
