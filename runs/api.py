"""Run API (SPEC §6): execute, history, detail, logs, retry, cancel, callbacks."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config import json_input
from config.api_errors import ApiError
from config.openapi import ERROR, ID_PARAM, PAGE_PARAM
from workflows.api import require_object
from workflows.models import WRITE_ROLES
from workflows.selectors import role_in, workflows_for

from . import callbacks, selectors, services
from .api_schemas import (
    CallbackAcceptedOut,
    ExecuteAcceptedOut,
    ExecuteIn,
    ExecuteTimeoutOut,
    LogEntryOut,
    RetryIn,
    RunDetailOut,
    RunPage,
    RunSummaryOut,
)
from .models import CorrelationToken, RunMode, WorkflowRun
from .runner import start_and_wait, wait_for_run

MAX_WAIT_S = 300
RUN_FILTERS = [
    OpenApiParameter("status", str, description="Comma-separated statuses."),
    OpenApiParameter("since", str, description="ISO 8601 date or date-time (UTC when naive)."),
    OpenApiParameter("until", str, description="ISO 8601 date or date-time (UTC when naive)."),
    OpenApiParameter("mode", str, enum=["test", "live"]),
    PAGE_PARAM,
]


def _writable_workflow(request, pk):
    workflow = get_object_or_404(workflows_for(user=request.user), pk=pk)
    if role_in(user=request.user, workspace_id=workflow.workspace_id) not in WRITE_ROLES:
        raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
    return workflow


def _run_for(request, pk, *, write=False) -> WorkflowRun:
    run = get_object_or_404(selectors.runs_for(user=request.user).select_related("version"), pk=pk)
    if write and role_in(user=request.user, workspace_id=run.workspace_id) not in WRITE_ROLES:
        raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
    return run


class ExecuteView(APIView):
    """POST /workflows/{id}/execute {input, mode, wait, timeout_s}."""

    @extend_schema(
        parameters=[ID_PARAM],
        request=ExecuteIn,
        responses={
            202: ExecuteAcceptedOut,
            200: RunDetailOut,
            408: ExecuteTimeoutOut,
            409: ERROR("Live runs need an active workflow."),
            429: ERROR("The workflow reached max_runs_per_day."),
        },
    )
    def post(self, request, pk):
        workflow = _writable_workflow(request, pk)
        body = require_object(request.data or {})
        mode = body.get("mode", RunMode.TEST)
        if mode not in RunMode.values:
            raise ApiError(
                "VALIDATION_ERROR",
                "`mode` must be 'test' or 'live'.",
                details={"mode": ["Must be test or live."]},
            )
        if mode == RunMode.LIVE and workflow.status != "active":
            raise ApiError(
                "VALIDATION_ERROR",
                "Live runs need an active workflow; activate it or use mode 'test'.",
                details={"mode": ["The workflow is not active."]},
                status_code=409,
            )
        wait = body.get("wait", False)
        if not isinstance(wait, bool):
            raise ApiError(
                "VALIDATION_ERROR", "`wait` must be a boolean.", details={"wait": ["Must be a boolean."]}
            )
        timeout_s = body.get("timeout_s", 30)
        if (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, int | float)
            or not 0 < timeout_s <= MAX_WAIT_S
        ):
            raise ApiError(
                "VALIDATION_ERROR",
                f"`timeout_s` must be a number in (0, {MAX_WAIT_S}].",
                details={"timeout_s": [f"Must be a number in (0, {MAX_WAIT_S}]."]},
            )
        start = dict(workflow=workflow, input=body.get("input", {}), mode=mode, user=request.user)
        if not wait:
            run = services.start_run(**start)
            return Response({"run_id": str(run.id), "status": run.status}, status=status.HTTP_202_ACCEPTED)
        waited = start_and_wait(timeout_s=timeout_s, **start)
        run, finished = waited.run, waited.stored()
        if finished is None:
            return Response(
                {
                    "run_id": str(run.id),
                    "error": {
                        "code": "TIMEOUT",
                        "message": f"The run did not finish within {timeout_s} s; it goes on.",
                        "details": {},
                    },
                },
                status=status.HTTP_408_REQUEST_TIMEOUT,
            )
        return Response(selectors.run_detail(finished, request=request))


class WorkflowRunsView(APIView):
    """GET /workflows/{id}/runs?status=&since=&until=&mode= — newest first."""

    @extend_schema(parameters=[ID_PARAM, *RUN_FILTERS], responses={200: RunPage})
    def get(self, request, pk):
        workflow = get_object_or_404(workflows_for(user=request.user), pk=pk)
        mode = request.query_params.get("mode")
        if mode and mode not in RunMode.values:
            raise ApiError(
                "VALIDATION_ERROR",
                "`mode` must be 'test' or 'live'.",
                details={"mode": ["Must be test or live."]},
            )
        qs = selectors.filter_runs(
            WorkflowRun.objects.filter(workflow=workflow),
            **{k: request.query_params.get(k) for k in ("status", "since", "until", "mode")},
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([selectors.run_summary(r) for r in page])


class RunDetailView(APIView):
    @extend_schema(parameters=[ID_PARAM], responses={200: RunDetailOut})
    def get(self, request, pk):
        return Response(selectors.run_detail(_run_for(request, pk), request=request))


class RunLogsView(APIView):
    @extend_schema(
        parameters=[
            ID_PARAM,
            OpenApiParameter("level", str, enum=["debug", "info", "warning", "error"]),
            OpenApiParameter("node", str, description="Only this node's entries."),
        ],
        responses={200: LogEntryOut(many=True)},
    )
    def get(self, request, pk):
        run = _run_for(request, pk)
        return Response(
            selectors.run_logs(
                run, level=request.query_params.get("level"), node=request.query_params.get("node")
            )
        )


class RunRetryView(APIView):
    @extend_schema(parameters=[ID_PARAM], request=RetryIn, responses={201: RunSummaryOut})
    def post(self, request, pk):
        run = _run_for(request, pk, write=True)
        body = require_object(request.data or {})
        new = services.retry_run(run=run, start_from=body.get("from", "start"), user=request.user)
        return Response(selectors.run_summary(new), status=status.HTTP_201_CREATED)


class RunCancelView(APIView):
    @extend_schema(parameters=[ID_PARAM], request=None, responses={200: RunDetailOut})
    def post(self, request, pk):
        run = services.cancel_run(run=_run_for(request, pk, write=True))
        if not run.is_finished:
            run = wait_for_run(run.pk, 5) or WorkflowRun.objects.get(pk=run.pk)
        return Response(selectors.run_detail(run, request=request))


@extend_schema(
    request={"application/json": {"type": "object", "additionalProperties": True}},
    responses={
        202: CallbackAcceptedOut,
        404: ERROR("Unknown callback token."),
        410: ERROR("This callback has expired or was already used."),
    },
    auth=[],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def callback_view(request, token):
    """POST /api/v1/callbacks/{token}: no auth, the token is the secret (plus, when the
    connection asks for it, an HMAC signature of the body)."""
    body = request.body  # read first: the signature covers the raw bytes
    try:
        callbacks.receive_callback(
            token=token,
            payload=callbacks_payload(request, body),
            body=body,
            headers=dict(request.headers),
            remote_addr=request.META.get("REMOTE_ADDR", ""),
        )
    except CorrelationToken.DoesNotExist:
        raise ApiError("NOT_FOUND", "Unknown callback token.", status_code=404) from None
    except callbacks.CallbackGone as exc:
        raise ApiError(
            "GONE", f"This callback token has {exc} and takes no more callbacks.", status_code=410
        ) from None
    except callbacks.CallbackRefused:
        raise ApiError(
            "AUTHENTICATION_ERROR",
            f"This callback must be signed: send {callbacks.SIGNATURE_HEADER}: "
            "sha256=<hex HMAC-SHA256 of the raw body with the connection's callback_secret>.",
            status_code=401,
        ) from None
    return Response({"accepted": True}, status=status.HTTP_202_ACCEPTED)


def callbacks_payload(request, body: bytes):
    """The callback body: JSON when it parses, form fields as an object, else text."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {k: v[0] if len(v) == 1 else v for k, v in request._request.POST.lists()}
    text = body.decode("utf-8", "replace")
    if not text.strip():
        return None
    try:
        return json_input.loads(text)
    except json_input.JSONRefused as exc:  # too deep (the parser recurses) or a NUL
        raise ApiError("PARSE_ERROR", f"The callback body is not accepted: {exc}", status_code=400) from None
    except ValueError:
        return text
