"""Connections to outside workflow providers (n8n, Make, Zapier)."""

import json
import uuid

from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from workflows.scoping import WorkspaceScopedQuerySet


class Provider(models.TextChoices):
    N8N = "n8n", "n8n"
    MAKE = "make", "Make"
    ZAPIER = "zapier", "Zapier"


class ConnectionStatus(models.TextChoices):
    UNTESTED = "untested", "Untested"
    OK = "ok", "Connected"
    ERROR = "error", "Error"


class ProviderConnection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workflows.Workspace", on_delete=models.CASCADE, related_name="provider_connections"
    )
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    base_url = models.URLField(blank=True, default="")
    # Provider credentials (API keys, tokens) as one encrypted JSON object.
    encrypted_credentials = EncryptedTextField(default="{}")
    settings = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ConnectionStatus.choices, default=ConnectionStatus.UNTESTED
    )
    status_message = models.TextField(blank=True, default="")
    last_tested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="uniq_provider_connection_name")
        ]

    def __str__(self):
        return f"{self.name} ({self.provider})"

    @property
    def credentials(self) -> dict:
        return json.loads(self.encrypted_credentials or "{}")

    @credentials.setter
    def credentials(self, value: dict) -> None:
        self.encrypted_credentials = json.dumps(value)
