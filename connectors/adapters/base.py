"""The integration adapter interface: one class per protocol family member, no Django here.

An adapter knows one kind of remote system (PostgreSQL, AMQP, SFTP, …): how to check a
connection's settings, open a connection, which operations it offers (each with a JSON
Schema the builder turns into a form) and how to execute one. Everything around that —
credentials, the address policy, rate limits, pooling, retries, the lifecycle log, data
mapping — is done once, by `lifecycle.run_operation`, for every adapter alike.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.masking import mask_url  # noqa: F401 - `url` with its password as ***

# Credential fields that configure a connection but are not secret (shown, never masked).
PLAIN_FIELDS = frozenset(
    {
        "host",
        "port",
        "database",
        "region",
        "bucket",
        "endpoint_url",
        "tls_verify",
        "tls_min_version",
        "allowed_hosts",
        "rate_limit_per_s",
        "read_only",
        "pool_size",
        "prefix",
        "service",
        "username",
        "user",
        "jetstream",
        "api_key_header",
        "host_key",
        "tls_ca_bundle",
        "wsdl",
        "target",
    }
)


@dataclass(frozen=True)
class Operation:
    """One operation an adapter offers, and the node type that exposes it.

    `config_schema` describes the operation's own config keys (the node adds `credential`
    and the mappings); `payload_key` names the key an input mapping transforms.
    """

    name: str
    node_type: str
    label: str
    description: str
    config_schema: dict[str, Any]
    output_schema: dict[str, Any] = field(default_factory=dict)
    payload_key: str | None = None
    icon: str = "plug"


@dataclass(frozen=True)
class TlsOptions:
    verify: bool = True
    ca_bundle: str | None = None  # PEM text
    min_version: str | None = None  # "1.2" | "1.3"


@dataclass(frozen=True)
class ConnectionSettings:
    """A connection's settings, decrypted from a workspace credential.

    `fingerprint` changes whenever the credential's data does: pooled connections are
    keyed by (credential id, fingerprint), so a rotated credential gets new connections.
    """

    credential_id: str
    credential_name: str
    data: dict[str, str]
    url: str = ""
    scheme: str = ""
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    tls: TlsOptions = field(default_factory=TlsOptions)
    allowed_hosts: tuple[str, ...] = ()
    rate_limit_per_s: float | None = None
    read_only: bool = False
    fingerprint: str = ""
    secrets: tuple[str, ...] = ()

    @cached_property
    def endpoint(self) -> str:
        """Where the connection goes, with any password replaced by `***`."""
        return mask_url(self.url) if self.url else (self.host or "")

    def field(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        return default if value in (None, "") else value


@dataclass(frozen=True)
class Limits:
    """Bounds one operation runs under."""

    timeout_s: float = 30.0
    max_rows: int = 1000
    max_bytes: int = 10 * 1024 * 1024
    allow_private: bool = False


@dataclass
class OperationResult:
    """What an operation produced, plus the counts its metadata reports."""

    data: Any
    rows: int | None = None
    messages: int | None = None
    bytes: int | None = None


class Adapter:
    """Subclass, set the class attributes, implement `connect` and `execute`, decorate
    with `@register_adapter`.

    - `validate_connection_config(settings)` → problems (empty: fine); a problem rejects
      the operation before anything connects.
    - `connect(settings, limits)` → a connection object (pooled by the runner when
      `pooled`); `close(connection)`; `is_healthy(connection)` before reusing an idle one.
    - `execute(connection, operation, params, limits)` → OperationResult, or raise NodeError
      (anything else is mapped by `categorize`).
    """

    id: str = ""
    name: str = ""
    description: str = ""
    family: str = ""  # node-type prefix: db, mq, file, soap, graphql, grpc, http
    protocols: tuple[str, ...] = ()  # URL schemes this adapter serves
    default_port: int | None = None
    pooled: bool = True
    operations: tuple[Operation, ...] = ()

    def validate_connection_config(self, settings: ConnectionSettings) -> list[str]:
        problems = []
        if settings.scheme not in self.protocols:
            problems.append(f"data.url must use one of {', '.join(self.protocols)}")
        if not settings.host:
            problems.append("data.url must name a host")
        return problems

    def connect(self, settings: ConnectionSettings, limits: Limits) -> Any:
        raise NotImplementedError

    def close(self, connection: Any) -> None:
        close = getattr(connection, "close", None)
        if close is not None:
            close()

    def is_healthy(self, connection: Any) -> bool:
        return True

    def available_operations(self) -> list[Operation]:
        return list(self.operations)

    def operation(self, name: str) -> Operation:
        for op in self.operations:
            if op.name == name:
                return op
        raise NodeError(ErrorCategory.VALIDATION_ERROR, f"{self.name} has no operation {name!r}")

    def operation_schema(self, operation: str) -> dict[str, Any]:
        return self.operation(operation).config_schema

    def execute(self, connection: Any, operation: str, params: dict[str, Any], limits: Limits) -> Any:
        raise NotImplementedError

    def categorize(self, exc: BaseException) -> NodeError:
        """A library exception as a NodeError with the seed's categories."""
        return categorize_common(exc)

    def target(self, settings: ConnectionSettings) -> tuple[str, int] | None:
        """The (host, port) the address policy checks; None when the adapter has no host."""
        if not settings.host:
            return None
        return settings.host, settings.port or self.default_port or 0


