"""Watching and debugging runs: the executions list with bulk retry/cancel, per-node
statistics and recent executions, testing one node alone, pinned outputs and "run from
node". Reads go through `executions`, writes through `debug` and `services`."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.errors import ApplicationError
from workflows.api import require_object
from workflows.models import WRITE_ROLES
from workflows.selectors import role_in, workflows_for

from . import debug, executions, selectors, services
from .models import NodeExecution, NodeStatus, WorkflowRun

MAX_BULK = 100
RECENT_NODE_EXECUTIONS = 50


class ExecutionsPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _workflow(request, pk, *, write=False):
    workflow = get_object_or_404(workflows_for(user=request.user), pk=pk)
    if write and role_in(user=request.user, workspace_id=workflow.workspace_id) not in WRITE_ROLES:
        raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
    return workflow


def _q(name, description, type=str):
    return OpenApiParameter(name, type, OpenApiParameter.QUERY, required=False, description=description)


_ANY = inline_serializer("AnyObject", fields={})


class ExecutionsView(APIView):
    """GET /runs: every run of the caller's workspaces, newest first."""

    pagination_class = ExecutionsPagination

    @extend_schema(
        summary="Executions of every workflow in the caller's workspaces",
        parameters=[
            _q("workflow", "Only this workflow's runs (UUID)", OpenApiTypes.UUID),
            _q("status", "Comma-separated run statuses"),
            _q("mode", "test or live"),
            _q("trigger_type", "e.g. trigger.webhook"),
            _q("since", "ISO date or datetime (created at or after)"),
            _q("until", "ISO date or datetime (created at or before; a date means its end)"),
            _q("q", "A run id (or a prefix of 4+ hex digits) or text in the run's input"),
            _q("page", "Page number", int),
            _q("page_size", "Rows per page (max 200)", int),
        ],
        responses={200: _ANY},
    )
    def get(self, request):
        qs = executions.executions(user=request.user, params=request.query_params).select_related("workflow")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        response = paginator.get_paginated_response(executions.execution_rows(page))
        if window := executions.search_window(request.query_params.get("q")):
            response.data["search_window"] = window  # input text was looked for in the newest runs only
        return response


def _bulk_ids(body) -> list[uuid.UUID]:
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK:
        raise ApiError(
            "VALIDATION_ERROR",
            f"`ids` must be a list of 1 to {MAX_BULK} run ids.",
            details={"ids": [f"A list of 1 to {MAX_BULK} run ids."]},
        )
    out = []
    for i, value in enumerate(ids):
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            raise ApiError(
                "VALIDATION_ERROR", f"ids[{i}] is not a run id.", details={f"ids.{i}": ["Not a UUID."]}
            ) from None
    return out


def _bulk(request, act) -> Response:
    body = require_object(request.data or {})
    ids = _bulk_ids(body)
    found = {r.pk: r for r in selectors.runs_for(user=request.user).filter(pk__in=ids)}
    writable = {
        ws
        for ws in {r.workspace_id for r in found.values()}
        if role_in(user=request.user, workspace_id=ws) in WRITE_ROLES
    }
    results = []
    for run_id in ids:
        run = found.get(run_id)
        if run is None:
            results.append(
                {"id": str(run_id), "ok": False, "error": {"code": "NOT_FOUND", "message": "No such run."}}
            )
        elif run.workspace_id not in writable:
            results.append(
                {
                    "id": str(run_id),
                    "ok": False,
                    "error": {
                        "code": "PERMISSION_DENIED",
                        "message": "Your role in this workspace is read-only.",
                    },
                }
            )
        else:
            try:
                results.append({"id": str(run_id), "ok": True, **act(run, body)})
            except ApplicationError as exc:
                results.append(
                    {"id": str(run_id), "ok": False, "error": {"code": exc.code, "message": exc.message}}
                )
    return Response({"results": results, "succeeded": sum(r["ok"] for r in results)})


_BULK_BODY = inline_serializer(
    "BulkRunsRequest",
    fields={
        "ids": serializers.ListField(child=serializers.UUIDField(), max_length=MAX_BULK),
        "from": serializers.ChoiceField(choices=["start", "failed"], required=False),
    },
)


class BulkRetryView(APIView):
    @extend_schema(
        summary="Retry several runs (from start or from the failed node)",
        request=_BULK_BODY,
        responses={200: _ANY},
    )
    def post(self, request):
        def retry(run, body):
            new = services.retry_run(run=run, start_from=body.get("from", "start"), user=request.user)
            return {"run_id": str(new.pk)}

        return _bulk(request, retry)


