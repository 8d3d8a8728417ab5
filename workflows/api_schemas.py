"""Response shapes of the workflow API, for the OpenAPI schema (the views build plain dicts)."""

from rest_framework import serializers

from .models import WorkflowStatus


class TriggerOut(serializers.Serializer):
    node_id = serializers.CharField()
    type = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    next_runs = serializers.ListField(child=serializers.CharField())
    address = serializers.CharField(required=False)


class UsageOut(serializers.Serializer):
    runs_today = serializers.IntegerField()
    max_runs_per_day = serializers.IntegerField(allow_null=True)


class WorkflowDocumentOut(serializers.Serializer):
    """A `switchyard.workflow/1` document (export)."""

    schema = serializers.CharField()
    name = serializers.CharField(allow_blank=True, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    variables = serializers.DictField(required=False)
    settings = serializers.DictField(required=False)
    nodes = serializers.ListField(child=serializers.DictField())
    edges = serializers.ListField(child=serializers.DictField())


class WorkflowOut(WorkflowDocumentOut):
    id = serializers.UUIDField()
    workspace = serializers.UUIDField()
    status = serializers.ChoiceField(choices=WorkflowStatus.choices)
    version = serializers.IntegerField()
    triggers = TriggerOut(many=True)
    usage = UsageOut()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ValidationOut(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.DictField())


class NodeTypeOut(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    icon = serializers.CharField(allow_blank=True, allow_null=True)
    is_trigger = serializers.BooleanField()
    handles = serializers.ListField(child=serializers.CharField())
    dynamic_handles = serializers.BooleanField()
    handles_from = serializers.DictField(
        allow_null=True,
        help_text="For dynamic handles: the config lists ({path, key}) and fields naming them, in order.",
    )
    config_schema = serializers.DictField(allow_null=True)
    input_schema = serializers.DictField(allow_null=True)
    output_schema = serializers.DictField(allow_null=True)


class NodeTypesOut(serializers.Serializer):
    count = serializers.IntegerField()
    results = NodeTypeOut(many=True)


class WorkspaceOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=["owner", "editor", "viewer"])
    is_personal = serializers.BooleanField()


class IssueOut(serializers.Serializer):
    node = serializers.CharField(allow_null=True)
    edge = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class DraftIn(serializers.Serializer):
    document = serializers.DictField(help_text="Any JSON object with the document's top-level shape.")
    base_version = serializers.IntegerField(min_value=0, required=False)


class DraftOut(serializers.Serializer):
    document = serializers.DictField()
    errors = IssueOut(many=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    base_version = serializers.IntegerField()


class VersionOut(serializers.Serializer):
    number = serializers.IntegerField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    changes = serializers.ListField(child=serializers.CharField())


class VersionListOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = VersionOut(many=True)


class VersionDetailOut(serializers.Serializer):
    number = serializers.IntegerField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    document = serializers.DictField()


class TemplatePreviewIn(serializers.Serializer):
    template = serializers.CharField(allow_blank=True)
    scope = serializers.DictField(required=False)


class TemplatePreviewOut(serializers.Serializer):
    ok = serializers.BooleanField()
    value = serializers.JSONField(allow_null=True)
    error = serializers.DictField(allow_null=True)
