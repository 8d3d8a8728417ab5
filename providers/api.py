"""Provider connections API (SPEC §6): CRUD, test, remote list, preview, execute.

Thin: serializers check shapes, services decide. Scoped to the caller's workspaces (others
get 404); members read (listing and previewing a remote are reads), owners and editors
write, test and execute.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.api_params import UUID_PATTERN, uuid_param
from workflows.api import require_object, target_workspace
from workflows.models import WRITE_ROLES
from workflows.permissions import WorkspaceRolePermission
from workflows.selectors import role_in
from workflows.services import ensure_personal_workspace

from . import selectors, services


def _valid(serializer_class, data, *, partial=False) -> dict:
    serializer = serializer_class(data=require_object(data), partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ConnectionInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    provider = serializers.ChoiceField(choices=["n8n", "make", "zapier"])
    base_url = serializers.CharField(max_length=500)
    credential = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    settings = serializers.DictField(required=False)
    workspace = serializers.UUIDField(required=False)


class ProviderExecuteInput(serializers.Serializer):
    data = serializers.JSONField(required=False, default=dict)
    wait = serializers.ChoiceField(choices=list(services.WAIT_MODES), required=False, default="none")
    poll = serializers.DictField(required=False)
    options = serializers.DictField(required=False)
    # wait "callback": how long the callback token lives, and how long this request waits for it.
    expires_in_s = serializers.FloatField(
        required=False, min_value=1, max_value=services.API_CALLBACK_MAX_EXPIRY_S
    )
    timeout_s = serializers.FloatField(
        required=False, default=0, min_value=0, max_value=services.API_POLL_BUDGET_S
    )


def _execute(request, conn, remote_id: str, *, hook: str | None = None) -> Response:
    """Run the remote workflow (or Make webhook) and answer the provider node's output; a
    callback wait still open answers 202 with `execution` {id, status, callback_url,
    expires_at}: the callback finishes that record (GET …/executions/{id})."""
    data = _valid(ProviderExecuteInput, request.data or {})
    options = dict(data.get("options") or {})
    if hook is not None:
        options["hook"] = hook
    output = services.execute_remote(
        connection=conn,
        remote_id=remote_id,
        data=data["data"],
        wait=data["wait"],
        poll=data.get("poll"),
        options=options,
        expires_in_s=data.get("expires_in_s"),
        timeout_s=data.get("timeout_s") or 0,
        request=request,
        user=request.user,
    )
    waiting = data["wait"] == "callback" and output.get("status") == "accepted"
    return Response(output, status=status.HTTP_202_ACCEPTED if waiting else status.HTTP_200_OK)


class ConnectionViewSet(viewsets.ViewSet):
    """/providers/connections/: CRUD, {id}/test, {id}/workflows, {id}/workflows/{remote_id},
    {id}/workflows/{remote_id}/execute, {id}/executions."""

    permission_classes = viewsets.ViewSet.permission_classes + [WorkspaceRolePermission]
    lookup_value_regex = UUID_PATTERN
    represent = staticmethod(selectors.connection_representation)

    def get_object(self, pk):
        conn = get_object_or_404(selectors.connections_for(user=self.request.user), pk=pk)
        self.check_object_permissions(self.request, conn)
        return conn

    def _writable(self, conn):
        if role_in(user=self.request.user, workspace_id=conn.workspace_id) not in WRITE_ROLES:
            raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
        return conn

    def list(self, request):
        ensure_personal_workspace(user=request.user)
        qs = selectors.connections_for(user=request.user)
        if workspace := uuid_param(request, "workspace"):
            qs = qs.filter(workspace_id=workspace)
        if provider := request.query_params.get("provider"):
            qs = qs.filter(provider=provider)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([self.represent(c) for c in page])

    def retrieve(self, request, pk=None):
        return Response(self.represent(self.get_object(pk)))

    @extend_schema(request=ConnectionInput, responses={201: dict})
    def create(self, request):
        data = _valid(ConnectionInput, request.data)
        workspace = target_workspace(user=request.user, workspace_id=data.pop("workspace", None))
        conn = services.create_connection(workspace=workspace, **data)
        return Response(self.represent(conn), status=status.HTTP_201_CREATED)

    @extend_schema(request=ConnectionInput, responses={200: dict})
    def update(self, request, pk=None, partial=False):
        conn = self.get_object(pk)
        data = _valid(ConnectionInput, request.data, partial=partial)
        data.pop("workspace", None)
        if not partial:
            data.setdefault("credential", None)
            data.setdefault("settings", {})
        return Response(self.represent(services.update_connection(connection=conn, **data)))

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk=None):
        services.delete_connection(connection=self.get_object(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """{ok, error}: the connection's status, last_error and last_tested_at follow."""
        conn = self._writable(self.get_object(pk))
        return Response(services.test_connection(connection=conn, user=request.user))

    @action(detail=True, methods=["get"])
    def workflows(self, request, pk=None):
        """{results: [{remote_id, name, active, tags, updated_at}], next}: `next` is the
        provider's own cursor; pass it back as ?cursor=."""
        conn = self.get_object(pk)
        limit = request.query_params.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 250:
            raise ApiError(
                "VALIDATION_ERROR", "`limit` must be 1 to 250.", details={"limit": ["Must be 1 to 250."]}
            )
        page = services.list_remote(
            connection=conn,
            cursor=request.query_params.get("cursor") or None,
            limit=int(limit),
            user=request.user,
        )
        return Response({"results": [w.as_dict() for w in page.results], "next": page.next})

    @action(detail=True, methods=["get"])
    def executions(self, request, pk=None):
        """Recent calls made through this connection (ours), newest first."""
        conn = self.get_object(pk)
        qs = selectors.executions_for(user=request.user).filter(connection=conn)
        if remote := request.query_params.get("remote_id"):
            qs = qs.filter(remote_id=remote)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([selectors.execution_representation(e) for e in page])


