"""Oversized and malformed requests against a real `serve`, over raw sockets: every refusal is
a JSON answer (never a 500, an HTML page, an empty 400 or a dropped connection)."""

import json
import socket
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

DEEP = b"[" * 10_000 + b"]" * 10_000
TEN_MB = 10 * 1024 * 1024


def exchange(port: int, head: bytes, body_chunks=(), timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send a request as raw bytes, read the answer until the server closes or it is complete."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(head)
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before taking everything: read what it said
        data = b""
        while True:
            try:
                got = sock.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data:
                head_part, _, rest = data.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":", 1)[1])
                    for line in head_part.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(rest) >= length[0]:
                    break
    finally:
        sock.close()
    assert data, "the connection was dropped without an answer"
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower().decode(): v.strip().decode() for k, v in (ln.split(b":", 1) for ln in lines[1:])
    }
    return status, headers, body


def request_head(server, method: str, path: str, headers: dict, extra: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode() + extra + b"\r\n"


def assert_json_error(status, headers, body, expected_status, code=None):
    assert status == expected_status, (status, headers, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code, error


def chunked(total: int, size: int = 256 * 1024):
    piece = b"x" * size
    sent = 0
    while sent < total:
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
        sent += len(piece)
    yield b"0\r\n\r\n"


@pytest.fixture(scope="module")
def hook_path(server):
    wid = server.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": "immediately"}},
            {"id": "t", "type": "data.transform", "config": {"set": {"ok": True}}},
        ],
        [{"source": "hook", "target": "t"}],
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    return urlsplit(body["triggers"][0]["url"]).path


def auth(server):
    return {"Authorization": f"Token {server.token}"}


def test_json_nested_10000_deep_is_a_400_on_the_api_and_the_webhook(server, hook_path):
    for path, headers in (("/api/v1/workflows/", auth(server)), (hook_path, {})):
        head = request_head(
            server, "POST", path, {**headers, "Content-Type": "application/json", "Content-Length": len(DEEP)}
        )
        assert_json_error(*exchange(server.port, head, [DEEP]), 400, "PARSE_ERROR")


def test_a_10_mb_api_body_is_a_413(server):
    body = b'{"x": "' + b"a" * TEN_MB + b'"}'
    head = request_head(
        server,
        "POST",
        "/api/v1/workflows/",
        {**auth(server), "Content-Type": "application/json", "Content-Length": len(body)},
    )
    assert_json_error(*exchange(server.port, head, [body]), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("size", [TEN_MB, 2 * 1024 * 1024])
def test_a_chunked_webhook_over_the_limit_is_a_json_413(server, hook_path, size):
    head = request_head(
        server, "POST", hook_path, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    assert_json_error(*exchange(server.port, head, chunked(size)), 413, "PAYLOAD_TOO_LARGE")


def test_a_small_chunked_webhook_still_starts_a_run(server, hook_path):
    payload = b'{"n": 1}'
    head = request_head(
        server, "POST", hook_path, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    status, _, body = exchange(server.port, head, [b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n"])
    assert status == 202, body
    assert json.loads(body)["run_id"]


def test_1000_headers_get_a_json_431(server):
    extra = {f"X-Filler-{i}": "v" for i in range(1000)}
    head = request_head(server, "GET", "/api/v1/node-types", {**auth(server), **extra})
    assert_json_error(*exchange(server.port, head), 431, "TOO_MANY_HEADERS")


def test_a_64_kb_header_gets_an_answer(server):
    head = request_head(server, "GET", "/api/v1/node-types", {**auth(server), "X-Big": "b" * 64 * 1024})
    assert_json_error(*exchange(server.port, head), 431, "HEADERS_TOO_LARGE")


def test_a_malformed_multipart_body_gets_the_apis_json_answer(server):
    body = b"--c637e12e2b1a998d80d1b087531af51c--\r\n"
    head = request_head(
        server,
        "POST",
        "/api/v1/contacts/",
        {
            **auth(server),
            "Content-Type": "multipart/form-data; boundary=c637e12e2b1a998d80d1b087531af51c",
            "Content-Length": len(body),
        },
    )
    status, headers, answer = exchange(server.port, head, [body])
    assert 400 <= status < 500
    assert_json_error(status, headers, answer, status)


def test_malformed_http_gets_a_json_400(server):
    head = b"GET /api/v1/node-types HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n"
    assert_json_error(*exchange(server.port, head), 400, "BAD_REQUEST")


def test_the_access_log_masks_credentials_in_query_strings(server, hook_path):
    """A webhook called with a token in its query string, and a websocket opened with its API
    token (`?token=`, SPEC §7): the server's log names both requests, never the secrets (the
    webhook's query string is written masked, its URL token cut to four characters)."""
    planted = "Qs-planted-s3cret-9913"
    head = request_head(
        server,
        "POST",
        f"{hook_path}?token={planted}&page=2",
        {"Content-Type": "application/json", "Content-Length": 2},
    )
    status, _, _ = exchange(server.port, head, [b"{}"])
    assert status == 202
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"GET /ws/runs/00000000-0000-0000-0000-000000000000/?token={server.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        sock.recv(4096)
    masked = "/hooks/" + hook_path.rsplit("/", 1)[1][:4] + "***"  # the URL token starts runs
    logged = server.wait_for(
        lambda: "WS" in server.logs() and f"{masked}?token=" in server.logs() and server.logs()
    )
    assert f"{masked}?token=***&page=2" in logged
    assert "/ws/runs/00000000-0000-0000-0000-000000000000/" in logged
    assert planted not in server.log_path.read_text()
    assert server.token not in server.log_path.read_text()
    assert hook_path not in server.log_path.read_text()


def test_the_server_still_serves_after_all_that(server):
    assert server.call("GET", "/api/v1/node-types")[0] == 200