def categorize_common(exc: BaseException) -> NodeError:
    """Socket-level failures every adapter shares; the rest is INTEGRATION_ERROR."""
    if isinstance(exc, NodeError):
        return exc
    if isinstance(exc, TimeoutError):
        return NodeError(ErrorCategory.TIMEOUT_ERROR, f"timed out: {exc}" if str(exc) else "timed out")
    if isinstance(exc, ConnectionRefusedError | ConnectionResetError | BrokenPipeError):
        return NodeError(ErrorCategory.CONNECTION_ERROR, f"connection failed: {exc}")
    if isinstance(exc, OSError) and exc.errno is not None:
        return NodeError(ErrorCategory.CONNECTION_ERROR, f"connection failed: {exc}")
    return NodeError(ErrorCategory.INTEGRATION_ERROR, f"{type(exc).__name__}: {exc}", retryable=False)


# ------------------------------------------------------------------ settings from a credential


def _flag(value: str | None, default: bool) -> bool:
    if value in (None, ""):
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def settings_from(*, credential_id: str, credential_name: str, data: dict[str, Any]) -> ConnectionSettings:
    """Parse a credential's data (`url` plus optional fields) into ConnectionSettings.

    Secret values (the URL, its password, and every field not in PLAIN_FIELDS) are listed
    in `secrets` so everything logged or stored can be masked.
    """
    data = {str(k): str(v) for k, v in (data or {}).items() if v not in (None, "")}
    url = data.get("url") or data.get("wsdl") or data.get("target") or ""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"credential {credential_name!r}: data.url is not a valid URL",
            retryable=False,
        ) from None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    # The URL's password, not the whole URL: its scheme and host are not secret, and the
    # run masks any long prefix of a secret wherever it appears.
    secrets = [v for k, v in data.items() if k not in PLAIN_FIELDS and k != "url"]
    if parts.password:
        secrets += [parts.password, password]
    rate = data.get("rate_limit_per_s")
    try:
        rate_value = float(rate) if rate else None
    except ValueError:
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"credential {credential_name!r}: data.rate_limit_per_s must be a number",
            retryable=False,
        ) from None
    tls = TlsOptions(
        verify=_flag(data.get("tls_verify"), True),
        ca_bundle=data.get("tls_ca_bundle"),
        min_version=data.get("tls_min_version"),
    )
    allowed = tuple(h.strip().lower() for h in data.get("allowed_hosts", "").split(",") if h.strip())
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return ConnectionSettings(
        credential_id=str(credential_id),
        credential_name=credential_name,
        data=data,
        url=url,
        scheme=parts.scheme.lower(),
        host=data.get("host") or parts.hostname,
        port=int(data["port"]) if data.get("port", "").isdigit() else port,
        username=urllib.parse.unquote(parts.username) if parts.username else data.get("username"),
        password=password if password is not None else data.get("password"),
        path=parts.path,
        query=dict(urllib.parse.parse_qsl(parts.query)),
        tls=tls,
        allowed_hosts=allowed,
        rate_limit_per_s=rate_value if rate_value and rate_value > 0 else None,
        read_only=_flag(data.get("read_only"), False),
        fingerprint=digest,
        secrets=tuple(s for s in secrets if s),
    )
