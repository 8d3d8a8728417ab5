"""A connection's TLS options against real TLS servers on 127.0.0.1, per adapter.

Each server presents a certificate from a throwaway CA made in the test and (where the
server lets us cap it) speaks at most TLS 1.2. The matrix, for every adapter:

- trusted: verify on, the CA as `tls_ca_bundle` (and `tls_min_version` 1.2) → the operation
  succeeds;
- untrusted: verify on, no CA → refused, CONNECTION_ERROR naming TLS, not retried, promptly;
- unverified: `tls_verify` false → connects and succeeds;
- tls13: `tls_min_version` 1.3 against the TLS 1.2 server → refused the same way.

Servers with their own TLS: GraphQL and SOAP (http.server with ssl), gRPC
(grpc.ssl_server_credentials), FTPS (pyftpdlib's TLS_FTPHandler), redis-server,
mosquitto and nats-server started privately. Where a server cannot be capped at TLS 1.2
(gRPC, mosquitto) or has no TLS of its own here (moto's S3, RabbitMQ), a TlsTerminator
puts it behind TLS 1.2. NATS negotiates TLS inside its protocol, so no terminator fits
and its server speaks TLS 1.3: it has no `tls13` case. PostgreSQL and MariaDB also
negotiate TLS in-protocol: test_db_tls starts private servers of both for the same matrix.
"""

from __future__ import annotations

import time

import pytest

from connectors.adapters.pool import pool

from .api_servers import GraphqlServer, GrpcServer, SoapServer
from .helpers import make_credential, node_of, run_nodes, unique
from .servers import PASSWORD, USER, FtpServer, S3Server
from .tls import (
    TlsTerminator,
    make_tls,
    mosquitto_tls_server,
    nats_tls_server,
    redis_tls_server,
    server_context,
)

pytestmark = pytest.mark.usefixtures("inline_queue")

MATRIX = {
    "trusted": (lambda tls: {"tls_ca_bundle": tls.ca_pem, "tls_min_version": "1.2"}, True),
    "untrusted": (lambda tls: {}, False),
    "unverified": (lambda tls: {"tls_verify": "false"}, True),
    "tls13": (lambda tls: {"tls_ca_bundle": tls.ca_pem, "tls_min_version": "1.3"}, False),
}
CASES = list(MATRIX)
REFUSED_WITHIN_S = 15


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


def run_with_tls(api, case: str, tls, data: dict, node: dict) -> dict:
    """Run `node` with a credential of `data` plus the case's TLS options; check the verdict."""
    options, succeeds = MATRIX[case]
    cred = unique("tls")
    make_credential(api, cred, {**data, **options(tls)})
    started = time.monotonic()
    run = run_nodes(api, [{**node, "id": "n", "config": {**node.get("config", {}), "credential": cred}}])
    elapsed = time.monotonic() - started
    result = node_of(run, "n")
    if succeeds:
        assert run["status"] == "completed", result["error"]
        return result["output"]
    assert run["status"] == "failed"
    error = result["error"]
    assert error["category"] == "CONNECTION_ERROR", error
    assert "TLS" in error["message"], error
    assert error["details"]["tls"], error  # OpenSSL's reason, e.g. CERTIFICATE_VERIFY_FAILED
    assert elapsed < REFUSED_WITHIN_S
    return error


def assert_refused_by_address_rule(api, settings, data: dict, node: dict, connections) -> None:
    """With ALLOW_PRIVATE_OUTBOUND off, a TLS connection to 127.0.0.1 is refused by the address
    rule, verify off or not, before any handshake reaches the server."""
    settings.ALLOW_PRIVATE_OUTBOUND = False
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    pool.close_all()
    before = connections()
    cred = unique("tls")
    make_credential(api, cred, {**data, "tls_verify": "false"})
    run = run_nodes(api, [{**node, "id": "n", "config": {**node.get("config", {}), "credential": cred}}])
    error = node_of(run, "n")["error"]
    assert error["category"] == "CONNECTION_ERROR"
    assert "ALLOW_PRIVATE_OUTBOUND" in error["message"] and "loopback" in error["message"]
    assert connections() == before


# ------------------------------------------------------------------------------ GraphQL


@pytest.fixture(scope="module")
def graphql_tls(tls):
    server = GraphqlServer(ssl_context=server_context(tls))
    yield server
    server.close()


GQL_NODE = {"type": "graphql.query", "config": {"query": "query { book(id: 1) { title } }"}}


@pytest.mark.parametrize("case", CASES)
def test_graphql_tls(api, tls, graphql_tls, case):
    out = run_with_tls(api, case, tls, {"url": graphql_tls.url, "token": "gql-token-Q7"}, GQL_NODE)
    if MATRIX[case][1]:
        assert out == {"data": {"book": {"title": "Dune"}}}