def _connection(request, pk, *, write=False):
    conn = get_object_or_404(selectors.connections_for(user=request.user), pk=pk)
    if write and role_in(user=request.user, workspace_id=conn.workspace_id) not in WRITE_ROLES:
        raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
    return conn


class RemoteWorkflowView(APIView):
    """GET …/{id}/workflows/{remote_id}: {remote_id, name, graph, inputs, outputs}."""

    def get(self, request, pk, remote_id):
        conn = _connection(request, pk)
        return Response(services.preview_remote(connection=conn, remote_id=remote_id, user=request.user))


class RemoteExecuteView(APIView):
    """POST …/{id}/workflows/{remote_id}/execute {data, wait}: the provider node's output."""

    @extend_schema(request=ProviderExecuteInput, responses={200: dict})
    def post(self, request, pk, remote_id):
        return _execute(request, _connection(request, pk, write=True), remote_id)


class HooksView(APIView):
    """GET …/{id}/hooks: the Make team's custom webhooks {results: [{id, name, url, enabled,
    scenario_id, queue_count}]} (Make API v2 `GET /hooks`)."""

    @extend_schema(responses={200: dict})
    def get(self, request, pk):
        conn = _connection(request, pk)
        return Response({"results": services.list_hooks(connection=conn, user=request.user)})


class HookExecuteView(APIView):
    """POST …/{id}/hooks/{hook_id}/execute {data, wait: none|callback}: call a Make custom
    webhook (with the connection's `hook_api_key` as x-make-apikey when set)."""

    @extend_schema(request=ProviderExecuteInput, responses={200: dict, 202: dict})
    def post(self, request, pk, hook_id):
        conn = _connection(request, pk, write=True)
        if conn.provider != "make":
            raise ApiError(
                "VALIDATION_ERROR",
                "Custom webhooks belong to Make connections.",
                details={"connection": ["Not a Make connection."]},
            )
        if isinstance(request.data, dict) and request.data.get("wait") == "poll":
            raise ApiError(
                "VALIDATION_ERROR",
                "A Make webhook gives no execution to poll: use wait 'callback' or 'none'.",
                details={"wait": ["Use 'callback' or 'none'."]},
            )
        return _execute(request, conn, hook_id, hook=hook_id)


class ExecutionDetailView(APIView):
    """GET …/{id}/executions/{execution}: one call made through the connection, with the
    callbacks it received."""

    @extend_schema(responses={200: dict})
    def get(self, request, pk, execution):
        conn = _connection(request, pk)
        found = get_object_or_404(selectors.executions_for(user=request.user), pk=execution, connection=conn)
        return Response(selectors.execution_representation(found, detail=True))


class RemoteExecutionsView(APIView):
    """GET …/{id}/remote-executions?remote_id=: the provider's own recent executions."""

    def get(self, request, pk):
        conn = _connection(request, pk)
        found = services.recent_remote_executions(
            connection=conn, remote_id=request.query_params.get("remote_id") or None, user=request.user
        )
        return Response({"results": found})


class ProvidersCatalogView(APIView):
    """GET /providers/: the registered providers and what connecting each needs."""

    def get(self, request):
        return Response({"results": selectors.providers_catalog()})
