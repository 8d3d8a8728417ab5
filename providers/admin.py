from django.contrib import admin

from .models import ProviderConnection


@admin.register(ProviderConnection)
class ProviderConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "workspace", "status", "last_tested_at"]
    list_filter = ["provider", "status"]
    search_fields = ["name", "base_url"]
    exclude = ["encrypted_credentials"]
    readonly_fields = ["id", "status", "status_message", "last_tested_at", "created_at", "updated_at"]