def test_graphql_tls_honours_the_address_rule(api, settings, graphql_tls):
    data = {"url": graphql_tls.url, "token": "gql-token-Q7"}
    assert_refused_by_address_rule(api, settings, data, GQL_NODE, lambda: graphql_tls.httpd.connections)


def test_http_request_to_an_untrusted_certificate_says_tls(api, graphql_tls):
    """The engine's own http.request node (system CAs) gets the same clear refusal."""
    run = run_nodes(api, [{"id": "n", "type": "http.request", "config": {"url": graphql_tls.url}}])
    error = node_of(run, "n")["error"]
    assert error["category"] == "CONNECTION_ERROR"
    assert error["message"].startswith("TLS refused (CERTIFICATE_VERIFY_FAILED)"), error
    assert error["details"] == {"tls": "CERTIFICATE_VERIFY_FAILED"}


# --------------------------------------------------------------------------------- SOAP


@pytest.fixture(scope="module")
def soap_tls(tls):
    server = SoapServer(ssl_context=server_context(tls))
    yield server
    server.close()


SOAP_NODE = {"type": "soap.call", "config": {"operation": "Add", "arguments": {"a": 2, "b": 3}}}


@pytest.mark.parametrize("case", CASES)
def test_soap_tls(api, tls, soap_tls, case):
    out = run_with_tls(api, case, tls, {"url": soap_tls.wsdl}, SOAP_NODE)
    if MATRIX[case][1]:
        assert out["result"]["sum"] == 5


# ----------------------------------------------------------------------------------- S3


@pytest.fixture(scope="module")
def s3_tls(tls):
    """moto's S3 server behind a TLS terminator capped at TLS 1.2, and a bucket in it."""
    server = S3Server()
    terminator = TlsTerminator(server.port, server_context(tls))
    bucket = unique("tls").replace("_", "-")
    server.client().create_bucket(Bucket=bucket)
    data = {
        "url": f"s3://{bucket}/in",
        "endpoint_url": f"https://127.0.0.1:{terminator.port}",
        "access_key_id": "AKIDTEST",
        "secret_access_key": "s3-secret-key-Zz",
        "region": "us-east-1",
    }
    yield data, terminator
    terminator.close()
    server.close()


@pytest.mark.parametrize("case", CASES)
def test_s3_tls(api, tls, s3_tls, case):
    data, _ = s3_tls
    node = {"type": "file.upload", "config": {"path": f"{case}.txt", "content": "over TLS"}}
    out = run_with_tls(api, case, tls, data, node)
    if MATRIX[case][1]:
        assert out == {"path": f"in/{case}.txt", "bytes": 8}


def test_s3_tls_honours_the_address_rule(api, settings, s3_tls):
    data, terminator = s3_tls
    node = {"type": "file.list", "config": {"path": ""}}
    assert_refused_by_address_rule(api, settings, data, node, lambda: terminator.accepted)


# --------------------------------------------------------------------------------- gRPC

GRPC_NODE = {
    "type": "grpc.call",
    "config": {"method": f"{GrpcServer.SERVICE}/Add", "request": {"a": 2, "b": 40}},
}


@pytest.fixture(scope="module")
def grpc_tls(tls):
    """grpcio's own TLS (grpc.ssl_server_credentials), which offers TLS 1.2 and 1.3."""
    server = GrpcServer(tls=tls)
    yield server
    server.close()


@pytest.fixture(scope="module")
def grpc_tls12(tls):
    """A plaintext gRPC server behind a TLS terminator (ALPN h2) capped at TLS 1.2."""
    server = GrpcServer()
    terminator = TlsTerminator(server.port, server_context(tls, alpn=("h2",)))
    yield f"grpcs://127.0.0.1:{terminator.port}", terminator
    terminator.close()
    server.close()


@pytest.mark.parametrize("case", ["trusted", "untrusted", "unverified"])
def test_grpc_tls(api, tls, grpc_tls, case):
    out = run_with_tls(api, case, tls, {"url": grpc_tls.url}, GRPC_NODE)
    if MATRIX[case][1]:
        assert out == {"response": {"sum": 42}}


@pytest.mark.parametrize("case", CASES)
def test_grpc_tls_12_server(api, tls, grpc_tls12, case):
    url, _ = grpc_tls12
    out = run_with_tls(api, case, tls, {"url": url}, GRPC_NODE)
    if MATRIX[case][1]:
        assert out == {"response": {"sum": 42}}


def test_grpc_tls_honours_the_address_rule(api, settings, grpc_tls12):
    url, terminator = grpc_tls12
    assert_refused_by_address_rule(api, settings, {"url": url}, GRPC_NODE, lambda: terminator.accepted)


# ---------------------------------------------------------------------------------- FTPS


