"""The run queue: hand a run to a Django-Q worker once the current transaction commits,
and wake runs whose awaited event arrived. The only module of `runs` that talks to
Django-Q (its entry points are in `runs.tasks`)."""

from __future__ import annotations

import os
from typing import Any

from django.db import transaction

from .models import RunStatus, WorkflowRun

TASK = "runs.tasks.execute_run"

_brokers: dict[int, Any] = {}


def _broker():
    """This process's Django-Q broker (a Redis broker holds a connection pool: building one
    per task cost a connection per run)."""
    from django_q.brokers import get_broker

    pid = os.getpid()
    if pid not in _brokers:
        _brokers.clear()  # a forked child builds its own
        _brokers[pid] = get_broker()
    return _brokers[pid]


def enqueue_run(run_id: str) -> None:
    """Hand the run to a worker once the current transaction commits."""

    def push():
        from django_q.conf import Conf
        from django_q.tasks import async_task

        options = {} if Conf.SYNC else {"broker": _broker()}
        # save=False: the run row is the record; a Django-Q success row per run is only cost
        async_task(TASK, str(run_id), task_name=f"run {run_id}", ack_failure=True, save=False, **options)

    transaction.on_commit(push)


# The most queued tasks `queued_runs` reads; with more in the broker it cannot tell.
QUEUE_SCAN_LIMIT = 20_000


def queued_runs(run_ids) -> set[str] | None:
    """Which of `run_ids` have a task waiting in the broker (queued, or taken by a worker and
    not yet acknowledged, on the ORM broker). None when that cannot be told: the broker
    holds more than QUEUE_SCAN_LIMIT tasks, or cannot be read. A task a cluster has already
    taken from a Redis list into its own memory is not seen (it runs shortly)."""
    from django_q.brokers.orm import ORM
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf
    from django_q.signing import SignedPackage

    wanted = {str(r) for r in run_ids}
    if not wanted or Conf.SYNC:
        return set()
    broker = _broker()
    try:
        if isinstance(broker, Redis):
            if broker.queue_size() > QUEUE_SCAN_LIMIT:
                return None
            packages = broker.connection.lrange(broker.list_key, 0, QUEUE_SCAN_LIMIT)
        elif isinstance(broker, ORM):
            rows = broker.get_connection().filter(key=broker.list_key)
            packages = list(rows.values_list("payload", flat=True)[: QUEUE_SCAN_LIMIT + 1])
            if len(packages) > QUEUE_SCAN_LIMIT:
                return None
        else:
            return None
    except Exception:  # noqa: BLE001 - an unreadable broker: nothing can be told
        return None
    found = set()
    for package in packages:
        try:
            task = SignedPackage.loads(package.decode() if isinstance(package, bytes) else package)
        except Exception:  # noqa: BLE001 - another cluster's or a damaged package: not ours
            continue
        args = task.get("args") or ()
        if task.get("func") == TASK and args and str(args[0]) in wanted:
            found.add(str(args[0]))
    return found


def look_again_at():
    """When the timekeeper checks that a queued resume really started (`resume_at` of a run
    handed to the queue while waiting): RUN_ORPHAN_SECONDS from now."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    return timezone.now() + timedelta(seconds=settings.RUN_ORPHAN_SECONDS)


def wake_run(*, run_id) -> None:
    """Something the run waits for arrived: queue it now instead of at its resume time. If
    that task is lost (e.g. every worker was killed), the timekeeper queues the run again
    at `look_again_at` (a worker that advances it sets its own resume time)."""
    WorkflowRun.objects.filter(pk=run_id, status=RunStatus.WAITING).update(resume_at=look_again_at())
    enqueue_run(run_id)


def child_finished(*, child: WorkflowRun, status: str, output: Any, error: Any) -> None:
    """A sub-workflow run ended: resume the parent node that waits for it."""
    wake_run(run_id=child.parent_run_id)
