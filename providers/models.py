"""Connections to outside workflow providers (n8n, Make, Zapier) and the calls made to them.

A connection's secret lives in the workspace credential store (encrypted, write-only,
audited on every use); the connection names that credential.
"""

import uuid

from django.db import models

from workflows.engine import iterations
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
    # The n8n instance, the Make zone base (https://eu1.make.com/api/v2) or the Zapier hook URL.
    base_url = models.URLField(max_length=500, blank=True, default="")
    credential = models.ForeignKey(
        "connectors.Credential",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="provider_connections",
    )
    settings = models.JSONField(default=dict, blank=True)  # e.g. Make `team_id`
    status = models.CharField(
        max_length=10, choices=ConnectionStatus.choices, default=ConnectionStatus.UNTESTED
    )
    last_error = models.TextField(blank=True, default="")
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_sync = models.DateTimeField(null=True, blank=True)  # last successful remote listing
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


class ProviderExecutionStatus(models.TextChoices):
    SENDING = "sending", "Sending (the call is in flight)"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ACCEPTED = "accepted", "Accepted"


class ProviderExecution(models.Model):
    """One call to a remote workflow (from a `provider.*` node or the API), until its outcome.

    Written `sending` before the call goes out and given the remote execution id as soon as
    it answers, so a node attempt re-run after its worker died finds what was already
    started (by run, node and iteration) instead of starting the remote workflow again.
    An API call waiting for a callback holds its own `callback_token`; every callback it
    receives is kept in `callbacks` (time, payload, headers with secrets masked, outcome)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("workflows.Workspace", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        ProviderConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    provider = models.CharField(max_length=10, choices=Provider.choices)
    remote_id = models.CharField(max_length=500, blank=True, default="")
    execution_id = models.CharField(max_length=200, blank=True, default="")
    reference = models.CharField(max_length=64, unique=True)
    run = models.ForeignKey("runs.WorkflowRun", null=True, blank=True, on_delete=models.SET_NULL)
    node_id = models.CharField(max_length=63, blank=True, default="")
    iteration = models.IntegerField(null=True, blank=True)
    # Enclosing loops' indices in a nested loop ("2", "2.0"; as NodeExecution's): with
    # `iteration`, which instance of the node made the call.
    outer_iterations = models.CharField(max_length=200, blank=True, default="")
    wait = models.CharField(max_length=10, default="poll")
    status = models.CharField(
        max_length=10, choices=ProviderExecutionStatus.choices, default=ProviderExecutionStatus.RUNNING
    )
    polls = models.PositiveIntegerField(default=0)
    data = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # Node context kept for a re-run attempt: the callback token/url already sent.
    state = models.JSONField(default=dict, blank=True)
    callback_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    callback_expires_at = models.DateTimeField(null=True, blank=True)
    callbacks = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["connection", "-started_at"], name="provexec_recent"),
            models.Index(fields=["run", "node_id", "iteration"], name="provexec_node"),
        ]

    def __str__(self):
        return f"{self.provider} {self.remote_id} {self.status}"

    @property
    def iteration_path(self) -> list[int] | None:
        return iterations.path(self.iteration, iterations.decode_outer(self.outer_iterations))
