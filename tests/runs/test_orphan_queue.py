"""Orphan recovery asks the broker first: a run whose task is still queued (a backlog
longer than RUN_ORPHAN_SECONDS) is not queued a second time, and runs its nodes once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers.redis_broker import Redis
from django_q.signing import SignedPackage

from runs import queue, services, timekeeping
from runs.models import NodeExecution, WorkflowRun
from runs.tasks import execute_run
from tests.connectors.api_server import ApiServer
from workflows.models import Workflow

from .test_run_api import START, workflow


@pytest.fixture
def broker(transactional_db, settings):
    from runs.engine_host import scheduler

    settings.ALLOW_PRIVATE_OUTBOUND = True
    scheduler.cache_clear()
    broker = queue._broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()
    scheduler.cache_clear()


def tasks_of(broker, run_id) -> int:
    if isinstance(broker, Redis):
        packages = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        packages = broker.get_connection().filter(key=broker.list_key).values_list("payload", flat=True)
    tasks = [SignedPackage.loads(p.decode() if isinstance(p, bytes) else p) for p in packages]
    return sum(t["func"] == queue.TASK and t["args"] == (str(run_id),) for t in tasks)


def test_a_queued_orphan_is_not_queued_twice_and_runs_its_nodes_once(api, broker, settings):
    settings.RUN_ORPHAN_SECONDS = 60
    server = ApiServer()
    try:
        hits = []
        server.route("POST", "/side-effect", lambda seen: (hits.append(1) or 200, {"ok": True}))
        wid = workflow(
            api,
            [
                START,
                {
                    "id": "post",
                    "type": "http.request",
                    "config": {"method": "POST", "url": server.url("/side-effect")},
                },
            ],
            [{"source": "start", "target": "post"}],
        )
        run = services.start_run(workflow=Workflow.objects.get(pk=wid), input={})  # queued
        assert tasks_of(broker, run.pk) == 1
        # a backlog: no worker has taken it for longer than RUN_ORPHAN_SECONDS
        WorkflowRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=120))
        timekeeping.recover_orphaned_runs()
        timekeeping.recover_orphaned_runs(now=timezone.now() + timedelta(seconds=61))
        assert tasks_of(broker, run.pk) == 1
        assert WorkflowRun.objects.get(pk=run.pk).orphan_requeues == 0

        for _ in range(tasks_of(broker, run.pk)):  # the worker gets to it
            execute_run(str(run.pk))
        run.refresh_from_db()
        assert run.status == "completed" and len(hits) == 1
        assert NodeExecution.objects.get(run=run, node_id="post").attempts == 1

        # a run whose task really is gone is queued again
        lost = services.start_run(workflow=Workflow.objects.get(pk=wid), input={}, enqueue=False)
        WorkflowRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(seconds=120))
        assert timekeeping.recover_orphaned_runs() == 1
        assert tasks_of(broker, lost.pk) == 1
    finally:
        server.close()
