"""Response shapes of the connector, credential and contact APIs, for the OpenAPI schema."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from config.openapi import ID_PARAM, paginated, uuid_query

from .models import ExecutionStatus


class StatisticsOut(serializers.Serializer):
    total_executions = serializers.IntegerField()
    successful_executions = serializers.IntegerField()
    failed_executions = serializers.IntegerField()
    average_duration_ms = serializers.FloatField(allow_null=True)
    last_executed_at = serializers.DateTimeField(allow_null=True)


class ConnectorOut(serializers.Serializer):
    id = serializers.UUIDField()
    workspace = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(allow_blank=True)
    config = serializers.JSONField()
    timeout_ms = serializers.IntegerField()
    statistics = StatisticsOut()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ExecutionOut(serializers.Serializer):
    id = serializers.UUIDField()
    connector = serializers.UUIDField()
    workspace = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    steps = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)
    error_category = serializers.CharField(allow_null=True)
    execution_time_ms = serializers.IntegerField(allow_null=True)
    contact = serializers.UUIDField(allow_null=True)
    run = serializers.UUIDField(allow_null=True)
    node_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)


class ExecutionAcceptedOut(serializers.Serializer):
    execution_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)


class CredentialOut(serializers.Serializer):
    """Never the values: only which fields are set."""

    id = serializers.UUIDField()
    workspace = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()
    fields_set = serializers.ListField(child=serializers.CharField())
    last_used_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ContactOut(serializers.Serializer):
    id = serializers.UUIDField()
    workspace = serializers.UUIDField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    data = serializers.DictField()
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


ExecutionPage = paginated("ExecutionPage", ExecutionOut)
WORKSPACE_FILTER = uuid_query("workspace", "Only this workspace's rows.")


def scoped_crud(out, patch_in, *, list_filters=()):
    """The shared list/retrieve/destroy/partial_update docs of a workspace-scoped viewset."""
    return extend_schema_view(
        list=extend_schema(parameters=[WORKSPACE_FILTER, *list_filters], responses={200: out(many=True)}),
        retrieve=extend_schema(parameters=[ID_PARAM], responses={200: out}),
        destroy=extend_schema(parameters=[ID_PARAM], responses={204: None}),
        partial_update=extend_schema(parameters=[ID_PARAM], request=patch_in, responses={200: out}),
    )


CONTACT_FILTERS = [
    OpenApiParameter("email", str, description="Exact email, any case."),
    OpenApiParameter("tag", str),
    OpenApiParameter("q", str, description="Part of the name, email or phone."),
]
