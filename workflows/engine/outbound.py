"""Outbound HTTP safety for nodes that call the outside world.

- Address policy: unless `ALLOW_PRIVATE_OUTBOUND` is on, a host that resolves to a
  loopback, private, link-local, multicast, reserved, unspecified or otherwise non-global
  address (IPv4 or IPv6, including IPv4 embedded in IPv6) is refused with CONNECTION_ERROR.
- No DNS-rebinding gap: the check runs inside the urllib3 connection, which then connects
  to the very address it checked. The URL's host name still drives the Host header, TLS
  SNI and certificate verification. Every redirect hop opens its connection the same way.
- `fetch` maps requests/urllib3 failures onto SPEC error categories and reads the body
  with a size cap and the attempt's deadline.
- `mask_secrets` (from `masking`) hides credentials in anything logged or returned.
"""

from __future__ import annotations

import functools
import http.cookiejar
import ipaddress
import logging
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import connection as urllib3_connection

from .errors import ErrorCategory, NodeError
from .masking import MASK, mask_secrets, mask_url, secret_values  # noqa: F401 - used by callers of this module

USER_AGENT = "Switchyard"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class _NoQueryStrings(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string (API keys) included: keep
    only the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "?" in a for a in record.args):
            record.args = tuple(
                a.split("?", 1)[0] + "?***" if isinstance(a, str) and "?" in a else a for a in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_NoQueryStrings())