@pytest.fixture(scope="module")
def ftps_server(tls, tmp_path_factory):
    """pyftpdlib's TLS_FTPHandler (pyOpenSSL), TLS required on control and data, 1.2 at most."""
    root = tmp_path_factory.mktemp("ftps")
    (root / "inbox").mkdir()
    server = FtpServer(root, tls=tls)
    yield f"ftps://{USER}:{PASSWORD}@127.0.0.1:{server.port}/inbox", root / "inbox"
    server.close()


@pytest.mark.parametrize("case", CASES)
def test_ftps_tls(api, tls, ftps_server, case):
    url, inbox = ftps_server
    node = {"type": "file.upload", "config": {"path": f"{case}.txt", "content": "over FTPS"}}
    out = run_with_tls(api, case, tls, {"url": url}, node)
    if MATRIX[case][1]:
        assert out == {"path": f"/inbox/{case}.txt", "bytes": 9}
        assert (inbox / f"{case}.txt").read_text() == "over FTPS"
    else:
        assert not (inbox / f"{case}.txt").exists()


# ------------------------------------------------------------------------------- queues


def _publish(destination: str) -> dict:
    return {"type": "mq.publish", "config": {"destination": destination, "message": {"over": "TLS"}}}


@pytest.fixture(scope="module")
def redis_tls(tls, tmp_path_factory):
    """Debian's redis-server on a TLS-only port, TLS 1.2 only."""
    server = redis_tls_server(tls, tmp_path_factory.mktemp("redis"))
    yield server
    server.close()


@pytest.mark.parametrize("case", CASES)
def test_redis_streams_tls(api, tls, redis_tls, case):
    stream = unique("tls")
    out = run_with_tls(api, case, tls, {"url": f"rediss://127.0.0.1:{redis_tls.port}/0"}, _publish(stream))
    if MATRIX[case][1]:
        assert out["destination"] == stream and out["message_id"]


@pytest.fixture(scope="module")
def mosquitto_tls(tls, tmp_path_factory):
    """A private mosquitto with a TLS listener (TLS 1.2 and 1.3)."""
    server = mosquitto_tls_server(tls, tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def mqtt_tls12(tls):
    """The machine's Mosquitto (1883) behind a TLS terminator capped at TLS 1.2."""
    terminator = TlsTerminator(1883, server_context(tls))
    yield terminator
    terminator.close()


@pytest.mark.parametrize("case", ["trusted", "untrusted", "unverified"])
def test_mqtt_tls(api, tls, mosquitto_tls, case):
    topic = unique("tls")
    out = run_with_tls(api, case, tls, {"url": f"mqtts://127.0.0.1:{mosquitto_tls.port}"}, _publish(topic))
    if MATRIX[case][1]:
        assert out["destination"] == topic


@pytest.mark.parametrize("case", CASES)
def test_mqtt_tls_12_server(api, tls, mqtt_tls12, case):
    topic = unique("tls")
    out = run_with_tls(api, case, tls, {"url": f"mqtts://127.0.0.1:{mqtt_tls12.port}"}, _publish(topic))
    if MATRIX[case][1]:
        assert out["destination"] == topic


def test_mqtt_tls_honours_the_address_rule(api, settings, mqtt_tls12):
    data = {"url": f"mqtts://127.0.0.1:{mqtt_tls12.port}"}
    assert_refused_by_address_rule(api, settings, data, _publish("t"), lambda: mqtt_tls12.accepted)


@pytest.fixture(scope="module")
def amqp_tls12(tls):
    """The machine's RabbitMQ (5672) behind a TLS terminator capped at TLS 1.2 (a private
    RabbitMQ node with its own TLS listener is too heavy to start per test run), and a queue."""
    import pika

    queue = unique("tls")
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    conn.channel().queue_declare(queue, durable=False, auto_delete=False)
    terminator = TlsTerminator(5672, server_context(tls))
    yield f"amqps://guest:guest@127.0.0.1:{terminator.port}/", queue, terminator
    terminator.close()
    conn.channel().queue_delete(queue)
    conn.close()


@pytest.mark.parametrize("case", CASES)
def test_amqp_tls_12_server(api, tls, amqp_tls12, case):
    url, queue, _ = amqp_tls12
    out = run_with_tls(api, case, tls, {"url": url}, _publish(queue))
    if MATRIX[case][1]:
        assert out["destination"] == queue


@pytest.fixture(scope="module")
def nats_tls(tls, tmp_path_factory):
    """A private nats-server requiring TLS (it cannot be capped at TLS 1.2: no `tls13` case)."""
    server = nats_tls_server(tls, tmp_path_factory.mktemp("nats"))
    yield server
    server.close()


@pytest.mark.parametrize("case", ["trusted", "untrusted", "unverified"])
def test_nats_tls(api, tls, nats_tls, case):
    subject = unique("tls")
    out = run_with_tls(api, case, tls, {"url": f"tls://127.0.0.1:{nats_tls.port}"}, _publish(subject))
    if MATRIX[case][1]:
        assert out["destination"] == subject
