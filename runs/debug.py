"""The step debugger's writes: test one node alone, pin node outputs, run from a node.

A node test executes one node through the engine's registry exactly as a run would (the
config rendered in the sandboxed template engine, outbound rules, credentials resolved,
audited and masked in what is returned), but stores nothing of the run kind. Pinned
outputs belong to the workflow and are read only by "run from node", which starts a test
run whose upstream node states are copied in (pins first, then the source run's
outputs), the way retry-from-failed does: the scheduler replays them and executes the
rest.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from config.api_params import uuid_value
from config.errors import ApplicationError
from workflows.engine.attempt import Job, run_job
from workflows.engine.document import normalize, validate
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.graph import analyse
from workflows.engine.outbound import secret_values
from workflows.engine.registry import NodeContext, NodeResult, Wait, registry
from workflows.selectors import latest_version
from workflows.trigger_secrets import restore_masked, unseal_document

from .models import NodeExecution, NodeStatus, PinnedOutput, RunMode, WorkflowRun
from .payloads import for_storage

MAX_TEST_S = 60.0
NODE_ID = r"^[a-z][a-z0-9_]{0,62}$"


class DebugRefused(ApplicationError):
    """A node test, pin or run-from-node request that cannot be served."""


def _invalid(field: str, message: str, status: int = 400) -> DebugRefused:
    return DebugRefused("VALIDATION_ERROR", message, status, details={field: [message]})


def _document(workflow) -> dict:
    version = latest_version(workflow)
    if version is None:
        raise _invalid("workflow", "The workflow has no saved version yet.", 409)
    return unseal_document(version.document)  # sealed secrets: their text, in memory


def _node_of(document: dict, node_id: str) -> dict:
    node = next((n for n in document["nodes"] if n["id"] == node_id), None)
    if node is None:
        raise DebugRefused("NOT_FOUND", f"The workflow has no node {node_id!r}.", 404)
    return node


def _run_of(workflow, run_id, field: str = "run_id") -> WorkflowRun:
    if run_id:
        run_id = uuid_value(run_id, field)
    run = WorkflowRun.objects.filter(workflow=workflow, pk=run_id).first() if run_id else None
    if run is None:
        raise _invalid(field, f"No run {run_id!r} of this workflow.")
    return run


# -- testing one node ---------------------------------------------------------------------


def _test_services():
    from .engine_host import DjangoServices

    class NodeTestServices(DjangoServices):
        """What a node tested alone may not do: it belongs to no run."""

        def _alone(self, what: str):
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"{what} needs a run: run the workflow (or run from this node) to try it",
                {},
                retryable=False,
            )

        def start_child_run(self, **kwargs):
            self._alone("a sub-workflow")

        def create_callback(self, **kwargs):
            self._alone("a callback")

        def run_connector(self, *, connector, input, run_id, node_id):
            self._alone("a connector step")

    return NodeTestServices()


def _with_node(document: dict, node: Any, node_id: str) -> dict:
    """The document with the editor's version of the node, validated as a whole."""
    if not isinstance(node, dict) or node.get("id", node_id) != node_id:
        raise _invalid("node", "`node` must be the node's JSON object, with the same id.")
    doc = copy.deepcopy(document)
    doc["nodes"] = [{**node, "id": node_id} if n["id"] == node_id else n for n in doc["nodes"]]
    issues = [i for i in validate(doc, registry) if getattr(i, "node", None) == node_id]
    if issues:
        raise DebugRefused(
            "VALIDATION_ERROR",
            f"The node {node_id!r} is not valid.",
            400,
            details={"errors": [i.as_dict() for i in issues]},
        )
    return normalize(doc)


def _secrets_for(workflow, document: dict, user) -> dict:
    from connectors.services import document_credential_refs, resolve_credentials

    return resolve_credentials(
        workspace_id=workflow.workspace_id,
        names=document_credential_refs(document),
        purpose=f"node test in workflow {workflow.pk}",
        user=user,
    )


