"""Policies every adapter gets: the outbound address rule, a host allowlist, TLS options and
per-connection rate limits.

The address rule is the engine's (`outbound.resolve_checked`): unless ALLOW_PRIVATE_OUTBOUND
is on, a host resolving to a loopback, private, link-local or otherwise non-public address
is refused with CONNECTION_ERROR. Client libraries then connect by the checked address
where they allow it (`checked_address`), so a second DNS answer cannot swap the target.
"""

from __future__ import annotations

import fnmatch
import socket
import ssl
import threading
import time

from workflows.engine import outbound
from workflows.engine.errors import ErrorCategory, NodeError

from .base import ConnectionSettings, TlsOptions

_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def check_host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> None:
    """With an allowlist (`data.allowed_hosts`, comma-separated, `*.example.com` patterns),
    refuse any other host."""
    if not allowed_hosts:
        return
    name = host.strip("[]").lower()
    if not any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed_hosts):
        raise NodeError(
            ErrorCategory.CONNECTION_ERROR,
            f"host {name!r} is not in this connection's allowed_hosts",
            {"host": name, "allowed_hosts": list(allowed_hosts)},
            retryable=False,
        )


def checked_address(host: str, port: int, *, allow_private: bool, allowed_hosts: tuple[str, ...] = ()) -> str:
    """Apply the allowlist and the address rule to host:port; the first checked IP address."""
    check_host_allowed(host, allowed_hosts)
    try:
        infos = outbound.resolve_checked(host, port, allow_private=allow_private)
    except socket.gaierror as exc:
        raise NodeError(ErrorCategory.CONNECTION_ERROR, f"could not resolve {host}: {exc}") from None
    return str(infos[0][4][0])


def socket_to(address: str, port: int, timeout_s: float) -> socket.socket:
    """A TCP connection to an address `checked_address` returned (for clients that take a
    connected socket and keep the host name for TLS)."""
    sock = socket.create_connection((address, port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def pin_urllib3(pool_manager, host: str, address: str) -> None:
    """Make a urllib3 PoolManager (boto3's) connect to `address` whenever it talks to `host`:
    urllib3 resolves `_dns_host` and keeps `host` for the Host header, SNI and the
    certificate, so the request is the same, only the DNS lookup is the one we checked."""
    name = host.strip("[]").lower()

    def pinned(connection_cls):
        def __init__(self, *args, **kwargs):
            connection_cls.__init__(self, *args, **kwargs)
            if str(self.host).strip("[]").lower() == name:
                self._dns_host = address

        return type(f"Pinned{connection_cls.__name__}", (connection_cls,), {"__init__": __init__})

    pool_manager.pool_classes_by_scheme = {
        scheme: type(f"Pinned{cls.__name__}", (cls,), {"ConnectionCls": pinned(cls.ConnectionCls)})
        for scheme, cls in pool_manager.pool_classes_by_scheme.items()
    }


def tls_min_version(tls: TlsOptions) -> ssl.TLSVersion | None:
    """The connection's minimum TLS version (None: the library's default)."""
    if not tls.min_version:
        return None
    if tls.min_version not in _TLS_VERSIONS:
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"tls_min_version must be one of {', '.join(_TLS_VERSIONS)}",
            retryable=False,
        )
    return _TLS_VERSIONS[tls.min_version]


def tls_context(tls: TlsOptions) -> ssl.SSLContext:
    """An SSLContext for the connection's TLS options (verify, CA bundle, minimum version)."""
    context = (
        ssl.create_default_context(cadata=tls.ca_bundle) if tls.ca_bundle else ssl.create_default_context()
    )
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    minimum = tls_min_version(tls)
    if minimum is not None:
        context.minimum_version = minimum
    return context


class RateLimiter:
    """Token buckets per connection (credential id): `rate` operations per second, bursts of
    up to one second's worth. A caller waits for a token while its deadline allows, else gets
    RATE_LIMIT_ERROR (retryable, with the wait it would have needed)."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def acquire(self, settings: ConnectionSettings, *, wait_up_to_s: float) -> None:
        rate = settings.rate_limit_per_s
        if not rate:
            return
        key = settings.credential_id
        while True:
            with self._lock:
                now = time.monotonic()
                tokens, last = self._buckets.get(key, (max(1.0, rate), now))
                tokens = min(max(1.0, rate), tokens + (now - last) * rate)
                if tokens >= 1.0:
                    self._buckets[key] = (tokens - 1.0, now)
                    return
                self._buckets[key] = (tokens, now)
                needed = (1.0 - tokens) / rate
            if needed > wait_up_to_s:
                raise NodeError(
                    ErrorCategory.RATE_LIMIT_ERROR,
                    f"connection {settings.credential_name!r} is limited to {rate:g} operations/s",
                    {"rate_limit_per_s": rate, "retry_after_s": round(needed, 3)},
                    retry_after_s=needed,
                )
            time.sleep(needed)
            wait_up_to_s -= needed


rate_limiter = RateLimiter()
