"""Inbound mail for `trigger.email`: each active email trigger has the address
`<token>@INBOUND_EMAIL_DOMAIN`; a mail to it starts a live run (`manage.py inbound_smtp`).

The SMTP side refuses an unknown or inactive address at RCPT (550) so nothing is queued for
nobody, and answers DATA 250 only once every run is committed; a transient failure
(database, daily limit) answers 451 so the sending server retries later, and the retry
finds the runs already stored (idempotent on Message-ID, per trigger). Database work runs on
one worker thread, off the SMTP event loop."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction

from workflows.models import Workflow

from .. import services
from . import active_trigger
from .start import idempotency_key

logger = logging.getLogger("switchyard.triggers")

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


# -- parsing -----------------------------------------------------------------------------


def _addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    """[(address, display name)] of an address header; [] when absent or unparseable."""
    try:
        header = msg[name]
        if header is None:
            return []
        return [(a.addr_spec, a.display_name) for a in getattr(header, "addresses", ()) if a.addr_spec]
    except Exception:  # a malformed header is data, not a reason to refuse the mail
        return []


def _text_of(part: EmailMessage | None) -> str:
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # unknown charset or broken encoding: keep what decodes
        text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return text.replace("\r\n", "\n")  # SMTP carries CRLF lines; workflows see plain newlines


def _size_of(part: EmailMessage) -> int:
    if part.get_content_maintype() == "message":  # an attached mail: its whole bytes
        inner = part.get_payload(0) if part.is_multipart() else None
        return len(inner.as_bytes()) if inner is not None else len(str(part.get_payload()).encode())
    return len(part.get_payload(decode=True) or b"")


def _attachment_parts(part: EmailMessage, bodies: list[EmailMessage]):
    if part.get_content_maintype() == "multipart":
        for sub in part.iter_parts():
            yield from _attachment_parts(sub, bodies)
    elif not any(part is body for body in bodies):
        yield part


def parse_email(raw: bytes) -> dict[str, Any]:
    """The trigger payload's mail fields: from, to, cc, subject, date, message_id, text,
    html and attachment metadata ({filename, content_type, size}; the bytes are not kept)."""
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    sender = _addresses(msg, "from")
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    bodies = [p for p in (text_part, html_part) if p is not None]
    date = None
    try:
        when = msg["date"].datetime if msg["date"] is not None else None
        date = when.isoformat() if when else None
    except Exception:
        date = None
    return {
        "from": sender[0][0] if sender else "",
        "from_name": sender[0][1] if sender else "",
        "to": [a for a, _ in _addresses(msg, "to")],
        "cc": [a for a, _ in _addresses(msg, "cc")],
        "reply_to": [a for a, _ in _addresses(msg, "reply-to")],
        "subject": str(msg["subject"] or ""),
        "date": date,
        "message_id": str(msg["message-id"] or "").strip(),
        "text": _text_of(text_part),
        "html": _text_of(html_part),
        "attachments": [
            {"filename": p.get_filename(), "content_type": p.get_content_type(), "size": _size_of(p)}
            for p in _attachment_parts(msg, bodies)
        ],
    }


# -- recipients and filters --------------------------------------------------------------


@dataclass(frozen=True)
class EmailTrigger:
    workflow: Workflow
    node: dict
    address: str


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    return local, domain


def is_our_domain(address: str) -> bool:
    return split_address(address)[1] == settings.INBOUND_EMAIL_DOMAIN.lower()


def find_trigger(address: str) -> EmailTrigger | None:
    """The active email trigger at `address` (any case), or None."""
    local, domain = split_address(address)
    if domain != settings.INBOUND_EMAIL_DOMAIN.lower() or not local:
        return None
    found = active_trigger(local, "trigger.email")
    if found is None:
        return None
    return EmailTrigger(workflow=found.workflow, node=found.node, address=f"{local}@{domain}")


def filter_reason(config: dict, mail: dict) -> str | None:
    """Why the trigger leaves this mail out, or None when it should start a run."""
    wanted = [w.strip().lower() for w in config.get("from_filter") or []]
    if wanted:
        sender = mail["from"].lower()
        domain = "@" + sender.rpartition("@")[2]
        if sender not in wanted and domain not in wanted:
            return f"mail from {mail['from'] or 'no sender'} is not selected"
    needle = (config.get("subject_contains") or "").lower()
    if needle and needle not in mail["subject"].lower():
        return "the subject does not contain the trigger's text"
    return None


class DeliveryDeferred(Exception):
    """The mail cannot be taken now (e.g. a daily run limit); the sender should retry."""


class NoActiveRecipient(Exception):
    """No recipient is an active email trigger (any more): the mail is refused."""


def deliver(*, raw: bytes, envelope_from: str, recipients: list[str]) -> list[str]:
    """Start one live run per active email trigger among `recipients` whose filters match
    the mail; the run ids (a redelivered Message-ID yields the same runs). All runs commit
    together. Raises NoActiveRecipient when no recipient is an active trigger any more."""
    triggers = [t for t in (find_trigger(r) for r in dict.fromkeys(recipients)) if t is not None]
    if not triggers:
        raise NoActiveRecipient("no active email trigger among the recipients")
    mail = parse_email(raw)
    event_id = mail["message_id"] or "sha256:" + hashlib.sha256(raw).hexdigest()
    run_ids = []
    with transaction.atomic():
        for trigger in triggers:
            reason = filter_reason(trigger.node.get("config") or {}, mail)
            if reason:
                logger.info("mail to %s ignored: %s", trigger.address, reason)
                continue
            payload = {**mail, "recipient": trigger.address, "envelope_from": envelope_from or ""}
            try:
                run = services.start_run(
                    workflow=trigger.workflow,
                    input=payload,
                    mode="live",
                    trigger_node=trigger.node["id"],
                    trigger_type="trigger.email",
                    version=trigger.workflow.active_version,
                    idempotency_key=idempotency_key("email", trigger.node["id"], event_id),
                    enforce_daily_limit=True,
                )
            except services.RunRefused as exc:
                raise DeliveryDeferred(exc.message) from exc
            run_ids.append(str(run.pk))
    return run_ids


# -- SMTP --------------------------------------------------------------------------------


class InboundMailHandler:
    """aiosmtpd handler: RCPT checks the address, DATA starts the runs."""

    def __init__(self) -> None:
        # One thread for database work: Django connections are per thread, and mail is
        # taken one message at a time per connection anyway.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbound-smtp-db")

    async def _in_db_thread(self, fn, *args, **kwargs):
        def call():
            close_old_connections()
            return fn(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not is_our_domain(address):
            return f"550 5.7.1 <{address}>: this server only takes mail for @{settings.INBOUND_EMAIL_DOMAIN}"
        try:
            trigger = await self._in_db_thread(find_trigger, address)
        except Exception:
            logger.exception("looking up %s failed", address)
            return "451 4.3.0 Temporary failure looking up the recipient; try again later"
        if trigger is None:
            return f"550 5.1.1 <{address}>: no active email trigger at this address"
        if trigger.address not in envelope.rcpt_tos:
            envelope.rcpt_tos.append(trigger.address)
            envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            run_ids = await self._in_db_thread(
                deliver, raw=raw, envelope_from=envelope.mail_from or "", recipients=list(envelope.rcpt_tos)
            )
        except NoActiveRecipient:
            return "550 5.1.1 No active email trigger among the recipients"
        except DeliveryDeferred as exc:
            return f"451 4.7.1 {exc}"
        except Exception:
            logger.exception("delivering mail from %s failed", envelope.mail_from)
            return "451 4.3.0 Temporary failure storing the mail; try again later"
        logger.info("mail from %s to %s: runs %s", envelope.mail_from, envelope.rcpt_tos, run_ids)
        return f"250 2.0.0 Accepted: {len(run_ids)} run(s) started"

    def close(self) -> None:
        """Close the database thread's connections and stop it."""
        self._db.submit(connections.close_all).result()
        self._db.shutdown(wait=True)


def make_controller(
    *,
    host: str = "127.0.0.1",
    port: int = 2525,
    max_bytes: int = DEFAULT_MAX_BYTES,
    handler: InboundMailHandler | None = None,
):
    """An aiosmtpd Controller (its own thread and event loop) for the inbound handler."""
    from aiosmtpd.controller import Controller

    return Controller(
        handler or InboundMailHandler(),
        hostname=host,
        port=port,
        data_size_limit=max_bytes,
        server_hostname=settings.INBOUND_EMAIL_DOMAIN,
        enable_SMTPUTF8=True,
    )
