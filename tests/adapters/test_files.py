"""`file.upload` / `file.download` / `file.list` / `file.delete` over SFTP, FTP and S3 against
servers the tests start on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest

from .helpers import make_credential, node_of, run_nodes, unique
from .servers import PASSWORD, USER, FtpServer, S3Server, SftpServer

pytestmark = pytest.mark.usefixtures("inline_queue")


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server()
    yield server
    server.close()


@pytest.fixture(params=["sftp", "ftp", "s3"])
def remote(request, tmp_path, s3_server):
    """(credential data, a function reading what the server stored at a relative path)."""
    kind = request.param
    if kind == "sftp":
        (tmp_path / "inbox").mkdir()
        server = SftpServer(tmp_path)
        request.addfinalizer(server.close)
        data = {
            "url": f"sftp://{USER}:{PASSWORD}@127.0.0.1:{server.port}/inbox",
            "host_key": server.public_host_key,
        }
        return kind, data, lambda rel: (tmp_path / "inbox" / rel).read_bytes()
    if kind == "ftp":
        (tmp_path / "inbox").mkdir()
        server = FtpServer(tmp_path)
        request.addfinalizer(server.close)
        data = {"url": f"ftp://{USER}:{PASSWORD}@127.0.0.1:{server.port}/inbox"}
        return kind, data, lambda rel: (tmp_path / "inbox" / rel).read_bytes()
    bucket = unique("bucket").replace("_", "-")
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    data = {
        "url": f"s3://{bucket}/inbox",
        "endpoint_url": s3_server.endpoint,
        "access_key_id": "AKIDTEST",
        "secret_access_key": "s3-secret-key-Zz",
        "region": "us-east-1",
    }
    return kind, data, lambda rel: client.get_object(Bucket=bucket, Key=f"inbox/{rel}")["Body"].read()


def test_upload_list_download_delete(api, remote):
    kind, data, stored = remote
    cred = unique(kind)
    make_credential(api, cred, data)
    binary = base64.b64encode(bytes(range(256))).decode()
    run = run_nodes(
        api,
        [
            {
                "id": "up",
                "type": "file.upload",
                "config": {"credential": cred, "path": "report.csv", "content": "{{ input.csv }}"},
            },
            {
                "id": "bin",
                "type": "file.upload",
                "config": {"credential": cred, "path": "blob.bin", "content": binary, "encoding": "base64"},
            },
            {"id": "ls", "type": "file.list", "config": {"credential": cred}},
            {"id": "down", "type": "file.download", "config": {"credential": cred, "path": "report.csv"}},
            {
                "id": "down_bin",
                "type": "file.download",
                "config": {"credential": cred, "path": "blob.bin", "encoding": "base64"},
            },
            {"id": "rm", "type": "file.delete", "config": {"credential": cred, "path": "blob.bin"}},
            {"id": "ls_after", "type": "file.list", "config": {"credential": cred}},
        ],
        {"csv": "id,total\n1,9.50\n"},
    )
    assert run["status"] == "completed", [n["error"] for n in run["nodes"]]
    assert node_of(run, "up")["output"]["bytes"] == 16
    assert stored("report.csv") == b"id,total\n1,9.50\n"
    names = {(e["name"], e["size"]) for e in node_of(run, "ls")["output"]["entries"]}
    assert names == {("report.csv", 16), ("blob.bin", 256)}
    down = node_of(run, "down")["output"]
    assert down["content"] == "id,total\n1,9.50\n" and down["encoding"] == "text" and down["bytes"] == 16
    assert base64.b64decode(node_of(run, "down_bin")["output"]["content"]) == bytes(range(256))
    assert node_of(run, "rm")["output"]["deleted"] is True
    assert [e["name"] for e in node_of(run, "ls_after")["output"]["entries"]] == ["report.csv"]
    assert PASSWORD not in str(run) and "s3-secret-key-Zz" not in str(run)


def test_size_cap_refuses_a_big_upload(api, remote):
    kind, data, _ = remote
    cred = unique(kind)
    make_credential(api, cred, data)
    config = {"credential": cred, "path": "a.txt", "content": "x" * 100, "max_bytes": 10}
    run = run_nodes(api, [{"id": "big_up", "type": "file.upload", "config": config}])
    error = node_of(run, "big_up")["error"]
    assert error["category"] == "VALIDATION_ERROR" and "10-byte limit" in error["message"]


def test_download_cap_and_missing_file(api, remote):
    kind, data, _ = remote
    cred = unique(kind)
    make_credential(api, cred, data)
    run = run_nodes(
        api,
        [
            {
                "id": "up",
                "type": "file.upload",
                "config": {"credential": cred, "path": "b.txt", "content": "y" * 100},
            },
            {
                "id": "big_down",
                "type": "file.download",
                "config": {"credential": cred, "path": "b.txt", "max_bytes": 10},
            },
        ],
    )
    error = node_of(run, "big_down")["error"]
    assert error["category"] == "VALIDATION_ERROR" and error["details"]["max_bytes"] == 10
    # The connection survives (or is replaced) and a missing file is an integration error.
    run = run_nodes(
        api,
        [
            {"id": "ok", "type": "file.download", "config": {"credential": cred, "path": "b.txt"}},
            {"id": "missing", "type": "file.download", "config": {"credential": cred, "path": "nope.txt"}},
        ],
    )
    assert node_of(run, "ok")["output"]["bytes"] == 100
    assert node_of(run, "missing")["error"]["category"] == "INTEGRATION_ERROR"


def test_wrong_password_is_an_authentication_error(api, remote):
    kind, data, _ = remote
    cred = unique(kind)
    if kind == "s3":
        data = {**data, "secret_access_key": "wrong-secret-key"}
    else:
        data = {**data, "url": data["url"].replace(PASSWORD, "wrong-pw-123")}
    make_credential(api, cred, data)
    run = run_nodes(api, [{"id": "ls", "type": "file.list", "config": {"credential": cred}}])
    error = node_of(run, "ls")["error"]
    if kind == "s3":  # moto does not check signatures: the listing works
        assert run["status"] == "completed"
    else:
        assert error["category"] == "AUTHENTICATION_ERROR"
        assert "wrong-pw-123" not in str(run)
