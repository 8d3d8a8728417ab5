"""The timekeeper's jobs: resume due waiting runs, reap expired leases, prune old runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs import leases, services, timekeeping
from runs.models import ExecutionLog, NodeExecution, WorkflowRun
from workflows import services as wf_services
from workflows.models import Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(alice):
    ws = Workspace.objects.create(name="w")
    return wf_services.create_workflow(
        user=alice,
        workspace=ws,
        document={
            "schema": "switchyard.workflow/1",
            "nodes": [{"id": "start", "type": "trigger.manual"}],
            "edges": [],
        },
    )


@pytest.fixture
def queued(monkeypatch):
    """Record what would be handed to the queue instead of running it."""
    pushed = []
    monkeypatch.setattr(timekeeping, "enqueue_run", lambda run_id: pushed.append(str(run_id)))
    return pushed


def test_due_waiting_runs_are_queued_once(workflow, queued):
    run = services.start_run(workflow=workflow, enqueue=False)
    WorkflowRun.objects.filter(pk=run.pk).update(
        status="waiting", resume_at=timezone.now() - timedelta(seconds=1)
    )
    later = services.start_run(workflow=workflow, enqueue=False)
    WorkflowRun.objects.filter(pk=later.pk).update(
        status="waiting", resume_at=timezone.now() + timedelta(hours=1)
    )
    assert timekeeping.resume_due_runs() == 1
    assert timekeeping.resume_due_runs() == 0  # claimed: not queued twice
    assert queued == [str(run.pk)]


def test_run_whose_lease_expired_goes_back_to_the_queue(workflow, queued):
    run = services.start_run(workflow=workflow, enqueue=False)
    assert leases.acquire(str(run.pk), "dead-worker")
    WorkflowRun.objects.filter(pk=run.pk).update(
        status="running", lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert timekeeping.reap_expired_leases() == 1
    assert queued == [str(run.pk)]
    assert leases.acquire(str(run.pk), "new-worker")  # the lease is free for the next worker


def test_live_lease_is_not_reaped_and_cannot_be_taken(workflow, queued):
    run = services.start_run(workflow=workflow, enqueue=False)
    assert leases.acquire(str(run.pk), "worker-a")
    WorkflowRun.objects.filter(pk=run.pk).update(status="running")
    assert timekeeping.reap_expired_leases() == 0
    assert not leases.acquire(str(run.pk), "worker-b")


def test_finished_run_cannot_be_leased_again(workflow):
    run = services.start_run(workflow=workflow, enqueue=False)
    WorkflowRun.objects.filter(pk=run.pk).update(status="completed")
    assert not leases.acquire(str(run.pk), "late-worker")


def test_prune_deletes_only_finished_runs_past_retention(workflow, settings):
    settings.RUN_RETENTION_DAYS = 30
    old = services.start_run(workflow=workflow, enqueue=False)
    recent = services.start_run(workflow=workflow, enqueue=False)
    waiting_old = services.start_run(workflow=workflow, enqueue=False)
    long_ago = timezone.now() - timedelta(days=31)
    WorkflowRun.objects.filter(pk=old.pk).update(status="completed", completed_at=long_ago)
    WorkflowRun.objects.filter(pk=recent.pk).update(status="failed", completed_at=timezone.now())
    WorkflowRun.objects.filter(pk=waiting_old.pk).update(status="waiting", created_at=long_ago)
    NodeExecution.objects.create(run=old, node_id="start", status="succeeded")
    ExecutionLog.objects.create(run=old, timestamp=long_ago, message="x")
    timekeeping.prune_finished_runs()
    assert set(WorkflowRun.objects.values_list("pk", flat=True)) == {recent.pk, waiting_old.pk}
    assert not NodeExecution.objects.filter(run_id=old.pk).exists()
    assert not ExecutionLog.objects.filter(run_id=old.pk).exists()


def test_idempotency_key_returns_the_first_run(workflow):
    first = services.start_run(workflow=workflow, idempotency_key="abc", enqueue=False)
    again = services.start_run(workflow=workflow, idempotency_key="abc", enqueue=False)
    assert first.pk == again.pk and WorkflowRun.objects.count() == 1


def _age(run, seconds):
    WorkflowRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


def test_an_unfinished_run_without_worker_or_queue_entry_is_queued_again(workflow, queued, settings):
    """Its lease was let go (the worker failed, or its queue message was lost): nothing
    would ever pick it up again."""
    settings.RUN_ORPHAN_SECONDS = 60
    fresh = services.start_run(workflow=workflow, enqueue=False)
    stuck = services.start_run(workflow=workflow, enqueue=False)
    _age(stuck, 120)
    assert timekeeping.recover_orphaned_runs() == 1
    assert queued == [str(stuck.pk)]
    assert timekeeping.recover_orphaned_runs() == 0  # not again before RUN_ORPHAN_SECONDS
    assert WorkflowRun.objects.get(pk=fresh.pk).status == "pending"  # young: just queued
    later = timezone.now() + timedelta(seconds=61)
    timekeeping.recover_orphaned_runs(now=later)
    assert queued.count(str(stuck.pk)) == 2


def test_a_started_run_that_keeps_losing_its_worker_is_failed_with_the_reason(workflow, queued, settings):
    settings.RUN_ORPHAN_SECONDS, settings.RUN_MAX_REQUEUES = 60, 2
    run = services.start_run(workflow=workflow, enqueue=False)
    assert leases.acquire(str(run.pk), "worker")
    leases.release(str(run.pk), "worker")
    _age(run, 120)
    now = timezone.now()
    for step in range(3):
        timekeeping.recover_orphaned_runs(now=now + timedelta(seconds=61 * step))
    assert len(queued) == 2
    run.refresh_from_db()
    assert run.status == "failed"
    assert "never finished" in run.error["message"] and run.completed_at


def test_a_run_the_engine_cannot_advance_is_failed_with_the_reason(api, workflow, settings):
    """Input nested 950 deep cannot be encoded for storage: the run must end failed, saying
    why, instead of staying pending once its lease is let go."""
    from django.db import connection

    from runs.tasks import execute_run

    run = services.start_run(workflow=workflow, input={}, enqueue=False)
    deep = '{"a":' * 950 + "{}" + "}" * 950
    with connection.cursor() as cursor:
        table, column = WorkflowRun._meta.db_table, WorkflowRun._meta.get_field("input").column
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE id = %s",
            [deep, run.pk.hex if connection.vendor == "sqlite" else run.pk],
        )
    assert execute_run(str(run.pk)) == "failed"
    stored = WorkflowRun.objects.filter(pk=run.pk).values("status", "lease_owner", "error").get()
    assert stored["status"] == "failed" and stored["lease_owner"] == ""
    assert stored["error"]["message"].startswith("the run could not be executed: RecursionError")


def _waiting(workflow, resume_at):
    run = services.start_run(workflow=workflow, enqueue=False)
    WorkflowRun.objects.filter(pk=run.pk).update(status="waiting", resume_at=resume_at)
    return run


def test_a_resumed_run_whose_task_never_started_is_resumed_again(workflow, queued, settings):
    """The timekeeper queued a due waiting run, then the cluster was killed with the task:
    the run, still `waiting`, is queued again once RUN_ORPHAN_SECONDS have passed."""
    settings.RUN_ORPHAN_SECONDS = 60
    run = _waiting(workflow, timezone.now() - timedelta(seconds=1))
    assert timekeeping.resume_due_runs() == 1
    assert timekeeping.resume_due_runs() == 0  # not twice at once
    later = timezone.now() + timedelta(seconds=61)
    assert timekeeping.resume_due_runs(now=later) == 1
    assert queued == [str(run.pk), str(run.pk)]


def test_a_run_woken_by_an_event_whose_task_was_lost_is_resumed_later(
    workflow, queued, settings, monkeypatch
):
    """A callback arrived (or a child run finished) for a run waiting with no resume time;
    the task that would continue it is lost: the timekeeper picks the run up."""
    from runs import queue

    settings.RUN_ORPHAN_SECONDS = 60
    run = _waiting(workflow, None)
    monkeypatch.setattr(queue, "enqueue_run", lambda run_id: None)  # the task is lost
    queue.wake_run(run_id=run.pk)
    assert timekeeping.resume_due_runs() == 0
    assert timekeeping.resume_due_runs(now=timezone.now() + timedelta(seconds=61)) == 1
    assert queued == [str(run.pk)]


def test_a_resume_that_a_worker_continued_is_not_counted_and_one_that_never_starts_fails(
    workflow, queued, settings
):
    from runs.store import OrmStore

    settings.RUN_ORPHAN_SECONDS, settings.RUN_MAX_REQUEUES = 60, 2
    run = _waiting(workflow, timezone.now() - timedelta(seconds=1))
    now = timezone.now()
    for step in range(2):
        timekeeping.resume_due_runs(now=now + timedelta(seconds=61 * step))
    assert WorkflowRun.objects.get(pk=run.pk).orphan_requeues == 2
    OrmStore().save_run(str(run.pk), status="waiting", resume_at=now)  # a worker parked it again
    assert WorkflowRun.objects.get(pk=run.pk).orphan_requeues == 0

    for step in range(3):
        timekeeping.resume_due_runs(now=now + timedelta(seconds=61 * (step + 2)))
    run.refresh_from_db()
    assert run.status == "failed" and "no worker continued it" in run.error["message"]
    assert len(queued) == 4