def test_node(*, workflow, node_id: str, user, body: dict) -> dict:
    """Execute one node alone with `body["input"]`, or with the input it got in
    `body["run_id"]` (and that run's node outputs in scope). Returns what happened."""
    document = _document(workflow)
    _node_of(document, node_id)
    if "node" in body:
        # The editor shows secrets as `***`: those sent back are the stored ones.
        edited = restore_masked({"nodes": [body["node"]]}, [document])["nodes"][0]
        document = _with_node(document, edited, node_id)
    node = _node_of(document, node_id)
    nodes_scope: dict[str, Any] = {}
    trigger: Any = {}
    if body.get("run_id"):
        run = _run_of(workflow, body["run_id"])
        rows = list(NodeExecution.objects.filter(run=run, iteration__isnull=True))
        mine = next((r for r in rows if r.node_id == node_id and r.status != NodeStatus.SKIPPED), None)
        if mine is None:
            raise _invalid("run_id", f"The node {node_id!r} did not run in run {run.pk}.")
        node_input = mine.input
        trigger = run.input
        nodes_scope = {r.node_id: r.output for r in rows if r.status == NodeStatus.SUCCEEDED}
    else:
        node_input = body.get("input", {})
        trigger = node_input
    node_type = registry.get(node["type"])
    graph = analyse(document, registry)
    secrets = _secrets_for(workflow, document, user)
    masked = secret_values(secrets)
    timeout_ms = node.get("timeout_ms")
    limit_s = min(MAX_TEST_S, timeout_ms / 1000.0) if timeout_ms else MAX_TEST_S
    started = datetime.now(UTC)
    ctx = NodeContext(
        run_id="",
        workflow_id=str(workflow.pk),
        node_id=node_id,
        node=node,
        config=node.get("config") or {},
        input=node_input,
        scope={
            "trigger": trigger,
            "input": node_input,
            "nodes": nodes_scope,
            "variables": document.get("variables") or {},
            "workspace": secrets,
            "execution": {
                "id": "",
                "workflow_id": str(workflow.pk),
                "mode": RunMode.TEST,
                "started_at": started.isoformat(),
            },
        },
        services=_test_services(),
        deadline=time.monotonic() + limit_s,
    )
    results: queue.SimpleQueue = queue.SimpleQueue()
    job = Job((node_id, None), 1, ctx, node_type.execute, node_type.type, graph.render_keys[node_id])
    worker = threading.Thread(target=_run_closing, args=(job, results), daemon=True, name="node-test")
    mono = time.monotonic()
    worker.start()
    try:
        _, _, outcome = results.get(timeout=limit_s + 0.5)
    except queue.Empty:
        ctx.cancelled.set()
        outcome = NodeError(ErrorCategory.TIMEOUT_ERROR, f"the node test exceeded {limit_s:g} s", {})
    duration_ms = int((time.monotonic() - mono) * 1000)
    answer: dict[str, Any] = {
        "node_id": node_id,
        "type": node["type"],
        "input": for_storage(node_input, masked),
        "duration_ms": duration_ms,
        "logs": [{"level": lv, "message": m, "data": d} for lv, m, d in ctx.logs],
    }
    if isinstance(outcome, NodeResult):
        answer.update(
            status=NodeStatus.SUCCEEDED,
            output=outcome.output,
            handles=list(outcome.handles),
            warnings=list(outcome.warnings),
            error=None,
        )
    elif isinstance(outcome, Wait):
        answer.update(
            status=NodeStatus.WAITING,
            output=None,
            wait={"kind": outcome.kind, "data": dict(outcome.data)},
            error=None,
        )
    else:
        answer.update(status=NodeStatus.FAILED, output=None, error=outcome.as_dict())
    for key in ("output", "error", "logs", "wait"):
        if key in answer:
            answer[key] = for_storage(answer[key], masked)
    return answer


def _run_closing(job: Job, results: queue.SimpleQueue) -> None:
    from django.db import connection

    try:
        run_job(job, results)
    finally:
        connection.close()


# -- pinned outputs --------------------------------------------------------------------------


def pin_entry(pin: PinnedOutput) -> dict:
    return {
        "node_id": pin.node_id,
        "output": pin.output,
        "handles": pin.handles,
        "source": "run" if pin.source_run_id else "typed",
        "run_id": str(pin.source_run_id) if pin.source_run_id else None,
        "pinned_at": pin.updated_at.isoformat(),
    }


def pins_of(workflow) -> dict[str, dict]:
    return {p.node_id: pin_entry(p) for p in PinnedOutput.objects.filter(workflow=workflow)}


