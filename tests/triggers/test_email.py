"""trigger.email: mail sent with smtplib to the inbound SMTP server (aiosmtpd, in a thread
of this process so it shares the test database) starts runs; bad recipients are refused."""

import smtplib
import socket
from email.message import EmailMessage

import pytest

from runs.models import WorkflowRun
from tests.triggers.helpers import trigger_workflow

DOMAIN = "inbound.switchyard.local"


@pytest.fixture
def smtp(inline_queue, settings):
    from runs.intake.email import InboundMailHandler, make_controller

    settings.INBOUND_EMAIL_DOMAIN = DOMAIN
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = InboundMailHandler()
    controller = make_controller(host="127.0.0.1", port=port, max_bytes=300_000, handler=handler)
    controller.start()
    yield "127.0.0.1", port
    controller.stop()
    handler.close()


def mail_workflow(api, config=None, settings=None):
    return trigger_workflow(
        api,
        {"id": "inbox", "type": "trigger.email", "config": config or {}},
        {"subject": "{{ input.subject }}", "files": "{{ input.attachments | length }}"},
        settings=settings,
        name="inbox",
    )


def activate(api, wid) -> str:
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    assert res.status_code == 200, res.content
    trigger = res.json()["triggers"][0]
    assert trigger["type"] == "trigger.email" and trigger["url"] == f"mailto:{trigger['address']}"
    return trigger["address"]


def message(
    to, subject="Order 17", sender="Ann Lee <ann@example.com>", text="Please ship it.\n", msg_id=None
):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Tue, 14 Nov 2023 22:13:20 +0000"
    msg["Message-ID"] = msg_id or f"<{subject.replace(' ', '.')}@example.com>"
    msg.set_content(text)
    return msg


def send(server, msg, to=None, envelope_from="bounce@example.com"):
    with smtplib.SMTP(*server, timeout=30) as client:
        return client.send_message(msg, from_addr=envelope_from, to_addrs=to or [msg["To"]])


def test_a_plain_mail_starts_a_live_run_with_the_mail_fields(api, smtp):
    address = activate(api, mail_workflow(api))
    assert address.endswith(f"@{DOMAIN}") and address == address.lower()
    msg = message(address)
    msg["Cc"] = "Bo <bo@example.com>, cy@example.org"
    assert send(smtp, msg) == {}  # every recipient accepted
    run = WorkflowRun.objects.get()
    assert run.mode == "live" and run.trigger_type == "trigger.email" and run.status == "completed"
    assert run.input == {
        "from": "ann@example.com",
        "from_name": "Ann Lee",
        "to": [address],
        "cc": ["bo@example.com", "cy@example.org"],
        "reply_to": [],
        "recipient": address,
        "envelope_from": "bounce@example.com",
        "subject": "Order 17",
        "date": "2023-11-14T22:13:20+00:00",
        "message_id": "<Order.17@example.com>",
        "text": "Please ship it.\n",
        "html": "",
        "attachments": [],
    }
    assert run.output == {"subject": "Order 17", "files": 0}


