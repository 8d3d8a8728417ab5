"""gRPC unary calls through grpcio, described by the server's reflection service: no stubs
to compile. `grpc.call` takes `method` (`package.Service/Method`) and `request` (JSON, in
protobuf's JSON mapping) and outputs `{response}`. A pooled connection keeps the channel and
the descriptors reflection returned. `grpc://` is plaintext, `grpcs://` TLS (CA bundle from
the credential or the system's, `tls_min_version`, `tls_verify`: see `_tls_trust`)."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import grpc
from cryptography import x509
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from workflows.engine import outbound
from workflows.engine.errors import ErrorCategory, NodeError

from .base import Adapter, ConnectionSettings, Limits, Operation, OperationResult, categorize_common
from .registry import register_adapter
from .security import checked_address, socket_to, tls_context

OPERATION = Operation(
    name="call",
    node_type="grpc.call",
    label="gRPC call",
    description="Call a unary gRPC method (described by server reflection); outputs {response}.",
    config_schema={
        "required": ["method"],
        "properties": {
            "method": {
                "type": "string",
                "minLength": 3,
                "title": "Method",
                "description": "package.Service/Method",
            },
            "request": {"type": "object", "title": "Request (JSON)", "default": {}},
            "metadata": {"type": "object", "title": "Metadata", "additionalProperties": {"type": "string"}},
        },
    },
    output_schema={"type": "object", "properties": {"response": {"type": "object"}}},
    payload_key="request",
    icon="grpc",
)
_CATEGORIES = {
    grpc.StatusCode.UNAVAILABLE: ErrorCategory.CONNECTION_ERROR,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCategory.TIMEOUT_ERROR,
    grpc.StatusCode.UNAUTHENTICATED: ErrorCategory.AUTHENTICATION_ERROR,
    grpc.StatusCode.PERMISSION_DENIED: ErrorCategory.AUTHENTICATION_ERROR,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorCategory.RATE_LIMIT_ERROR,
}


class _GrpcConnection:
    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        self.methods: dict[str, tuple[Any, Any]] = {}
        self.lock = threading.Lock()

    def method(self, name: str) -> tuple[Any, Any]:
        """(request class, response class) for `package.Service/Method`, via reflection."""
        with self.lock:
            if name not in self.methods:
                service_name, _, method_name = name.lstrip("/").rpartition("/")
                if not service_name or not method_name:
                    raise NodeError(ErrorCategory.VALIDATION_ERROR, "method must be package.Service/Method")
                try:
                    service = self.pool.FindServiceByName(service_name)
                except KeyError:
                    raise NodeError(
                        ErrorCategory.VALIDATION_ERROR,
                        f"the server does not offer {service_name!r} (by reflection)",
                        retryable=False,
                    ) from None
                method = service.methods_by_name.get(method_name)
                if method is None:
                    raise NodeError(
                        ErrorCategory.VALIDATION_ERROR, f"{service_name} has no method {method_name!r}"
                    )
                if method.client_streaming or method.server_streaming:
                    raise NodeError(
                        ErrorCategory.VALIDATION_ERROR, f"{name} is a streaming method; only unary calls"
                    )
                self.methods[name] = (
                    message_factory.GetMessageClass(method.input_type),
                    message_factory.GetMessageClass(method.output_type),
                )
            return self.methods[name]

    def close(self) -> None:
        self.channel.close()


@register_adapter
class GrpcAdapter(Adapter):
    id = "grpc"
    name = "gRPC"
    description = "Unary gRPC calls through grpcio and server reflection"
    family = "grpc"
    protocols = ("grpc", "grpcs")
    default_port = 443

    operations = (OPERATION,)

    def connect(self, settings: ConnectionSettings, limits: Limits) -> _GrpcConnection:
        port = settings.port or (443 if settings.scheme == "grpcs" else 80)
        address = checked_address(settings.host, port, allow_private=limits.allow_private)
        if settings.scheme == "grpcs":
            root, name = _tls_trust(settings, address, port, limits)
            # The checked address; the certificate is checked against the name.
            channel = grpc.secure_channel(
                _target(address, port),
                grpc.ssl_channel_credentials(root_certificates=root),
                options=[
                    ("grpc.ssl_target_name_override", name),
                    ("grpc.default_authority", f"{settings.host}:{port}"),
                ],
            )
        else:
            target = _target(address, port)
            channel = grpc.insecure_channel(
                target, options=[("grpc.default_authority", f"{settings.host}:{port}")]
            )
        return _GrpcConnection(channel)

    def is_healthy(self, connection: _GrpcConnection) -> bool:
        grpc.channel_ready_future(connection.channel).result(timeout=2)
        return True

    def execute(
        self, connection: _GrpcConnection, operation: str, params: dict[str, Any], limits: Limits
    ) -> Any:
        name = str(params.get("method") or "")
        request_class, response_class = connection.method(name)
        try:
            request = json_format.ParseDict(params.get("request") or {}, request_class())
        except json_format.ParseError as exc:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR, f"request does not fit {name}: {exc}", retryable=False
            ) from None
        call = connection.channel.unary_unary(
            "/" + name.lstrip("/"),
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        metadata = [(str(k).lower(), str(v)) for k, v in (params.get("metadata") or {}).items()]
        response = call(request, timeout=max(0.05, limits.timeout_s), metadata=metadata or None)
        data = json_format.MessageToDict(response, preserving_proto_field_name=True)
        return OperationResult({"response": data}, bytes=response.ByteSize())

    def categorize(self, exc: BaseException) -> NodeError:
        if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
            code = exc.code()
            details = str(exc.details() or "")
            if code == grpc.StatusCode.UNAVAILABLE and "handshake failed" in details.lower():
                return outbound.tls_error(_openssl_reason(details))
            category = _CATEGORIES.get(code, ErrorCategory.INTEGRATION_ERROR)
            return NodeError(
                category,
                f"gRPC {code.name}: {exc.details()}",
                {"code": code.name},
                retryable=None if category != ErrorCategory.INTEGRATION_ERROR else False,
            )
        if isinstance(exc, grpc.FutureTimeoutError):
            return NodeError(ErrorCategory.CONNECTION_ERROR, "the gRPC channel did not become ready")
        return categorize_common(exc)


def _tls_trust(
    settings: ConnectionSettings, address: str, port: int, limits: Limits
) -> tuple[bytes | None, str]:
    """(root certificates, name to check) for the channel, after one TLS handshake of our own
    with the connection's options, since grpcio has no setting for them:

    - `tls_min_version`: the handshake must reach it (ssl refuses otherwise). The channel,
      which speaks TLS 1.2 and 1.3, then gets the same version from that server: TLS 1.3's
      downgrade protection keeps a 1.3 server from being talked down to 1.2.
    - `tls_verify` false: grpcio always verifies, so the channel trusts exactly the
      certificate the server showed this handshake (under the name it carries).
    - otherwise the handshake checks the certificate as the channel will (the CA bundle, or
      the system's roots), so a refusal comes with ssl's reason rather than grpcio's text.
    """
    context = tls_context(settings.tls)
    context.set_alpn_protocols(["h2"])
    timeout_s = max(1.0, min(limits.timeout_s, 30))
    with socket_to(address, port, timeout_s) as sock:
        with context.wrap_socket(sock, server_hostname=settings.host) as tls:
            leaf = tls.getpeercert(binary_form=True)
    if settings.tls.verify:
        return (settings.tls.ca_bundle.encode() if settings.tls.ca_bundle else None), settings.host
    return ssl.DER_cert_to_PEM_cert(leaf).encode(), _name_in(leaf) or settings.host


def _name_in(der: bytes) -> str | None:
    """A name the certificate is for: its first DNS or IP subject alternative name, else CN."""
    cert = x509.load_der_x509_certificate(der)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = None
    if names is not None:
        for kind in (x509.DNSName, x509.IPAddress):
            found = names.get_values_for_type(kind)
            if found:
                return str(found[0])
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else None


def _openssl_reason(text: str) -> str:
    for reason in ("CERTIFICATE_VERIFY_FAILED", "TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"):
        if reason in text:
            return reason
    return "HANDSHAKE_FAILED"


def _target(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
