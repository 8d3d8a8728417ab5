"""Connector and credential API (SPEC §6): CRUD, execute, execution history.

Thin: serializers check shapes, services decide. Every queryset is scoped to the caller's
workspaces (others get 404); members read, owners and editors write. Credential `data`
is write-only: no response ever carries a value.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.api_params import UUID_PATTERN, uuid_param
from config.openapi import ID_PARAM, PAGE_PARAM
from workflows.api import require_object, target_workspace
from workflows.permissions import WorkspaceRolePermission
from workflows.services import ensure_personal_workspace

from . import selectors, services
from .api_schemas import (
    ConnectorOut,
    CredentialOut,
    ExecutionAcceptedOut,
    ExecutionOut,
    ExecutionPage,
    scoped_crud,
)


def _valid(serializer_class, data, *, partial=False) -> dict:
    serializer = serializer_class(data=require_object(data), partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _paginated(request, view, queryset, represent):
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response([represent(row) for row in page])


class _ScopedViewSet(viewsets.ViewSet):
    permission_classes = viewsets.ViewSet.permission_classes + [WorkspaceRolePermission]
    lookup_value_regex = UUID_PATTERN
    pagination_class = PageNumberPagination  # documents list answers as pages

    def scoped(self):
        """The caller's rows of this kind (subclasses say which)."""
        raise NotImplementedError

    def represent(self, obj) -> dict:
        raise NotImplementedError

    def remove(self, obj) -> None:
        raise NotImplementedError

    def get_object(self, pk):
        obj = get_object_or_404(self.scoped(), pk=pk)
        self.check_object_permissions(self.request, obj)
        return obj

    def list(self, request):
        ensure_personal_workspace(user=request.user)
        qs = self.scoped()
        if workspace := uuid_param(request, "workspace"):
            qs = qs.filter(workspace_id=workspace)
        return _paginated(request, self, qs, self.represent)

    def retrieve(self, request, pk=None):
        return Response(self.represent(self.get_object(pk)))

    def destroy(self, request, pk=None):
        self.remove(self.get_object(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ----------------------------------------------------------------------------- connectors


class ConnectorInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    config = serializers.JSONField()
    timeout_ms = serializers.IntegerField(required=False, min_value=1, max_value=services.MAX_TIMEOUT_MS)
    workspace = serializers.UUIDField(required=False)


class ExecuteInput(serializers.Serializer):
    input = serializers.JSONField(required=False, default=dict)
    contact = serializers.UUIDField(required=False, allow_null=True)
    wait = serializers.BooleanField(required=False, default=False)


@scoped_crud(ConnectorOut, ConnectorInput)
class ConnectorViewSet(_ScopedViewSet):
    """/connectors/: CRUD, POST {id}/execute, GET {id}/executions."""

    represent = staticmethod(selectors.connector_representation)

    def scoped(self):
        return selectors.connectors_for(user=self.request.user)

    @extend_schema(request=ConnectorInput, responses={201: ConnectorOut})
    def create(self, request):
        data = _valid(ConnectorInput, request.data)
        workspace = target_workspace(user=request.user, workspace_id=data.pop("workspace", None))
        connector = services.create_connector(workspace=workspace, **data)
        return Response(self.represent(connector), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[ID_PARAM], request=ConnectorInput, responses={200: ConnectorOut})
    def update(self, request, pk=None, partial=False):
        connector = self.get_object(pk)
        data = _valid(ConnectorInput, request.data, partial=partial)
        data.pop("workspace", None)  # moving between workspaces is not supported
        connector = services.update_connector(connector=connector, **data)
        return Response(self.represent(connector))

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def remove(self, connector):
        services.delete_connector(connector=connector)

    @extend_schema(
        parameters=[
            ID_PARAM,
            OpenApiParameter("wait", bool, description="Wait for the execution (as `wait` in the body)."),
        ],
        request=ExecuteInput,
        responses={200: ExecutionOut, 202: ExecutionAcceptedOut},
    )
    @action(detail=True, methods=["post"])
    def execute(self, request, pk=None):
        """202 {execution_id} (a worker runs it); with wait (body or ?wait=true) 200 and the record."""
        connector = self.get_object(pk)
        data = _valid(ExecuteInput, request.data or {})
        contact = None
        if data.get("contact"):
            contact = selectors.contact_in(workspace_id=connector.workspace_id, contact_id=data["contact"])
            if contact is None:
                raise ApiError(
                    "VALIDATION_ERROR", "Unknown contact.", details={"contact": ["Unknown contact."]}
                )
        wait = data["wait"] or request.query_params.get("wait", "").lower() in ("1", "true", "yes")
        if wait:
            execution = services.execute_connector(
                connector=connector, input=data["input"], user=request.user, contact=contact
            )
            return Response(selectors.execution_representation(execution))
        execution = services.enqueue_connector_execution(
            connector=connector, input=data["input"], user=request.user, contact=contact
        )
        return Response(
            {"execution_id": str(execution.id), "status": execution.status}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        parameters=[
            ID_PARAM,
            OpenApiParameter("status", str, enum=["pending", "executing", "completed", "failed"]),
            PAGE_PARAM,
        ],
        responses={200: ExecutionPage},
    )
    @action(detail=True, methods=["get"])
    def executions(self, request, pk=None):
        connector = self.get_object(pk)
        qs = selectors.executions_for(user=request.user).filter(connector=connector).order_by("-created_at")
        if wanted := request.query_params.get("status"):
            qs = qs.filter(status=wanted)
        return _paginated(request, self, qs, selectors.execution_representation)


class ExecutionDetailView(APIView):
    """GET /connectors/executions/{id}."""

    @extend_schema(
        operation_id="v1_connector_execution_retrieve", parameters=[ID_PARAM], responses={200: ExecutionOut}
    )
    def get(self, request, pk):
        execution = get_object_or_404(selectors.executions_for(user=request.user), pk=pk)
        return Response(selectors.execution_representation(execution))


# ---------------------------------------------------------------------------- credentials


class CredentialInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.CharField(required=False)
    data = serializers.DictField(child=serializers.JSONField(allow_null=True))
    workspace = serializers.UUIDField(required=False)


@scoped_crud(CredentialOut, CredentialInput)
class CredentialViewSet(_ScopedViewSet):
    """/credentials/: `data` is write-only; PUT replaces it, PATCH merges (null removes a field)."""

    represent = staticmethod(selectors.credential_representation)

    def scoped(self):
        return selectors.credentials_for(user=self.request.user)

    @extend_schema(request=CredentialInput, responses={201: CredentialOut})
    def create(self, request):
        data = _valid(CredentialInput, request.data)
        workspace = target_workspace(user=request.user, workspace_id=data.pop("workspace", None))
        credential = services.create_credential(
            workspace=workspace, name=data["name"], kind=data.get("kind", "custom"), data=data["data"]
        )
        return Response(self.represent(credential), status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[ID_PARAM], request=CredentialInput, responses={200: CredentialOut})
    def update(self, request, pk=None, partial=False):
        credential = self.get_object(pk)
        data = _valid(CredentialInput, request.data, partial=partial)
        credential = services.update_credential(
            credential=credential,
            name=data.get("name"),
            kind=data.get("kind"),
            data=data.get("data"),
            merge_data=partial,
        )
        return Response(self.represent(credential))

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def remove(self, credential):
        services.delete_credential(credential=credential)


# --------------------------------------------------------------------- integration health


class HealthQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    workspace = serializers.UUIDField(required=False)


class IntegrationHealthView(APIView):
    """GET /integrations/health?since=&workspace= — per connection: operations, success rate,
    p50/p95 latency, last error and its time (default window: the last 7 days)."""

    @extend_schema(parameters=[HealthQuery], responses={200: dict})
    def get(self, request):
        from .adapters.health import integration_health

        query = HealthQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            integration_health(
                user=request.user,
                since=query.validated_data.get("since"),
                workspace_id=query.validated_data.get("workspace"),
            )
        )
