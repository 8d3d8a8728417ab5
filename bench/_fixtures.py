"""Bulk-inserted run history for the benchmarks: many finished runs with their node rows,
spread over the last `days` days, written straight through the ORM in large batches.
Run inside the server's environment: `manage.py shell -c "from bench._fixtures import ..."`.
"""

from __future__ import annotations

import random
from datetime import timedelta

BATCH = 5000


def bulk_runs(workflow_ids: list[str], count: int, days: int = 30, seed: int = 7) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from runs.models import NodeExecution, WorkflowRun
    from workflows.models import Workflow
    from workflows.selectors import latest_version

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # a benchmark fixture: durability is not the point
            cursor.execute("PRAGMA synchronous=OFF")
    rnd = random.Random(seed)
    flows = []
    for wid in workflow_ids:
        wf = Workflow.objects.get(pk=wid)
        version = latest_version(wf)
        flows.append((wf, version, [n["id"] for n in version.document["nodes"]]))
    now = timezone.now()
    span_s = days * 86400
    triggers = ["trigger.manual", "trigger.webhook", "trigger.schedule"]
    made = 0
    while made < count:
        runs, nodes = [], []
        for i in range(made, min(count, made + BATCH)):
            wf, version, node_ids = flows[i % len(flows)]
            created = now - timedelta(seconds=rnd.random() * span_s)
            roll = rnd.random()
            status = "completed" if roll < 0.9 else "failed" if roll < 0.97 else "partial"
            failing = node_ids[-1]
            error = (
                {
                    "category": "HTTP_ERROR",
                    "message": "the server answered 502",
                    "details": {},
                    "node": failing,
                }
                if status == "failed"
                else None
            )
            run = WorkflowRun(
                workspace_id=wf.workspace_id,
                workflow=wf,
                version=version,
                status=status,
                mode="live" if rnd.random() < 0.8 else "test",
                trigger_type=triggers[i % 3],
                input={"customer": f"user{i}@example.com", "amount": i % 500},
                output=None if status == "failed" else {"ok": True},
                error=error,
                total_nodes=len(node_ids),
                successful_nodes=len(node_ids) - (status != "completed"),
                failed_nodes=int(status != "completed"),
                started_at=created,
                completed_at=created + timedelta(milliseconds=5 + rnd.random() * 200),
            )
            run.created_at = created
            runs.append(run)
            at = created
            for order, node_id in enumerate(node_ids):
                took = timedelta(milliseconds=1 + rnd.random() * 60)
                bad = status != "completed" and node_id == failing
                nodes.append(
                    NodeExecution(
                        run=run,
                        node_id=node_id,
                        status="failed" if bad else "succeeded",
                        attempts=1,
                        input={"amount": i % 500},
                        output=None if bad else {"amount": i % 500},
                        error={"category": "HTTP_ERROR", "message": "the server answered 502"}
                        if bad
                        else None,
                        order=order,
                        started_at=at,
                        completed_at=at + took,
                    )
                )
                at += took
        created_at = WorkflowRun._meta.get_field("created_at")
        created_at.auto_now_add = False  # keep the spread (stamped with the insert time otherwise)
        try:
            with transaction.atomic():
                WorkflowRun.objects.bulk_create(runs, batch_size=1000)
                NodeExecution.objects.bulk_create(nodes, batch_size=2000)
        finally:
            created_at.auto_now_add = True
        made += len(runs)
    if connection.vendor == "postgresql":
        # What autovacuum would have done by the time a real server holds this history: the
        # planner needs row statistics (a table it has never analyzed looks tiny to it).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE runs_workflowrun, runs_nodeexecution, runs_nodedaystat")
