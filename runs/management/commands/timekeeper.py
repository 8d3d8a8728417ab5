"""`manage.py timekeeper`: fires due schedule triggers, resumes waiting runs when due, hands
runs whose worker died back to the queue, and prunes old runs. Safe to run on several hosts:
every claim is atomic.

Schedules: django-q2's cluster runs its scheduler only about every 30 s, too coarse for
per-minute (or per-second) cron; the timekeeper runs the same scheduler every tick. On
start-up it first repairs schedule rows (`workflows.triggers.schedules.ensure_schedules`); a slot
missed while everything was down then fires once on the first tick."""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from runs import timekeeping
from workflows.triggers import schedules

logger = logging.getLogger("switchyard.timekeeper")

TICK_S = 0.5
PRUNE_EVERY_S = 3600
SWEEP_EVERY_S = 30  # connector calls left `executing` by a finished run


class Command(BaseCommand):
    help = "Fire due schedules, resume due waiting runs, hand back runs whose lease expired, prune old runs."

    def handle(self, *args, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        last_prune = last_sweep = 0.0
        try:
            armed = schedules.ensure_schedules()
            if armed:
                logger.info("armed %s schedule trigger(s) that had no pending slot", armed)
        except Exception:
            logger.exception("could not check schedule triggers at start-up")
            close_old_connections()
        fire_due_schedules = schedules.DueScheduleRunner()
        while not stopping:
            try:
                fire_due_schedules()
                timekeeping.resume_due_runs()
                timekeeping.reap_expired_leases()
                timekeeping.recover_orphaned_runs()
                if time.monotonic() - last_sweep > SWEEP_EVERY_S:
                    if closed := timekeeping.close_abandoned_executions():
                        logger.warning("marked %s abandoned connector call(s) failed", closed)
                    last_sweep = time.monotonic()
                if time.monotonic() - last_prune > PRUNE_EVERY_S:
                    pruned = timekeeping.prune_finished_runs()
                    if pruned:
                        logger.info("pruned %s old run rows", pruned)
                    last_prune = time.monotonic()
            except Exception:  # keep ticking through a database hiccup
                logger.exception("timekeeper tick failed")
                close_old_connections()
            time.sleep(TICK_S)
