"""Side effects a node starts through the host happen once per node instance: a node re-run
after a takeover (its first call started them, but the process lost the run before storing
that) gets the child run or callback token already started instead of a second one; a
retry after the node took the child's failure (or the callback's payload, or after the
callback expired) starts a new one."""

import pytest
from django.utils import timezone

from runs import services
from runs.engine_host import DjangoServices
from runs.models import WorkflowRun
from workflows.models import Workflow

from .test_run_api import START, workflow

pytestmark = pytest.mark.django_db


def test_the_child_of_a_node_instance_is_started_once(api):
    child = workflow(api, [START], [], name="child")
    parent_id = workflow(
        api,
        [START, {"id": "sub", "type": "flow.subworkflow", "config": {"workflow": "x"}}],
        [{"source": "start", "target": "sub"}],
    )
    parent = services.start_run(workflow=Workflow.objects.get(pk=parent_id), input={}, enqueue=False)
    host = DjangoServices()
    start = dict(parent_run_id=str(parent.pk), parent_node_id="sub", workflow_id=child, input={}, wait=True)

    first = host.start_child_run(**start)
    assert host.start_child_run(**start) == first  # the node re-run after a takeover
    assert WorkflowRun.objects.filter(workflow_id=child).count() == 1

    in_loop = {host.start_child_run(**start, iteration=i) for i in (0, 1, 0)}
    assert len(in_loop) == 2 and first not in in_loop  # one per loop iteration
    assert WorkflowRun.objects.get(pk=host.start_child_run(**start, iteration=1)).parent_iteration == 1

    detached = {**start, "parent_node_id": "fire", "wait": False}
    assert host.start_child_run(**detached) == host.start_child_run(**detached)  # not waited for: once too

    WorkflowRun.objects.filter(pk=first).update(status="completed")
    assert host.start_child_run(**start) == first  # finished: its result is the node's
    WorkflowRun.objects.filter(pk=first).update(status="failed")
    # Failed before the node took its result (the process lost the parent first): the
    # node's re-run waits on that child and gets its failure; it is not started again.
    assert host.start_child_run(**start) == first
    WorkflowRun.objects.filter(pk=first).update(parent_resumed_at=timezone.now())
    retried = host.start_child_run(**start)  # the node's retry after it took the failure
    assert retried != first and host.start_child_run(**start) == retried
    assert WorkflowRun.objects.filter(workflow_id=child).count() == 5


def test_a_callback_node_re_run_after_a_takeover_waits_on_the_url_it_handed_out(api):
    """The first attempt created the callback and may have sent its URL away before the
    process lost the run: the re-run gets the same token, not one nobody will call."""
    from datetime import timedelta

    from runs.callbacks import create_callback
    from runs.models import CorrelationToken

    run = services.start_run(workflow=Workflow.objects.get(pk=workflow(api, [START], [])), enqueue=False)
    token = dict(run_id=str(run.pk), node_id="wait", expires_in_s=3600)
    first = create_callback(**token, iteration=None)
    assert create_callback(**token, iteration=None) == first
    assert create_callback(**token, iteration=0)["token"] != first["token"]  # another loop iteration

    assert first["delivered"] is False
    CorrelationToken.objects.filter(token=first["token"]).update(used_at=timezone.now())
    # Called back but not consumed (the first attempt's wait was never stored): the re-run
    # waits on the same token, already delivered, and is resumed with its payload.
    early = create_callback(**token, iteration=None)
    assert early["token"] == first["token"] and early["delivered"] is True
    CorrelationToken.objects.filter(token=first["token"]).update(consumed_at=timezone.now())
    used = create_callback(**token, iteration=None)  # e.g. a retry after the node resumed with it
    assert used["token"] != first["token"] and used["delivered"] is False
    CorrelationToken.objects.filter(token=used["token"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert create_callback(**token, iteration=None)["token"] != used["token"]  # expired: a new one
