"""Workflow API (SPEC §6): CRUD in the interchange format, import/export, validate, node types."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from config.api_params import UUID_PATTERN, uuid_param, uuid_value
from config.openapi import ERROR, ID_PARAM, uuid_query

from . import drafts, selectors, services
from .api_schemas import (
    DraftIn,
    DraftOut,
    NodeTypesOut,
    TemplatePreviewIn,
    TemplatePreviewOut,
    ValidationOut,
    VersionDetailOut,
    VersionListOut,
    WorkflowDocumentOut,
    WorkflowOut,
    WorkspaceOut,
)
from .engine.registry import registry
from .models import WRITE_ROLES, Workspace
from .permissions import WorkspaceRolePermission
from .trigger_secrets import mask_document


class WorkflowDocumentSerializer(serializers.Serializer):
    """Input: a `switchyard.workflow/1` document (validated by the engine) plus `workspace`."""

    schema = serializers.CharField()
    nodes = serializers.ListField(child=serializers.DictField())
    edges = serializers.ListField(child=serializers.DictField())
    workspace = serializers.UUIDField(required=False)


class WorkflowPatchSerializer(serializers.Serializer):
    """Any top-level fields of the document."""

    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    variables = serializers.DictField(required=False)
    settings = serializers.DictField(required=False)
    nodes = serializers.ListField(child=serializers.DictField(), required=False)
    edges = serializers.ListField(child=serializers.DictField(), required=False)


def workflow_representation(workflow, request=None) -> dict:
    from .selectors import daily_usage
    from .triggers.endpoints import active_triggers

    doc = mask_document(selectors.document_of(workflow))
    return {
        "id": str(workflow.id),
        "workspace": str(workflow.workspace_id),
        "status": workflow.status,
        "version": workflow.version,
        "triggers": active_triggers(workflow, request=request),
        "usage": daily_usage(workflow),
        "created_at": workflow.created_at.isoformat(),
        "updated_at": workflow.updated_at.isoformat(),
        **doc,
    }


def target_workspace(*, user, workspace_id) -> Workspace:
    """The workspace a new object goes into: the one named (must be writable) or the user's first."""
    if workspace_id is not None:
        workspace_id = uuid_value(workspace_id, "workspace")
        role = selectors.role_in(user=user, workspace_id=workspace_id)
        if role is None:
            raise ApiError(
                "VALIDATION_ERROR",
                "workspace: Unknown workspace.",
                details={"workspace": ["Unknown workspace."]},
            )
        if role not in WRITE_ROLES:
            raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
        return Workspace.objects.get(pk=workspace_id)
    workspace = services.ensure_personal_workspace(user=user)
    if selectors.role_in(user=user, workspace_id=workspace.id) not in WRITE_ROLES:
        raise ApiError("PERMISSION_DENIED", "Your role in this workspace is read-only.", status_code=403)
    return workspace


def require_object(data):
    if not isinstance(data, dict):
        raise ApiError(
            "VALIDATION_ERROR",
            "The request body must be a JSON object.",
            details={"non_field_errors": ["Expected a JSON object."]},
        )
    return data


