"""App-event triggers from outside the process, against a real `serve` (and a real
`manage.py inbound_smtp` on the same database): chat updates, signed payment events, mail,
contact changes — each run executed by the server's own workers."""

import hashlib
import hmac
import json
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from .server import ROOT, free_port

pytestmark = pytest.mark.slow

SECRET = "whsec_live_0c1d2e"


def post(url, raw: bytes, headers=None):
    req = urllib.request.Request(
        url, data=raw, method="POST", headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def activated(server, trigger: dict) -> tuple[str, dict]:
    wid = server.create_workflow(
        [
            trigger,
            {
                "id": "echo",
                "type": "data.transform",
                "config": {"set": {"got": "{{ input }}"}, "keep_input": False},
            },
        ],
        [{"source": trigger["id"], "target": "echo"}],
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    return wid, (body["triggers"][0] if body["triggers"] else {})


def finished(server, run_id):
    return server.wait_for(lambda: (r := server.run(run_id))["status"] in ("completed", "failed") and r)


def test_chat_update_over_http(server):
    _, trigger = activated(
        server,
        {
            "id": "bot",
            "type": "trigger.chat",
            "config": {"secret_token": "tg-secret", "keywords": ["/start"]},
        },
    )
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "text": "/start now",
            "from": {"id": 5, "is_bot": False, "first_name": "Ann", "username": "ann"},
            "chat": {"id": 5, "type": "private"},
        },
    }
    raw = json.dumps(update).encode()
    assert post(trigger["url"], raw)[0] == 401
    ignored = {**update, "update_id": 9002, "message": {**update["message"], "text": "hello"}}
    assert post(
        trigger["url"], json.dumps(ignored).encode(), {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"}
    ) == (200, {"ignored": "the text does not contain the trigger's keywords"})
    code, body = post(trigger["url"], raw, {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"})
    assert code == 202, body
    run = finished(server, body["run_id"])
    assert run["status"] == "completed" and run["trigger_type"] == "trigger.chat"
    assert run["output"]["got"]["text"] == "/start now" and run["output"]["got"]["chat_id"] == 5
    assert (
        post(trigger["url"], raw, {"X-Telegram-Bot-Api-Secret-Token": "tg-secret"})[1] == body
    )  # redelivery


def test_signed_payment_event_over_http(server):
    _, trigger = activated(
        server,
        {
            "id": "paid",
            "type": "trigger.payment",
            "config": {"secret": SECRET, "events": ["charge.succeeded"], "currency": "usd"},
        },
    )
    event = {
        "id": "evt_live_1",
        "type": "charge.succeeded",
        "created": 1700000000,
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "amount": 1999,
                "currency": "usd",
                "status": "succeeded",
            }
        },
    }
    raw = json.dumps(event).encode()
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    tampered = raw.replace(b"1999", b"1")
    assert post(trigger["url"], tampered, {"Stripe-Signature": f"t={t},v1={mac}"})[0] == 400
    stale = t - 3600
    stale_mac = hmac.new(SECRET.encode(), f"{stale}.".encode() + raw, hashlib.sha256).hexdigest()
    assert post(trigger["url"], raw, {"Stripe-Signature": f"t={stale},v1={stale_mac}"})[0] == 400
    code, body = post(trigger["url"], raw, {"Stripe-Signature": f"t={t},v1={mac}"})
    assert code == 202, body
    run = finished(server, body["run_id"])
    assert run["status"] == "completed"
    assert {k: run["output"]["got"][k] for k in ("id", "type", "amount", "currency", "status")} == {
        "id": "evt_live_1",
        "type": "charge.succeeded",
        "amount": 1999,
        "currency": "usd",
        "status": "succeeded",
    }


@pytest.fixture
def inbound_smtp(server):
    port = free_port()
    log = open(server.state_dir / f"smtp-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "inbound_smtp", "--port", str(port)],
        env=server.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (server.state_dir / f"smtp-{port}.log").read_text()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as probe:
                probe.noop()
            break
        except OSError:
            assert time.monotonic() < deadline, "inbound_smtp did not start listening"
            time.sleep(0.2)
    yield port
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    log.close()


def test_mail_through_the_inbound_smtp_command(server, inbound_smtp):
    wid, trigger = activated(
        server, {"id": "inbox", "type": "trigger.email", "config": {"subject_contains": "order"}}
    )
    address = trigger["address"]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = (
        "ann@example.com",
        address,
        "Order 5",
        "<o5@example.com>",
    )
    msg.set_content("Two boxes, please.")
    msg.add_alternative("<p>Two boxes, please.</p>", subtype="html")
    msg.add_attachment(b"\x00" * 1234, maintype="application", subtype="octet-stream", filename="boxes.bin")
    with smtplib.SMTP("127.0.0.1", inbound_smtp, timeout=30) as client:
        assert client.send_message(msg) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("ann@example.com", [f"unknown@{address.split('@')[1]}"], b"Subject: x\r\n\r\nx")
    run_id = server.wait_for(
        lambda: (
            (r := server.call("GET", f"/api/v1/workflows/{wid}/runs")[1])["count"] == 1
            and r["results"][0]["id"]
        )
    )
    run = finished(server, run_id)
    got = run["output"]["got"]
    assert run["status"] == "completed" and run["trigger_type"] == "trigger.email"
    assert (got["from"], got["subject"], got["text"], got["recipient"]) == (
        "ann@example.com",
        "Order 5",
        "Two boxes, please.\n",
        address,
    )
    assert got["attachments"] == [
        {"filename": "boxes.bin", "content_type": "application/octet-stream", "size": 1234}
    ]


def test_contact_created_through_the_api(server):
    wid, _ = activated(server, {"id": "crm", "type": "trigger.contact", "config": {"tags": ["vip"]}})
    code, contact = server.call("POST", "/api/v1/contacts/", {"name": "Ann", "tags": ["vip"]})
    assert code == 201, contact
    run_id = server.wait_for(
        lambda: (
            (r := server.call("GET", f"/api/v1/workflows/{wid}/runs")[1])["count"] == 1
            and r["results"][0]["id"]
        )
    )
    run = finished(server, run_id)
    assert run["status"] == "completed"
    assert (
        run["output"]["got"]["event"] == "created" and run["output"]["got"]["contact"]["id"] == contact["id"]
    )


def test_serve_receives_mail_itself_with_smtp_port(tmp_path):
    """`serve --smtp-port` (what `make run` does) runs the SMTP receiver in its process group."""
    from .server import drop_server, make_server

    port = free_port()
    srv = make_server(tmp_path)
    srv.start(serve_args=["--smtp-port", str(port)])
    try:
        wid, trigger = activated(srv, {"id": "inbox", "type": "trigger.email", "config": {}})

        def listening():
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as probe:
                    return probe.noop()[0] == 250
            except OSError:
                return False

        srv.wait_for(listening)  # the web answers first; the receiver starts beside it
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            assert (
                client.sendmail("bo@example.com", [trigger["address"]], b"Subject: hi\r\n\r\nhello\r\n") == {}
            )
        run_id = srv.wait_for(
            lambda: (
                (r := srv.call("GET", f"/api/v1/workflows/{wid}/runs")[1])["count"] == 1
                and r["results"][0]["id"]
            )
        )
        assert finished(srv, run_id)["output"]["got"]["subject"] == "hi"
    finally:
        drop_server(srv)
    with pytest.raises(OSError):  # stopped with serve
        smtplib.SMTP("127.0.0.1", port, timeout=5)
