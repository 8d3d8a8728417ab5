"""flow.subworkflow starts one child per node instance: a node re-run after a takeover
(its first call started the child, but the process lost the run before storing that) gets
the child already started instead of starting a second one; a retry after the child
failed starts a new one."""

import pytest

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
    retried = host.start_child_run(**start)  # the node's retry after the child failed
    assert retried != first and host.start_child_run(**start) == retried
    assert WorkflowRun.objects.filter(workflow_id=child).count() == 5
