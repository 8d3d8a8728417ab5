"""Connectors (reusable API calls), their executions, workspace credentials (encrypted at
rest, write-only in the API) with an access audit trail, and workspace contacts."""

import json
import uuid

from django.conf import settings
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from workflows.scoping import WorkspaceScopedQuerySet


class ConnectorKind(models.TextChoices):
    SINGLE_STEP = "single-step", "Single step"
    MULTI_STEP = "multi-step", "Multi step"


class Connector(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("workflows.Workspace", on_delete=models.CASCADE, related_name="connectors")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=12, choices=ConnectorKind.choices, default=ConnectorKind.SINGLE_STEP)
    config = models.JSONField(default=dict)
    timeout_ms = models.PositiveIntegerField(default=30000)
    total_executions = models.PositiveIntegerField(default=0)
    successful_executions = models.PositiveIntegerField(default=0)
    failed_executions = models.PositiveIntegerField(default=0)
    total_duration_ms = models.PositiveBigIntegerField(default=0)
    last_executed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uniq_connector_name")]

    def __str__(self):
        return self.name

    @property
    def average_duration_ms(self):
        done = self.successful_executions + self.failed_executions
        return round(self.total_duration_ms / done, 1) if done else None


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    EXECUTING = "executing", "Executing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ConnectorExecution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="executions")
    workspace = models.ForeignKey("workflows.Workspace", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    steps = models.JSONField(default=list, blank=True)
    execution_time_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    error_category = models.CharField(max_length=30, blank=True, default="")
    contact = models.ForeignKey("Contact", null=True, blank=True, on_delete=models.SET_NULL)
    run = models.ForeignKey("runs.WorkflowRun", null=True, blank=True, on_delete=models.SET_NULL)
    node_id = models.CharField(max_length=63, blank=True, default="")
    # Who asked for it (API calls); kept so the credential audit names them on the async path.
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connector", "-created_at"], name="connexec_recent")]

    def __str__(self):
        return f"{self.connector} {self.status}"


class CredentialKind(models.TextChoices):
    BEARER = "bearer", "Bearer token"
    API_KEY = "api_key", "API key"
    BASIC = "basic", "Basic auth"
    CUSTOM = "custom", "Custom fields"


class Credential(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("workflows.Workspace", on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=CredentialKind.choices, default=CredentialKind.CUSTOM)
    # A JSON object of field → secret value, encrypted at rest as one blob.
    encrypted_data = EncryptedTextField(default="{}")
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="uniq_credential_name")]

    def __str__(self):
        return f"{self.name} ({self.kind})"

    @property
    def data(self) -> dict:
        return json.loads(self.encrypted_data or "{}")

    @data.setter
    def data(self, value: dict) -> None:
        self.encrypted_data = json.dumps(value)

    @property
    def fields_set(self) -> list[str]:
        return sorted(k for k, v in self.data.items() if v not in (None, ""))


class CredentialAccess(models.Model):
    """Audit trail: one row each time a credential's secret is resolved."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="accesses")
    accessed_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    purpose = models.CharField(max_length=200)
    run = models.ForeignKey("runs.WorkflowRun", null=True, blank=True, on_delete=models.SET_NULL)
    connector_execution = models.ForeignKey(
        ConnectorExecution, null=True, blank=True, on_delete=models.SET_NULL
    )

    workspace_path = "credential__workspace"
    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-accessed_at"]
        verbose_name_plural = "credential accesses"
        # The credentials pages read each credential's newest uses.
        indexes = [models.Index(fields=["credential", "-accessed_at"], name="credaccess_newest")]

    def __str__(self):
        return f"{self.credential.name} used for {self.purpose}"


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("workflows.Workspace", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["workspace", "email"], name="contact_email")]

    def __str__(self):
        return self.name or self.email or str(self.id)


class IntegrationOperation(models.Model):
    """One adapter operation (db.query, mq.publish, …) as it ended: what the integrations
    health page counts. The endpoint is stored masked; no parameters or results are kept."""

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("workflows.Workspace", on_delete=models.CASCADE, related_name="+")
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.SET_NULL, related_name="operations"
    )
    credential_name = models.CharField(max_length=100)
    adapter = models.CharField(max_length=30)
    operation = models.CharField(max_length=30)
    endpoint = models.CharField(max_length=500, blank=True, default="")
    succeeded = models.BooleanField()
    duration_ms = models.FloatField()
    error_category = models.CharField(max_length=30, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    rows = models.IntegerField(null=True, blank=True)
    messages = models.IntegerField(null=True, blank=True)
    bytes = models.BigIntegerField(null=True, blank=True)
    run = models.ForeignKey(
        "runs.WorkflowRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    node_id = models.CharField(max_length=63, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "credential_name", "-created_at"], name="intop_recent")]

    def __str__(self):
        return f"{self.adapter}.{self.operation} via {self.credential_name}"
