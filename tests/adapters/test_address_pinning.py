"""The outbound address rule in every adapter's own connect (pools and queue consumers call it
without the runner's check), TLS variants and S3 included: a host name that resolves to a
private address is refused while ALLOW_PRIVATE_OUTBOUND is off, before any socket opens.
And the client connects to the address that was checked: a DNS answer that changes after
the check (rebinding) does not move the connection."""

from __future__ import annotations

import base64
import socket
import threading

import pytest

from connectors.adapters.base import Limits, settings_from
from connectors.adapters.registry import adapters
from workflows.engine.errors import NodeError

from .helpers import make_credential, node_of, run_nodes, unique
from .servers import S3Server

# host names that resolve to loopback; every TLS variant, S3 and the rest
PRIVATE_TARGETS = [
    ("file", {"url": "s3://bucket/in", "endpoint_url": "http://localhost:9000"}),
    ("file", {"url": "s3://bucket/in", "endpoint_url": "https://localhost:9443"}),
    ("mq", {"url": "amqps://guest:guest@localhost:5671/"}),
    ("mq", {"url": "mqtts://localhost:8883"}),
    ("mq", {"url": "rediss://localhost:6380/0"}),
    ("mq", {"url": "tls://localhost:4222"}),
    ("db", {"url": "mysql://root@localhost:3306/test?ssl=true"}),
    ("db", {"url": "postgresql://postgres@localhost:5432/test?sslmode=require"}),
    ("file", {"url": "ftps://user:pw@localhost:2121/in"}),
    ("file", {"url": "sftp://user:pw@localhost:2222/in"}),
    ("grpc", {"url": "grpcs://localhost:50051"}),
]


@pytest.mark.parametrize(
    ("family", "data"), PRIVATE_TARGETS, ids=lambda v: v if isinstance(v, str) else v["url"]
)
def test_a_host_resolving_to_a_private_address_is_refused_before_connecting(family, data, monkeypatch):
    opened = []
    real_connect = socket.socket.connect

    def watched(sock, address):
        opened.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", watched)
    settings = settings_from(credential_id="c1", credential_name="c", data=data)
    adapter = adapters.adapter_for(family, settings.scheme)
    with pytest.raises(NodeError) as refused:
        adapter.connect(settings, Limits(timeout_s=5, allow_private=False))
    assert refused.value.category == "CONNECTION_ERROR"
    assert "loopback" in refused.value.message and "ALLOW_PRIVATE_OUTBOUND" in refused.value.message
    assert opened == []


@pytest.fixture
def rebinding(monkeypatch):
    """`rebind.test` answers 127.0.0.1 to the address check, and 127.0.0.9 (where nothing
    listens) to any other lookup — a rebinding DNS server between check and connect."""
    from workflows.engine import outbound

    real, real_check = socket.getaddrinfo, outbound.resolve_checked
    checking = threading.local()
    answers = []

    def getaddrinfo(host, port, *args, **kwargs):
        if str(host).rstrip(".") == "rebind.test":
            address = "127.0.0.1" if getattr(checking, "on", False) else "127.0.0.9"
            answers.append(address)
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    def resolve_checked(*args, **kwargs):
        checking.on = True
        try:
            return real_check(*args, **kwargs)
        finally:
            checking.on = False

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(outbound, "resolve_checked", resolve_checked)
    return answers


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server()
    yield server
    server.close()


@pytest.mark.usefixtures("inline_queue")
def test_s3_connects_to_the_address_it_checked_whatever_dns_answers_later(api, s3_server, rebinding):
    bucket = unique("bucket").replace("_", "-")
    s3_server.client().create_bucket(Bucket=bucket)
    cred = unique("s3")
    make_credential(
        api,
        cred,
        {
            "url": f"s3://{bucket}/in",
            "endpoint_url": f"http://rebind.test:{s3_server.port}",
            "access_key_id": "AKIDTEST",
            "secret_access_key": "s3-secret-key-Zz",
        },
    )
    content = base64.b64encode(b"pinned").decode()
    run = run_nodes(
        api,
        [
            {
                "id": "up",
                "type": "file.upload",
                "config": {"credential": cred, "path": "a.txt", "content": content, "encoding": "base64"},
            },
            {"id": "ls", "type": "file.list", "config": {"credential": cred}},
        ],
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert [e["name"] for e in node_of(run, "ls")["output"]["entries"]] == ["a.txt"]
    assert rebinding and set(rebinding) == {"127.0.0.1"}  # only the check looked the name up
