from django.contrib import admin

from .models import Edge, Membership, Node, Workflow, WorkflowVersion, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "is_personal", "created_at"]
    list_filter = ["is_personal"]
    search_fields = ["name", "memberships__user__username"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "workspace__name"]
    readonly_fields = ["created_at"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NodeInline(ReadOnlyInline):
    model = Node
    fields = ["node_id", "type", "name", "on_error", "timeout_ms", "config"]


class EdgeInline(ReadOnlyInline):
    model = Edge
    fields = ["index", "source", "source_handle", "target", "target_handle", "mapping"]


class VersionInline(ReadOnlyInline):
    model = WorkflowVersion
    fields = ["number", "created_by", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Node and edge rows are a projection of the latest version: edit the document via the API."""

    list_display = ["name", "workspace", "status", "version", "updated_at"]
    list_filter = ["status", "workspace"]
    search_fields = ["name", "description"]
    readonly_fields = ["id", "version", "active_version", "created_by", "created_at", "updated_at"]
    inlines = [NodeInline, EdgeInline, VersionInline]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "created_by", "created_at"]
    list_filter = ["workflow__workspace"]
    search_fields = ["workflow__name"]
    readonly_fields = ["workflow", "number", "document", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # versions are immutable