class BulkCancelView(APIView):
    @extend_schema(summary="Cancel several runs", request=_BULK_BODY, responses={200: _ANY})
    def post(self, request):
        def cancel(run, body):
            done = services.cancel_run(run=run)
            return {"status": done.status, "cancel_requested": done.cancel_requested}

        return _bulk(request, cancel)


class NodeStatsView(APIView):
    @extend_schema(
        summary="Per-node statistics: executions, success ratio, mean duration",
        parameters=[_q("since", "ISO date or datetime; default midnight UTC today")],
        responses={200: _ANY},
    )
    def get(self, request, pk):
        workflow = _workflow(request, pk)
        since = executions.parse_when(request.query_params.get("since"), "since")
        return Response(executions.node_stats(workflow=workflow, since=since))


class NodeExecutionsView(APIView):
    @extend_schema(
        summary="A node's recent executions across runs (the inspector's Logs tab)",
        parameters=[_q("status", "succeeded, failed, ... (comma-separated)")],
        responses={200: _ANY},
    )
    def get(self, request, pk, node_id):
        workflow = _workflow(request, pk)
        qs = NodeExecution.objects.filter(run__workflow=workflow, node_id=node_id).select_related("run")
        if wanted := request.query_params.get("status"):
            statuses = [s for s in wanted.split(",") if s]
            bad = [s for s in statuses if s not in NodeStatus.values]
            if bad:
                raise ApiError(
                    "VALIDATION_ERROR",
                    f"Unknown node status {bad[0]!r}.",
                    details={"status": [f"One of {', '.join(NodeStatus.values)}."]},
                )
            qs = qs.filter(status__in=statuses)
        newest = ("-run__created_at", executions.OuterIterations().desc(), "-iteration")
        rows = qs.order_by(*newest)[:RECENT_NODE_EXECUTIONS]
        results = []
        for row in rows:
            entry = selectors.node_entry(row, node_id, finished=row.run.is_finished)
            entry.update(run_id=str(row.run_id), run_status=row.run.status, mode=row.run.mode)
            results.append(entry)
        return Response({"node_id": node_id, "results": results})


class NodeTestView(APIView):
    @extend_schema(
        summary="Run one node alone with sample input, or with its input from an earlier run",
        request=inline_serializer(
            "NodeTestRequest",
            fields={
                "input": serializers.JSONField(required=False),
                "run_id": serializers.UUIDField(required=False),
                "node": serializers.DictField(required=False),
            },
        ),
        responses={200: _ANY},
    )
    def post(self, request, pk, node_id):
        workflow = _workflow(request, pk, write=True)
        body = require_object(request.data or {})
        return Response(debug.test_node(workflow=workflow, node_id=node_id, user=request.user, body=body))


class PinsView(APIView):
    @extend_schema(summary="The workflow's pinned node outputs", responses={200: _ANY})
    def get(self, request, pk):
        workflow = _workflow(request, pk)
        return Response({"pins": debug.pins_of(workflow)})


class PinView(APIView):
    @extend_schema(
        summary="Pin a node's output: typed (`output`) or taken from a run (`run_id`)",
        request=inline_serializer(
            "PinRequest",
            fields={
                "output": serializers.JSONField(required=False),
                "run_id": serializers.UUIDField(required=False),
                "handles": serializers.ListField(child=serializers.CharField(), required=False),
            },
        ),
        responses={200: _ANY},
    )
    def put(self, request, pk, node_id):
        workflow = _workflow(request, pk, write=True)
        body = require_object(request.data or {})
        pin = debug.pin_output(workflow=workflow, node_id=node_id, user=request.user, body=body)
        return Response(debug.pin_entry(pin))

    @extend_schema(summary="Unpin a node's output", responses={204: None})
    def delete(self, request, pk, node_id):
        workflow = _workflow(request, pk, write=True)
        if not debug.unpin_output(workflow=workflow, node_id=node_id):
            raise ApiError("NOT_FOUND", f"No pinned output for {node_id!r}.", status_code=404)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunFromNodeView(APIView):
    @extend_schema(
        summary="Start a test run from this node, reusing pinned or last-run outputs upstream",
        request=inline_serializer(
            "RunFromNodeRequest",
            fields={
                "run_id": serializers.UUIDField(required=False),
                "input": serializers.JSONField(required=False),
            },
        ),
        responses={202: _ANY},
    )
    def post(self, request, pk, node_id):
        workflow = _workflow(request, pk, write=True)
        body = require_object(request.data or {})
        run = debug.run_from_node(workflow=workflow, node_id=node_id, user=request.user, body=body)
        run = WorkflowRun.objects.get(pk=run.pk)
        return Response(
            {"run_id": str(run.pk), **selectors.run_summary(run)}, status=status.HTTP_202_ACCEPTED
        )
