"""Workspaces and workflows.

A workflow's document lives in `Node` and `Edge` rows (queryable, editable) and each saved
version is frozen as an immutable `WorkflowVersion` snapshot: runs pin the version they
started on, so editing a workflow never changes a run in flight.
"""

import uuid

from django.conf import settings as django_settings
from django.db import models

from .scoping import WorkspaceScopedQuerySet


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    is_personal = models.BooleanField(default=False)
    members = models.ManyToManyField(
        django_settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


WRITE_ROLES = frozenset({Role.OWNER, Role.EDITOR})


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="uniq_membership")]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"


class WorkflowStatus(models.TextChoices):
    INACTIVE = "inactive", "Inactive"
    ACTIVE = "active", "Active"
    ERROR = "error", "Error"


class Workflow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.INACTIVE)
    variables = models.JSONField(default=dict, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0, help_text="Number of the latest WorkflowVersion")
    active_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["workspace", "status"])]

    def __str__(self):
        return self.name


class OnError(models.TextChoices):
    FAIL = "fail", "Fail the run"
    SKIP = "skip", "Skip and continue"
    ROUTE = "route", "Route to the error handle"


class OnTimeout(models.TextChoices):
    FAIL = "fail", "Fail"
    CONTINUE = "continue", "Continue (as skip)"
    DEFAULT = "default", "Use the default output"


class Node(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="nodes")
    node_id = models.CharField(max_length=63)
    type = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    position = models.JSONField(null=True, blank=True)
    retry = models.JSONField(default=dict, blank=True)
    timeout_ms = models.PositiveIntegerField(null=True, blank=True)
    on_error = models.CharField(max_length=10, choices=OnError.choices, default=OnError.FAIL)
    on_timeout = models.CharField(max_length=10, choices=OnTimeout.choices, default=OnTimeout.FAIL)
    default_output = models.JSONField(null=True, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["workflow", "order"]
        constraints = [models.UniqueConstraint(fields=["workflow", "node_id"], name="uniq_node_id")]

    def __str__(self):
        return f"{self.node_id} ({self.type})"


class Edge(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="edges")
    index = models.PositiveIntegerField()
    source = models.CharField(max_length=63)
    source_handle = models.CharField(max_length=63, default="main")
    target = models.CharField(max_length=63)
    target_handle = models.CharField(max_length=63, default="main")
    mapping = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["workflow", "index"]
        constraints = [models.UniqueConstraint(fields=["workflow", "index"], name="uniq_edge_index")]

    def __str__(self):
        return f"{self.source}.{self.source_handle} → {self.target}"


class WorkflowVersion(models.Model):
    """An immutable snapshot of a workflow document, as saved."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="uniq_workflow_version")]

    def __str__(self):
        return f"{self.workflow} v{self.number}"


class TriggerEndpoint(models.Model):
    """The public address of a webhook (or form) trigger: `/hooks/<token>`.

    Created on first activation and kept across deactivation, so the URL a user pasted into
    another system keeps working when they re-activate; it answers only while the workflow
    is active."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="endpoints")
    node_id = models.CharField(max_length=63)
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "node_id"], name="uniq_endpoint_node")]

    def __str__(self):
        return f"/hooks/{self.token[:6]}… → {self.workflow_id}:{self.node_id}"


class WorkflowDraft(models.Model):
    """The builder's working copy of a workflow: any document-shaped JSON, valid or not.

    `base_version` is the version the copy was started from; a write based on an older
    version than the latest is refused (another tab or person saved in between)."""

    workflow = models.OneToOneField(Workflow, on_delete=models.CASCADE, related_name="draft")
    document = models.JSONField()
    base_version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"draft of {self.workflow} (on v{self.base_version})"