@transaction.atomic
def pin_output(*, workflow, node_id: str, user, body: dict) -> PinnedOutput:
    """Pin `body["output"]` (typed), or the output the node produced in `body["run_id"]`."""
    import re

    if not re.match(NODE_ID, node_id):
        raise _invalid("node_id", "Not a node id.")
    has_output, run_id = "output" in body, body.get("run_id")
    if has_output == bool(run_id):
        raise _invalid(
            "output", "Give either `output` (any JSON) or `run_id` (take the node's output there)."
        )
    handles, source = None, None
    output = body.get("output")
    if run_id:
        source = _run_of(workflow, run_id)
        row = NodeExecution.objects.filter(
            run=source, node_id=node_id, iteration__isnull=True, status=NodeStatus.SUCCEEDED
        ).first()
        if row is None:
            raise _invalid("run_id", f"The node {node_id!r} did not succeed in run {source.pk}.")
        output, handles = row.output, row.handles
    elif "handles" in body:
        handles = body["handles"]
        if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
            raise _invalid("handles", "`handles` must be a list of handle names.")
    pin, _ = PinnedOutput.objects.update_or_create(
        workflow=workflow,
        node_id=node_id,
        defaults={"output": output, "handles": handles, "source_run": source, "pinned_by": user},
    )
    return pin


def unpin_output(*, workflow, node_id: str) -> bool:
    deleted, _ = PinnedOutput.objects.filter(workflow=workflow, node_id=node_id).delete()
    return bool(deleted)


# -- run from a node ---------------------------------------------------------------------------


def _downstream(graph, node_id: str) -> set[str]:
    seen, stack = {node_id}, [node_id]
    while stack:
        for e in graph.outgoing[stack.pop()]:
            if e.target not in seen:
                seen.add(e.target)
                stack.append(e.target)
    return seen


def _default_handles(node: dict) -> list[str]:
    handles = registry.get(node["type"]).output_handles(node.get("config") or {})
    return handles[:1]


@transaction.atomic
def run_from_node(*, workflow, node_id: str, user, body: dict) -> WorkflowRun:
    """A test run of the latest version that executes `node_id` and what follows it. Every
    node not downstream of it keeps its pinned output, else the output it had in the source
    run (`body["run_id"]`, default the workflow's latest run); the others execute."""
    from .services import _trigger_node_of, enqueue_run

    version = latest_version(workflow)
    if version is None:
        raise _invalid("workflow", "The workflow has no saved version yet.", 409)
    document = version.document
    _node_of(document, node_id)
    graph = analyse(document, registry)
    if node_id in graph.loop_of:
        raise _invalid(
            "node_id",
            f"{node_id!r} is inside the body of loop {graph.loop_of[node_id]!r}: run from the loop node.",
        )
    if body.get("run_id"):
        source = _run_of(workflow, body["run_id"])
    else:
        source = WorkflowRun.objects.filter(workflow=workflow).order_by("-created_at").first()
    rerun = _downstream(graph, node_id)
    pins = {p.node_id: p for p in PinnedOutput.objects.filter(workflow=workflow)}
    rows = {}
    if source is not None:
        rows = {r.node_id: r for r in NodeExecution.objects.filter(run=source, iteration__isnull=True)}
    order = {n["id"]: i for i, n in enumerate(document["nodes"])}
    keep = []
    for nid, node in graph.nodes.items():
        if nid in rerun or nid in graph.loop_of:
            continue
        row = rows.get(nid)
        if nid in pins:
            pin = pins[nid]
            keep.append(
                dict(
                    node_id=nid,
                    node_type=node["type"],
                    status=NodeStatus.SUCCEEDED,
                    attempts=0,
                    input=row.input if row else None,
                    output=pin.output,
                    handles=pin.handles or (row.handles if row else None) or _default_handles(node),
                    warnings=["pinned output"],
                    order=order[nid],
                )
            )
        elif row is not None and (
            row.status == NodeStatus.SUCCEEDED
            or (row.status == NodeStatus.SKIPPED and not graph.incoming[nid])
        ):
            keep.append(
                dict(
                    node_id=nid,
                    node_type=row.node_type,
                    status=row.status,
                    attempts=row.attempts,
                    input=row.input,
                    output=row.output,
                    handles=row.handles,
                    wait=row.wait,
                    warnings=row.warnings,
                    order=row.order,
                    started_at=row.started_at,
                    completed_at=row.completed_at,
                )
            )
    if "input" in body:
        run_input = body["input"]
    elif source is not None:
        run_input = source.input
    else:
        run_input = {}
    trigger_id, trigger_type = _trigger_node_of(document, source.trigger_node if source else "")
    run = WorkflowRun.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=version,
        mode=RunMode.TEST,
        input=run_input,
        trigger_node=trigger_id,
        trigger_type=trigger_type,
        total_nodes=len(document["nodes"]),
        retry_of=source,
        start_node=node_id,
        started_by=user if user and user.is_authenticated else None,
    )
    NodeExecution.objects.bulk_create(NodeExecution(run=run, **fields) for fields in keep)
    enqueue_run(run.pk)
    return run
