"""`manage.py queue_triggers`: consume messages for every active `trigger.queue` (one run per
message, acknowledged once the run is stored) until SIGINT/SIGTERM. `serve` starts it."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from connectors.adapters.pool import pool
from runs.intake.queue import QueueTriggerListener


class Command(BaseCommand):
    help = "Start runs from queue messages for active trigger.queue nodes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll", type=float, default=2.0, help="seconds between looks for (de)activations"
        )

    def handle(self, *args, poll, **options):
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        listener = QueueTriggerListener()
        try:
            listener.run_forever(stop, poll_s=poll)
        finally:
            pool.close_all()
