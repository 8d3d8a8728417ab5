"""`manage.py timekeeper`: resumes waiting runs when due, hands runs whose worker died back
to the queue, and prunes old runs. Safe to run on several hosts: every claim is atomic."""
import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from runs import services

logger = logging.getLogger("switchyard.timekeeper")

TICK_S = 0.5
PRUNE_EVERY_S = 3600


class Command(BaseCommand):
    help = "Resume due waiting runs, hand back runs whose lease expired, prune old runs."

    def handle(self, *args, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        last_prune = 0.0
        while not stopping:
            try:
                services.resume_due_runs()
                services.reap_expired_leases()
                if time.monotonic() - last_prune > PRUNE_EVERY_S:
                    pruned = services.prune_finished_runs()
                    if pruned:
                        logger.info("pruned %s old run rows", pruned)
                    last_prune = time.monotonic()
            except Exception:  # keep ticking through a database hiccup
                logger.exception("timekeeper tick failed")
                close_old_connections()
            time.sleep(TICK_S)
