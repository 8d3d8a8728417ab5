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


def wake_run(*, run_id) -> None:
    """Something the run waits for arrived: queue it now instead of at its resume time."""
    WorkflowRun.objects.filter(pk=run_id, status=RunStatus.WAITING).update(resume_at=None)
    enqueue_run(run_id)


def child_finished(*, child: WorkflowRun, status: str, output: Any, error: Any) -> None:
    """A sub-workflow run ended: resume the parent node that waits for it."""
    wake_run(run_id=child.parent_run_id)
