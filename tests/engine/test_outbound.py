"""Outbound safety: the address policy, TLS name checks through the guarded adapter, masking."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workflows.engine import outbound
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.registry import NodeContext
from workflows.engine.store import Services
from workflows.nodes.http import http_request

HITS: list[str] = []


class Hello(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        HITS.append(self.path)
        body = b'{"hello": "world"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "session=abc; Path=/")
        self.end_headers()
        self.wfile.write(body)


def serve(context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def port():
    server = serve()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def node_ctx(url: str, services: Services | None = None) -> NodeContext:
    return NodeContext(
        run_id="r",
        workflow_id="w",
        node_id="n",
        node={"id": "n", "config": {}},
        config={"url": url},
        input={},
        scope={},
        services=services or Services(),
    )


# ----------------------------------------------------------------------- address policy


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 around 169.254.169.254
    ],
)
def test_forbidden_addresses(address, reason):
    assert outbound.address_problem(ipaddress.ip_address(address)) == f"{reason} address"


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert outbound.address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("127.0.0.1", "127.0.0.1 (loopback address)"),
        ("10.0.0.1", "10.0.0.1 (private address)"),
        ("169.254.169.254", "169.254.169.254 (link-local address)"),
        ("[::1]", "::1 (loopback address)"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 (loopback address)"),
        ("localhost", "localhost ("),
    ],
)
def test_default_policy_refuses_private_targets(port, host, shown):
    before = len(HITS)
    with pytest.raises(NodeError) as info:
        http_request(node_ctx(f"http://{host}:{port}/"))  # default Services: not allowed
    error = info.value
    assert error.category == ErrorCategory.CONNECTION_ERROR
    assert f"refused to connect to {shown}" in error.message
    assert "set ALLOW_PRIVATE_OUTBOUND=true to allow" in error.message
    assert not error.retryable
    assert len(HITS) == before  # nothing reached the server


def test_localhost_reason_is_loopback(port):
    with pytest.raises(NodeError) as info:
        http_request(node_ctx(f"http://localhost:{port}/"))
    assert "loopback address" in info.value.message and info.value.details["host"] == "localhost"


def test_allowed_when_the_host_says_so(port):
    class Private(Services):
        allow_private_outbound = True

    out = http_request(node_ctx(f"http://localhost:{port}/", Private())).output
    assert out["body"] == {"hello": "world"}


def test_unresolvable_name_is_a_connection_error():
    with pytest.raises(NodeError) as info:
        outbound.fetch(
            outbound.session_for(allow_private=False),
            "GET",
            "http://no-such-host.invalid/",
            timeout_s=5,
            max_bytes=1000,
        )
    assert (
        info.value.category == ErrorCategory.CONNECTION_ERROR and "no-such-host.invalid" in info.value.message
    )


def test_sessions_are_per_policy_and_keep_no_cookies(port):
    session = outbound.session_for(allow_private=True)
    assert session is outbound.session_for(allow_private=True)
    assert session is not outbound.session_for(allow_private=False)
    assert outbound.is_guarded(session, "https://example.com/")
    outbound.fetch(session, "GET", f"http://127.0.0.1:{port}/", timeout_s=5, max_bytes=1000)
    assert len(session.cookies) == 0  # one run's cookies never reach another


def test_foreign_session_gets_a_preflight_check(port):
    import requests

    class Foreign(Services):
        def http_session(self):
            return requests.Session()

    with pytest.raises(NodeError) as info:
        http_request(node_ctx(f"http://127.0.0.1:{port}/", Foreign()))
    assert "refused to connect" in info.value.message


# ---------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def make(name: str):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        folder = tmp_path_factory.mktemp(name)
        (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return str(folder / "cert.pem"), str(folder / "key.pem")

    return {"localhost": make("localhost"), "other.test": make("other.test")}


def tls_server(cert_and_key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_and_key)
    return serve(context)


def test_tls_verifies_the_url_host_name_while_connecting_to_the_checked_address(tls_files):
    cert, key = tls_files["localhost"]
    server = tls_server((cert, key))
    try:
        session = outbound.session_for(allow_private=True)
        url = f"https://localhost:{server.server_address[1]}/"
        got = outbound.fetch(session, "GET", url, timeout_s=5, max_bytes=1000, verify=cert)
        assert got.status == 200 and got.content == b'{"hello": "world"}'
        # The certificate names "localhost", not the address we connect to.
        with pytest.raises(NodeError) as info:
            outbound.fetch(
                session,
                "GET",
                f"https://127.0.0.1:{server.server_address[1]}/",
                timeout_s=5,
                max_bytes=1000,
                verify=cert,
            )
        assert info.value.category == ErrorCategory.CONNECTION_ERROR
    finally:
        server.shutdown()
        server.server_close()


def test_tls_rejects_a_certificate_for_another_name(tls_files):
    cert, key = tls_files["other.test"]
    server = tls_server((cert, key))
    try:
        with pytest.raises(NodeError) as info:
            outbound.fetch(
                outbound.session_for(allow_private=True),
                "GET",
                f"https://localhost:{server.server_address[1]}/",
                timeout_s=5,
                max_bytes=1000,
                verify=cert,
            )
        assert info.value.category == ErrorCategory.CONNECTION_ERROR
        assert "certificate" in info.value.message.lower() or "hostname" in info.value.message.lower()
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ masking


def test_mask_secrets_recursively():
    value = {
        "a": "token=abc123 and abc123",
        "b": ["x-abc123", {"c": "pw: hunter2"}],
        "n": 5,
        "t": ("abc123",),
    }
    assert outbound.mask_secrets(value, ["abc123", "hunter2"]) == {
        "a": "token=*** and ***",
        "b": ["x-***", {"c": "pw: ***"}],
        "n": 5,
        "t": ("***",),
    }


def test_mask_secrets_ignores_short_and_empty_secrets_and_prefers_longest():
    assert outbound.mask_secrets("ab cd", ["ab", "", None]) == "ab cd"
    assert outbound.mask_secrets("secret-long", ["secret", "secret-long"]) == "***"
    assert outbound.mask_secrets("pin 12345", [12345]) == "pin ***"
    assert outbound.mask_secrets({"k": "v"}, []) == {"k": "v"}
