"""`manage.py inbound_smtp`: receive mail for email triggers (`<token>@INBOUND_EMAIL_DOMAIN`).

Run it behind the domain's MX (or a relay that forwards that domain to it). It refuses
unknown and inactive addresses at RCPT, answers 250 only once the runs are stored and 451
on a transient failure, until SIGINT/SIGTERM."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from runs.intake.email import DEFAULT_MAX_BYTES, InboundMailHandler, make_controller


class Command(BaseCommand):
    help = "Receive mail for email triggers over SMTP and start their runs."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on (default 2525)")
        parser.add_argument(
            "--max-size",
            type=int,
            default=DEFAULT_MAX_BYTES,
            help=f"largest message accepted, in bytes (default {DEFAULT_MAX_BYTES})",
        )

    def handle(self, *args, host, port, max_size, **options):
        if max_size <= 0:
            raise CommandError("--max-size must be a positive number of bytes")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        handler = InboundMailHandler()
        controller = make_controller(host=host, port=port, max_bytes=max_size, handler=handler)
        try:
            controller.start()
        except Exception as exc:
            handler.close()
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write(
            f"Receiving mail for @{settings.INBOUND_EMAIL_DOMAIN} on {host}:{port} "
            f"(messages up to {max_size} bytes)"
        )
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            controller.stop()
            handler.close()
