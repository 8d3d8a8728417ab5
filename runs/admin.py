from django.contrib import admin

from .models import CorrelationToken, ExecutionLog, NodeExecution, WorkflowRun


class NodeExecutionInline(admin.TabularInline):
    model = NodeExecution
    extra = 0
    can_delete = False
    fields = ["node_id", "iteration", "status", "attempts", "started_at", "completed_at", "error", "output"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ExecutionLogInline(admin.TabularInline):
    model = ExecutionLog
    extra = 0
    can_delete = False
    fields = ["timestamp", "level", "node_id", "iteration", "message", "data"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "status", "mode", "trigger_type", "started_at", "duration_ms"]
    list_filter = ["status", "mode", "trigger_type", "workspace"]
    search_fields = ["id", "workflow__name"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WorkflowRun._meta.fields]
    inlines = [NodeExecutionInline, ExecutionLogInline]

    def has_add_permission(self, request):
        return False


@admin.register(NodeExecution)
class NodeExecutionAdmin(admin.ModelAdmin):
    list_display = ["run", "node_id", "iteration", "status", "attempts", "started_at"]
    list_filter = ["status"]
    search_fields = ["node_id", "run__id"]
    readonly_fields = [f.name for f in NodeExecution._meta.fields]


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "run", "level", "node_id", "message"]
    list_filter = ["level"]
    search_fields = ["message", "node_id", "run__id"]
    readonly_fields = [f.name for f in ExecutionLog._meta.fields]


@admin.register(CorrelationToken)
class CorrelationTokenAdmin(admin.ModelAdmin):
    list_display = ["kind", "run", "node_id", "expires_at", "used_at", "created_at"]
    list_filter = ["kind"]
    search_fields = ["run__id", "node_id"]
    readonly_fields = [
        "kind",
        "run",
        "node_id",
        "iteration",
        "expires_at",
        "used_at",
        "payload",
        "created_at",
    ]
    exclude = ["token"]  # the token is the secret