@extend_schema_view(
    retrieve=extend_schema(parameters=[ID_PARAM], responses={200: WorkflowOut}),
    destroy=extend_schema(parameters=[ID_PARAM], responses={204: None}),
    partial_update=extend_schema(
        parameters=[ID_PARAM],
        request=WorkflowPatchSerializer,
        responses={200: WorkflowOut},
        description="Changes the given top-level fields of the document (a new version).",
    ),
    export=extend_schema(parameters=[ID_PARAM], responses={200: WorkflowDocumentOut}),
    activate=extend_schema(parameters=[ID_PARAM], request=None, responses={200: WorkflowOut}),
    deactivate=extend_schema(parameters=[ID_PARAM], request=None, responses={200: WorkflowOut}),
    validate=extend_schema(parameters=[ID_PARAM], request=None, responses={200: ValidationOut}),
    import_document=extend_schema(request=WorkflowDocumentSerializer, responses={201: WorkflowOut}),
)
class WorkflowViewSet(viewsets.ViewSet):
    permission_classes = viewsets.ViewSet.permission_classes + [WorkspaceRolePermission]
    lookup_value_regex = UUID_PATTERN
    pagination_class = PageNumberPagination  # documents list answers as pages

    def get_object(self, pk):
        services.ensure_personal_workspace(user=self.request.user)
        workflow = get_object_or_404(selectors.workflows_for(user=self.request.user), pk=pk)
        self.check_object_permissions(self.request, workflow)
        return workflow

    @extend_schema(
        parameters=[
            uuid_query("workspace", "Only this workspace's workflows."),
            OpenApiParameter("status", str, enum=["active", "inactive", "error"]),
        ],
        responses={200: WorkflowOut(many=True)},
    )
    def list(self, request):
        services.ensure_personal_workspace(user=request.user)
        qs = selectors.workflows_for(user=request.user)
        if ws := uuid_param(request, "workspace"):
            qs = qs.filter(workspace_id=ws)
        if st := request.query_params.get("status"):
            qs = qs.filter(status=st)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs.prefetch_related("versions"), request, view=self)
        return paginator.get_paginated_response([workflow_representation(w, request) for w in page])

    @extend_schema(request=WorkflowDocumentSerializer, responses={201: WorkflowOut})
    def create(self, request):
        data = require_object(request.data)
        workspace = target_workspace(user=request.user, workspace_id=data.get("workspace"))
        document = {k: v for k, v in data.items() if k != "workspace"}
        workflow = services.create_workflow(user=request.user, workspace=workspace, document=document)
        return Response(workflow_representation(workflow, request), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk=None):
        return Response(workflow_representation(self.get_object(pk), request))

    @extend_schema(parameters=[ID_PARAM], request=WorkflowDocumentSerializer, responses={200: WorkflowOut})
    def update(self, request, pk=None):
        workflow = self.get_object(pk)
        document = {k: v for k, v in require_object(request.data).items() if k != "workspace"}
        workflow = services.replace_workflow(user=request.user, workflow=workflow, document=document)
        return Response(workflow_representation(workflow, request))

    def partial_update(self, request, pk=None):
        workflow = self.get_object(pk)
        workflow = services.patch_workflow(
            user=request.user, workflow=workflow, changes=require_object(request.data)
        )
        return Response(workflow_representation(workflow, request))

    def destroy(self, request, pk=None):
        services.delete_workflow(workflow=self.get_object(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        return Response(mask_document(selectors.document_of(self.get_object(pk))))

    @action(detail=False, methods=["post"], url_path="import")
    def import_document(self, request):
        return self.create(request)

    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        from .triggers.activation import activate_workflow

        workflow = activate_workflow(workflow=self.get_object(pk))
        return Response(workflow_representation(workflow, request))

    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        from .triggers.activation import deactivate_workflow

        workflow = deactivate_workflow(workflow=self.get_object(pk))
        return Response(workflow_representation(workflow, request))

    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        from .triggers.activation import activation_issues

        issues = activation_issues(self.get_object(pk))
        return Response({"valid": not issues, "errors": [i.as_dict() for i in issues]})

    @extend_schema(
        parameters=[ID_PARAM],
        request=DraftIn,
        responses={200: DraftOut, 409: ERROR("The draft is based on an older version than the latest.")},
    )
    @action(detail=True, methods=["get", "put"], url_path="draft")
    def draft(self, request, pk=None):
        """The builder's working copy. PUT takes `{document, base_version}` (or the document
        itself with an optional top-level `base_version`); it is stored even when invalid."""
        workflow = self.get_object(pk)
        if request.method == "PUT":
            body = require_object(request.data)
            if isinstance(body.get("document"), dict):
                document, base_version = body["document"], body.get("base_version")
            else:
                document = {k: v for k, v in body.items() if k != "base_version"}
                base_version = body.get("base_version")
            workflow = services.save_draft(
                user=request.user, workflow=workflow, document=document, base_version=base_version
            )
        return Response(drafts.draft_view(workflow))

    @extend_schema(parameters=[ID_PARAM], responses={200: VersionListOut})
    @action(detail=True, methods=["get"], url_path="versions")
    def versions(self, request, pk=None):
        rows = selectors.version_list(self.get_object(pk))
        return Response({"count": len(rows), "next": None, "previous": None, "results": rows})

    @extend_schema(
        parameters=[ID_PARAM, OpenApiParameter("number", int, OpenApiParameter.PATH)],
        responses={200: VersionDetailOut},
    )
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]{1,9})")
    def version(self, request, pk=None, number=None):
        return Response(selectors.version_detail(self.get_object(pk), int(number)))


class NodeTypesView(APIView):
    """The palette: every registered node type with its schemas and handles."""

    @extend_schema(responses={200: NodeTypesOut})
    def get(self, request):
        return Response(
            {"count": len(registry.all()), "results": [t.palette_entry() for t in registry.all()]}
        )


class TemplatePreviewView(APIView):
    """The builder's live preview: `{template, scope}` rendered as a node would render it.

    The caller sends the names in scope (the last run's trigger input, node outputs, the
    workflow variables); nothing is read from the database, and secrets are never resolved
    here (`workspace.*` is whatever the caller sends, the builder sends `***`)."""

    @extend_schema(request=TemplatePreviewIn, responses={200: TemplatePreviewOut})
    def post(self, request):
        from .engine.errors import NodeError, TemplateSyntaxError
        from .engine.templates import render

        body = require_object(request.data)
        template, scope = body.get("template"), body.get("scope", {})
        if not isinstance(template, str):
            raise ApiError(
                "VALIDATION_ERROR", "template must be a string.", details={"template": ["Expected a string."]}
            )
        if not isinstance(scope, dict):
            raise ApiError(
                "VALIDATION_ERROR", "scope must be a JSON object.", details={"scope": ["Expected an object."]}
            )
        try:
            return Response({"ok": True, "value": render(template, scope), "error": None})
        except NodeError as exc:
            error = {"category": exc.category.value, "message": exc.message}
        except TemplateSyntaxError as exc:
            error = {"category": "TEMPLATE_ERROR", "message": str(exc)}
        return Response({"ok": False, "value": None, "error": error})


class WorkspaceViewSet(viewsets.ViewSet):
    pagination_class = PageNumberPagination  # one page with every membership

    @extend_schema(responses={200: WorkspaceOut(many=True)})
    def list(self, request):
        services.ensure_personal_workspace(user=request.user)
        rows = [
            {
                "id": str(m.workspace_id),
                "name": m.workspace.name,
                "role": m.role,
                "is_personal": m.workspace.is_personal,
            }
            for m in request.user.memberships.select_related("workspace").order_by("workspace__name")
        ]
        return Response({"count": len(rows), "next": None, "previous": None, "results": rows})
