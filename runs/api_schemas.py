"""Request and response shapes of the run API, for the OpenAPI schema (views build dicts)."""

from rest_framework import serializers

from config.openapi import paginated

from .models import NodeStatus, RunMode, RunStatus


class RunSummaryOut(serializers.Serializer):
    id = serializers.UUIDField()
    workflow = serializers.UUIDField()
    workspace = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    mode = serializers.ChoiceField(choices=RunMode.values)
    trigger_type = serializers.CharField()
    trigger_node = serializers.CharField(allow_null=True)
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    total_nodes = serializers.IntegerField()
    successful_nodes = serializers.IntegerField()
    failed_nodes = serializers.IntegerField()
    retry_of = serializers.UUIDField(allow_null=True)
    parent_run = serializers.UUIDField(allow_null=True)


class NodeEntryOut(serializers.Serializer):
    node_id = serializers.CharField()
    type = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=NodeStatus.choices)
    attempts = serializers.IntegerField()
    iteration = serializers.IntegerField(allow_null=True, help_text="The innermost loop's item index.")
    iteration_path = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="Null outside loops; [index] in a loop body; [outer, ..., inner] in a nested loop's body.",
    )
    input = serializers.JSONField(allow_null=True)
    output = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    callback_url = serializers.CharField(required=False)
    expires_at = serializers.CharField(required=False, allow_null=True)
    resume_at = serializers.DateTimeField(required=False, allow_null=True)


class RunDetailOut(RunSummaryOut):
    version = serializers.IntegerField()
    nodes = NodeEntryOut(many=True)


RunPage = paginated("RunPage", RunSummaryOut)


class LogEntryOut(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    level = serializers.ChoiceField(choices=["debug", "info", "warning", "error"])
    node_id = serializers.CharField(allow_null=True)
    iteration = serializers.IntegerField(allow_null=True)
    iteration_path = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    message = serializers.CharField(allow_blank=True)
    data = serializers.JSONField(allow_null=True)


class ExecuteIn(serializers.Serializer):
    input = serializers.JSONField(required=False, help_text="The run's input (default {}).")
    mode = serializers.ChoiceField(choices=RunMode.values, required=False, default=RunMode.TEST)
    wait = serializers.BooleanField(required=False, default=False)
    timeout_s = serializers.FloatField(required=False, default=30, min_value=0, max_value=300)


class ExecuteAcceptedOut(serializers.Serializer):
    run_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)


class ExecuteTimeoutOut(serializers.Serializer):
    run_id = serializers.UUIDField()
    error = serializers.DictField()


class RetryIn(serializers.Serializer):
    # `from` is a Python keyword: the field is declared below under its wire name.
    pass


RetryIn._declared_fields["from"] = serializers.ChoiceField(
    choices=["start", "failed"], required=False, default="start"
)


class CallbackAcceptedOut(serializers.Serializer):
    accepted = serializers.BooleanField()