def test_multipart_mail_gives_text_html_and_attachment_metadata(api, smtp):
    address = activate(api, mail_workflow(api))
    msg = message(address, subject="Invoice")
    msg.add_alternative("<p>Please <b>pay</b>.</p>", subtype="html")
    msg.add_attachment(
        b"%PDF-1.4 " + b"x" * 2000, maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    msg.add_attachment("a,b\n1,2\n", subtype="csv", filename="lines.csv")
    send(smtp, msg)
    run = WorkflowRun.objects.get()
    assert run.input["text"] == "Please ship it.\n"
    assert run.input["html"] == "<p>Please <b>pay</b>.</p>\n"
    assert run.input["attachments"] == [
        {"filename": "invoice.pdf", "content_type": "application/pdf", "size": 2009},
        {"filename": "lines.csv", "content_type": "text/csv", "size": 10},  # text travels with CRLF lines
    ]
    assert run.output == {"subject": "Invoice", "files": 2}


def test_unknown_addresses_and_other_domains_are_refused_at_rcpt(api, smtp):
    activate(api, mail_workflow(api))
    for to in (f"0123456789abcdef0123456789abcdef@{DOMAIN}", "someone@example.com"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(smtp, message(to))
        code, text = refused.value.recipients[to]
        assert code == 550, text
    assert WorkflowRun.objects.count() == 0


def test_an_inactive_workflow_refuses_mail(api, smtp):
    wid = mail_workflow(api)
    address = activate(api, wid)
    api.post(f"/api/v1/workflows/{wid}/deactivate", {}, format="json")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp, message(address))
    assert refused.value.recipients[address][0] == 550
    assert b"no active email trigger" in refused.value.recipients[address][1]
    assert activate(api, wid) == address  # re-activation keeps the address
    send(smtp, message(address))
    assert WorkflowRun.objects.count() == 1


def test_addresses_are_case_insensitive_and_one_mail_reaches_each_trigger(api, smtp):
    first = activate(api, mail_workflow(api))
    second = activate(api, mail_workflow(api))
    refused = send(smtp, message(first.upper()), to=[first.upper(), second, f"nobody@{DOMAIN}"])
    assert list(refused) == [f"nobody@{DOMAIN}"]  # the others took it
    runs = WorkflowRun.objects.all()
    assert sorted(r.input["recipient"] for r in runs) == sorted([first, second])


@pytest.mark.parametrize(
    ("config", "sender", "subject", "runs"),
    [
        ({"from_filter": ["ann@example.com"]}, "ANN@example.com", "x", True),
        ({"from_filter": ["@example.org"]}, "ann@example.com", "x", False),
        ({"from_filter": ["@example.org", "@Example.com"]}, "ann@example.com", "x", True),
        ({"subject_contains": "invoice"}, "ann@example.com", "Your INVOICE 17", True),
        ({"subject_contains": "invoice"}, "ann@example.com", "Hello", False),
    ],
)
def test_from_and_subject_filters(api, smtp, config, sender, subject, runs):
    address = activate(api, mail_workflow(api, config))
    assert (
        send(smtp, message(address, subject=subject, sender=sender)) == {}
    )  # filtered mail is still accepted
    assert WorkflowRun.objects.count() == (1 if runs else 0)


def test_a_resent_message_id_starts_no_second_run(api, smtp):
    address = activate(api, mail_workflow(api))
    send(smtp, message(address, msg_id="<same@example.com>"))
    send(smtp, message(address, msg_id="<same@example.com>"))
    send(smtp, message(address, msg_id="<other@example.com>"))
    assert WorkflowRun.objects.count() == 2


def test_over_the_daily_limit_the_sender_is_told_to_retry_later(api, smtp):
    address = activate(api, mail_workflow(api, settings={"max_runs_per_day": 1}))
    send(smtp, message(address, msg_id="<one@example.com>"))
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        send(smtp, message(address, msg_id="<two@example.com>"))
    assert deferred.value.smtp_code == 451 and b"limit of 1 runs per day" in deferred.value.smtp_error
    assert WorkflowRun.objects.count() == 1


def test_mail_over_the_size_limit_is_refused(api, smtp):
    address = activate(api, mail_workflow(api))
    big = message(address, text="x" * 400_000)
    with pytest.raises(smtplib.SMTPException) as refused:
        send(smtp, big)
    assert refused.value.smtp_code == 552
    assert WorkflowRun.objects.count() == 0


def test_bad_sender_filters_are_rejected_on_save(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "edges": [],
        "nodes": [{"id": "inbox", "type": "trigger.email", "config": {"from_filter": ["not-an-address"]}}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400
    assert res.json()["error"]["details"]["errors"][0]["field"] == "config.from_filter.0"
