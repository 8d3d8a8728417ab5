from django import forms
from django.contrib import admin

from workflows.engine.masking import mask_url

from . import services
from .models import ProviderConnection, ProviderExecution


class ProviderConnectionForm(forms.ModelForm):
    """The secret is never here: the connection names a workspace credential (encrypted,
    write-only, audited), chosen from the connection's workspace."""

    base_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = ProviderConnection
        fields = ["workspace", "name", "provider", "base_url", "credential", "settings"]

    def clean(self):
        data = super().clean()
        credential, workspace = data.get("credential"), data.get("workspace")
        if credential is not None and workspace is not None and credential.workspace_id != workspace.pk:
            self.add_error("credential", "Choose a credential of the connection's workspace.")
        base_url = data.get("base_url")
        if base_url and mask_url(base_url) != base_url:  # as the API: stored and shown as it is
            self.add_error(
                "base_url",
                "A base URL must not carry a password or a credential-named query parameter: "
                "keep the secret in the connection's credential.",
            )
        return data


@admin.register(ProviderConnection)
class ProviderConnectionAdmin(admin.ModelAdmin):
    form = ProviderConnectionForm
    list_display = ["name", "provider", "workspace", "status", "last_tested_at", "last_sync"]
    list_filter = ["provider", "status"]
    search_fields = ["name", "base_url"]
    readonly_fields = [
        "id",
        "status",
        "last_error",
        "last_tested_at",
        "last_sync",
        "created_at",
        "updated_at",
    ]
    actions = ["test_connections"]

    @admin.action(description="Test the selected connections")
    def test_connections(self, request, queryset):
        for conn in queryset.select_related("credential"):
            result = services.test_connection(connection=conn, user=request.user)
            message = "ok" if result["ok"] else result["error"]["message"]
            self.message_user(request, f"{conn.name}: {message}")


@admin.register(ProviderExecution)
class ProviderExecutionAdmin(admin.ModelAdmin):
    list_display = ["provider", "remote_id", "execution_id", "status", "polls", "started_at", "run"]
    list_filter = ["provider", "status"]
    readonly_fields = [f.name for f in ProviderExecution._meta.fields]

    def has_add_permission(self, request):
        return False
