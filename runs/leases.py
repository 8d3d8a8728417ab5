"""Run ownership: one worker holds a run through a lease that it renews while working.
A worker that dies stops renewing; the timekeeper hands the run back to the queue."""
from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from .models import RunStatus, WorkflowRun


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(run_id: str, owner: str) -> bool:
    """Take the run's lease if it is free or expired. Atomic: one winner."""
    now = timezone.now()
    return bool(
        WorkflowRun.objects.filter(pk=run_id)
        .exclude(status__in=RunStatus.terminal())
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner))
        .update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=settings.RUN_LEASE_SECONDS))
    )


def renew(run_id: str, owner: str) -> bool:
    return bool(
        WorkflowRun.objects.filter(pk=run_id, lease_owner=owner).update(
            lease_expires_at=timezone.now() + timedelta(seconds=settings.RUN_LEASE_SECONDS)
        )
    )


def release(run_id: str, owner: str) -> None:
    WorkflowRun.objects.filter(pk=run_id, lease_owner=owner).update(lease_owner="", lease_expires_at=None)


class Heartbeat:
    """Renews a lease every third of its length on a background thread."""

    def __init__(self, run_id: str, owner: str):
        self.run_id, self.owner = run_id, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id[:8]}", daemon=True)

    def _beat(self):
        interval = max(1.0, settings.RUN_LEASE_SECONDS / 3)
        try:
            while not self._stop.wait(interval):
                renew(self.run_id, self.owner)
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
