from django.contrib import admin

from .models import Connector, ConnectorExecution, Contact, Credential, CredentialAccess


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workspace",
        "kind",
        "total_executions",
        "successful_executions",
        "failed_executions",
        "last_executed_at",
    ]
    list_filter = ["kind", "workspace"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "id",
        "total_executions",
        "successful_executions",
        "failed_executions",
        "total_duration_ms",
        "last_executed_at",
        "created_at",
        "updated_at",
    ]


@admin.register(ConnectorExecution)
class ConnectorExecutionAdmin(admin.ModelAdmin):
    list_display = ["id", "connector", "status", "error_category", "execution_time_ms", "created_at"]
    list_filter = ["status", "error_category"]
    search_fields = ["connector__name", "id"]
    readonly_fields = [f.name for f in ConnectorExecution._meta.fields]


class CredentialAccessInline(admin.TabularInline):
    model = CredentialAccess
    extra = 0
    can_delete = False
    fields = ["accessed_at", "user", "purpose", "run", "connector_execution"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    """Values never appear here: only which fields are set."""

    list_display = ["name", "workspace", "kind", "fields_set", "last_used_at"]
    list_filter = ["kind", "workspace"]
    search_fields = ["name"]
    exclude = ["encrypted_data"]
    readonly_fields = ["id", "fields_set", "last_used_at", "created_at", "updated_at"]
    inlines = [CredentialAccessInline]


@admin.register(CredentialAccess)
class CredentialAccessAdmin(admin.ModelAdmin):
    list_display = ["accessed_at", "credential", "user", "purpose", "run"]
    search_fields = ["credential__name", "purpose"]
    readonly_fields = [f.name for f in CredentialAccess._meta.fields]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "phone", "workspace", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "email", "phone"]
    readonly_fields = ["id", "created_at", "updated_at"]