# ------------------------------------------------------------------------ address policy


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` may not be reached without ALLOW_PRIVATE_OUTBOUND (None: it is public)."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 smuggled inside IPv6 is judged as the IPv4 address it reaches.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded)
    for attribute, reason in (
        ("is_unspecified", "unspecified address"),
        ("is_loopback", "loopback address"),
        ("is_link_local", "link-local address"),
        ("is_multicast", "multicast address"),
        ("is_reserved", "reserved address"),  # before private: Python counts 240/4 as both
        ("is_private", "private address"),
    ):
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "non-public address"
    return None


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[tuple]:
    """Resolve `host` and return its getaddrinfo entries, refusing forbidden addresses.

    Any refused address fails the whole name (a name mixing public and private answers
    is suspicious). Raises socket.gaierror when the name does not resolve.
    """
    host = host.strip("[]")
    infos = socket.getaddrinfo(host, port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM)
    if not allow_private:
        for info in infos:
            address = str(info[4][0])
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope id
            reason = address_problem(ip)
            if reason:
                raise refused(host, address, reason)
    return infos


def refused(host: str, address: str, reason: str) -> NodeError:
    """The CONNECTION_ERROR for a refused address, saying why and how to allow it."""
    what = f"{address} ({reason})" if host == address else f"{host} ({address}, {reason})"
    return NodeError(
        ErrorCategory.CONNECTION_ERROR,
        f"refused to connect to {what}; set ALLOW_PRIVATE_OUTBOUND=true to allow",
        {"host": host, "address": address, "reason": reason},
        retryable=False,  # the same name will be refused again
    )


# ---------------------------------------------------------- guarded urllib3 / requests


class _GuardedConnectionMixin:
    """Resolve, check, then connect to the checked address itself."""

    allow_private = False  # set per policy by `_pool_classes`

    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # the URL's host; `self.host` keeps it for Host/SNI/cert checks
        try:
            infos = resolve_checked(host, self.port, allow_private=self.allow_private)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for info in infos:
            try:
                sock = urllib3_connection.create_connection(
                    (str(info[4][0]), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


@functools.cache
def _pool_classes(allow_private: bool) -> dict[str, type]:
    """urllib3 pool classes whose connections apply the given address policy."""
    http_conn = type("GuardedHTTPConnection", (GuardedHTTPConnection,), {"allow_private": allow_private})
    https_conn = type("GuardedHTTPSConnection", (GuardedHTTPSConnection,), {"allow_private": allow_private})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections enforce the outbound address policy."""

    def __init__(
        self, allow_private: bool = False, *, tls_min_version: ssl.TLSVersion | None = None, **kwargs: Any
    ):
        self.allow_private = allow_private  # before super(): it builds the pool manager
        self.tls_min_version = tls_min_version
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self.tls_min_version is not None:
            kwargs["ssl_minimum_version"] = self.tls_min_version
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow_private)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through a proxy we would only check the proxy's address, never the target's.
        raise NodeError(ErrorCategory.CONNECTION_ERROR, "outbound proxies are not supported", retryable=False)


def new_session(*, allow_private: bool, tls_min_version: ssl.TLSVersion | None = None) -> requests.Session:
    """A requests.Session enforcing the policy; no env proxies/.netrc, no cookie memory.
    With `tls_min_version`, HTTPS refuses servers that only offer older TLS versions."""
    session = requests.Session()
    session.trust_env = False  # env proxies would bypass the check, .netrc would leak creds
    # A pooled session is shared by unrelated runs: never carry cookies between them.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.max_redirects = 10
    session.headers["User-Agent"] = USER_AGENT
    adapter = GuardedAdapter(allow_private=allow_private, tls_min_version=tls_min_version)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_local = threading.local()


def session_for(*, allow_private: bool) -> requests.Session:
    """This thread's pooled guarded session for the given policy."""
    sessions = _local.__dict__.setdefault("sessions", {})
    if allow_private not in sessions:
        sessions[allow_private] = new_session(allow_private=allow_private)
    return sessions[allow_private]


def is_guarded(session: requests.Session, url: str) -> bool:
    """True when `session` would send `url` through a GuardedAdapter."""
    try:
        return isinstance(session.get_adapter(url), GuardedAdapter)
    except requests.exceptions.InvalidSchema:
        return False


def check_url_host(url: str, *, allow_private: bool) -> None:
    """Preflight check for sessions that are not guarded (leaves a rebinding gap; prefer a
    guarded session). Raises NodeError when the host is refused or does not resolve."""
    parts = requests.utils.urlparse(url)
    if not parts.hostname:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"invalid URL {mask_url(url)!r}: no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        resolve_checked(parts.hostname, port, allow_private=allow_private)
    except socket.gaierror as exc:
        raise NodeError(
            ErrorCategory.CONNECTION_ERROR, f"could not resolve {parts.hostname}: {exc}"
        ) from None


# ------------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class Fetched:
    """A fully read response."""

    status: int
    headers: dict[str, str]  # lower-case names
    content: bytes
    url: str
    elapsed_s: float


def fetch(
    session: requests.Session, method: str, url: str, *, timeout_s: float, max_bytes: int, **kwargs: Any
) -> Fetched:
    """Send one request and read the body, mapping every failure onto a NodeError.

    `timeout_s` bounds the connect, each read, and the whole body download; a body larger
    than `max_bytes` fails. `kwargs` go to `session.request` (params, headers, data, auth).
    """
    started = time.monotonic()
    if timeout_s <= 0:
        raise NodeError(ErrorCategory.TIMEOUT_ERROR, "no time left for the request", {"timeout_ms": 0})
    limit = f"{timeout_s:g} s"
    try:
        response = session.request(
            method, url, timeout=(timeout_s, timeout_s), stream=True, allow_redirects=True, **kwargs
        )
    except requests.exceptions.ConnectTimeout:
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR,
            f"connecting timed out after {limit}",
            {"timeout_ms": int(timeout_s * 1000)},
        ) from None
    except requests.exceptions.ReadTimeout:
        raise NodeError(
            ErrorCategory.TIMEOUT_ERROR, f"no response within {limit}", {"timeout_ms": int(timeout_s * 1000)}
        ) from None
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
        requests.exceptions.URLRequired,
    ) as exc:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"invalid request: {_short_reason(exc)}") from None
    except requests.exceptions.TooManyRedirects:
        raise NodeError(ErrorCategory.HTTP_ERROR, f"more than {session.max_redirects} redirects") from None
    except requests.exceptions.ContentDecodingError as exc:
        raise NodeError(
            ErrorCategory.PARSE_ERROR, f"cannot decode the response: {_short_reason(exc)}"
        ) from None
    except requests.exceptions.RequestException as exc:  # connection refused, DNS, TLS, resets
        refused_tls = tls_failure(exc)
        if refused_tls is not None:
            raise refused_tls from None
        raise NodeError(ErrorCategory.CONNECTION_ERROR, f"request failed: {_short_reason(exc)}") from None
    with response:
        content = read_capped(response, max_bytes, deadline=started + timeout_s, limit=limit)
        return Fetched(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            content=content,
            url=response.url,
            elapsed_s=time.monotonic() - started,
        )


def read_capped(
    response: requests.Response, max_bytes: int, *, deadline: float | None = None, limit: str = ""
) -> bytes:
    """Read a streamed response body, failing past `max_bytes` (decoded) or the deadline."""
    too_big = NodeError(
        ErrorCategory.HTTP_ERROR,
        f"response body is larger than the {max_bytes}-byte limit",
        {"status": response.status_code, "max_bytes": max_bytes},
        retryable=False,
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    body = bytearray()
    raw = response.raw
    try:
        while True:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NodeError(ErrorCategory.TIMEOUT_ERROR, f"response not read within {limit}")
                # Each socket read may wait only for what is left of the whole budget, so a
                # trickling body cannot stretch the attempt. urllib3 resets the socket
                # timeout when it reuses the connection.
                sock = getattr(getattr(raw, "connection", None), "sock", None)
                if sock is not None:
                    sock.settimeout(remaining)
            # read1: return what has arrived instead of blocking until 64 KiB are in.
            chunk = (
                raw.read1(64 * 1024, decode_content=True) if hasattr(raw, "read1") else raw.read(64 * 1024)
            )
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise too_big
    except ReadTimeoutError:
        raise NodeError(ErrorCategory.TIMEOUT_ERROR, f"response stalled for more than {limit}") from None
    except DecodeError as exc:
        raise NodeError(ErrorCategory.PARSE_ERROR, f"cannot decode the response body: {exc}") from None
    except (ProtocolError, SSLError, OSError) as exc:
        raise NodeError(ErrorCategory.CONNECTION_ERROR, f"connection broken while reading: {exc}") from None
    return bytes(body)


# TLS failures no retry can fix: the certificate, or no TLS version both sides accept.
_TLS_FINAL_REASONS = frozenset(
    {
        "CERTIFICATE_VERIFY_FAILED",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "UNSUPPORTED_PROTOCOL",
        "NO_PROTOCOLS_AVAILABLE",
        "WRONG_VERSION_NUMBER",
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
    }
)
_VERSION_REASONS = frozenset(
    {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"}
)


def _ssl_error_in(exc: BaseException) -> ssl.SSLError | None:
    """The ssl.SSLError behind a client library's wrapping (causes, contexts, args, reasons)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return None


def tls_error(reason: str, detail: str = "") -> NodeError:
    """CONNECTION_ERROR for a refused TLS handshake, saying what to change; `reason` is
    OpenSSL's (CERTIFICATE_VERIFY_FAILED, TLSV1_ALERT_PROTOCOL_VERSION, ...)."""
    reason = reason or "HANDSHAKE_FAILED"
    if reason == "CERTIFICATE_VERIFY_FAILED":
        hint = "the server's certificate is not trusted: set tls_ca_bundle to its CA (or tls_verify false)"
    elif reason in _VERSION_REASONS:
        hint = "no TLS version both sides accept: the server does not offer tls_min_version"
    else:
        hint = "the TLS handshake failed"
    message = f"TLS refused ({reason}): {hint}" + (f" [{detail}]" if detail else "")
    return NodeError(
        ErrorCategory.CONNECTION_ERROR,
        message,
        {"tls": reason},
        retryable=False if reason in _TLS_FINAL_REASONS else None,
    )


def tls_failure(exc: BaseException) -> NodeError | None:
    """A NodeError for a failed TLS handshake anywhere in `exc`'s chain, else None."""
    found = _ssl_error_in(exc)
    if found is None:
        return None
    if isinstance(found, ssl.SSLCertVerificationError):
        return tls_error("CERTIFICATE_VERIFY_FAILED", found.verify_message or "")
    return tls_error(str(found.reason or ""), "")


def _short_reason(exc: BaseException) -> str:
    """The innermost cause, without urllib3's pool/URL wrapper text (which may carry secrets)."""
    reason: Any = exc
    for _ in range(5):  # requests error -> MaxRetryError -> the underlying urllib3 error
        inner = reason.args[0] if reason.args else None
        inner = getattr(inner, "reason", inner)
        if not isinstance(inner, BaseException):
            break
        reason = inner
    if isinstance(reason, NewConnectionError):
        # "<conn object>: Failed to establish a new connection: [Errno 111] ..."
        return str(reason).split(": ", 1)[-1]
    return str(reason)
