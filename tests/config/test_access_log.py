"""The web server's access log and the server log never write a credential from a request's
query string, nor a trigger URL token whole."""

import io

from config.web_server import MaskedAccessLog

SECRET = "Qs-s3cret-in-the-query-0042"


def test_http_and_websocket_entries_mask_credential_named_query_parameters():
    stream = io.StringIO()
    log = MaskedAccessLog(stream)
    log(
        "http",
        "complete",
        {
            "client": "127.0.0.1:1",
            "method": "POST",
            "path": f"/hooks/abc?token={SECRET}&page=2",
            "status": 200,
            "size": 10,
        },
    )
    log("websocket", "connecting", {"client": "127.0.0.1:2", "path": f"/ws/runs/r1/?token={SECRET}"})
    log("websocket", "connected", {"client": "127.0.0.1:2", "path": f"/ws/runs/r1/?api_key={SECRET}"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert SECRET not in stream.getvalue()
    assert '"POST /hooks/abc***?token=***&page=2" 200 10' in lines[0]
    assert '"WSCONNECTING /ws/runs/r1/?token=***"' in lines[1]
    assert '"WSCONNECT /ws/runs/r1/?api_key=***"' in lines[2]


def test_paths_without_credentials_are_written_as_they_are():
    stream = io.StringIO()
    MaskedAccessLog(stream)(
        "http",
        "complete",
        {"client": "c", "method": "GET", "path": "/runs?status=failed&page=2", "status": 200, "size": 1},
    )
    assert '"GET /runs?status=failed&page=2" 200 1' in stream.getvalue()


HOOK_TOKEN = "Hk7Zq-its-whole-token-starts-runs_0042"


def test_a_trigger_url_token_is_cut_to_four_characters():
    stream = io.StringIO()
    log = MaskedAccessLog(stream)
    entry = {"client": "c", "method": "POST", "path": f"/hooks/{HOOK_TOKEN}", "status": 202, "size": 1}
    log("http", "complete", entry)
    log("http", "complete", {**entry, "path": f"/hooks/{HOOK_TOKEN}/?token={SECRET}"})
    lines = stream.getvalue().splitlines()
    assert HOOK_TOKEN[:8] not in stream.getvalue() and SECRET not in stream.getvalue()
    assert '"POST /hooks/Hk7Z***" 202 1' in lines[0]
    assert '"POST /hooks/Hk7Z***/?token=***" 202 1' in lines[1]
