"""Runs: one `WorkflowRun` per execution, a `NodeExecution` per node instance (a loop
body node once per iteration), an ordered `ExecutionLog`, and `CorrelationToken`s that
let the outside world resume a waiting node (callbacks)."""

import uuid

from django.conf import settings
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from workflows.engine import iterations
from workflows.scoping import WorkspaceScopedQuerySet


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def terminal(cls):
        return (cls.COMPLETED, cls.PARTIAL, cls.FAILED, cls.CANCELLED)


class RunMode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


class NodeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class WorkflowRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: the composite indexes below lead with each (see Meta).
    workspace = models.ForeignKey(
        "workflows.Workspace", on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    # A version cannot go while a run pins it, unless the run goes too (deleting the workflow).
    version = models.ForeignKey("workflows.WorkflowVersion", on_delete=models.RESTRICT, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    mode = models.CharField(max_length=4, choices=RunMode.choices, default=RunMode.LIVE)
    trigger_type = models.CharField(max_length=100, default="trigger.manual")
    trigger_node = models.CharField(max_length=63, blank=True, default="")
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    total_nodes = models.PositiveIntegerField(default=0)
    successful_nodes = models.PositiveIntegerField(default=0)
    failed_nodes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Durability: a worker owns a run through a lease; waiting runs are resumed at resume_at.
    resume_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Fencing token: +1 on every acquisition; the holder's writes check it (runs.store).
    lease_epoch = models.BigIntegerField(default=0)
    # Times the timekeeper found the run unfinished with no worker and queued it again.
    orphan_requeues = models.PositiveIntegerField(default=0)
    # Sub-workflow nesting: 0 for a run started by a trigger, parent's + 1 for a child run.
    depth = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    parent_node_id = models.CharField(max_length=63, blank=True, default="")
    parent_iteration = models.IntegerField(null=True, blank=True)
    # A finished child run: when its parent node's resume with its result was stored. Not
    # set yet: a re-run of that node after a takeover waits on this child again, even if
    # it failed (a retry after the node took its result starts a new child).
    parent_resumed_at = models.DateTimeField(null=True, blank=True)
    parent_outer_iterations = models.CharField(max_length=200, blank=True, default="")  # as NodeExecution's
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    # "Run from node X" (step debugger): X; the states upstream of it came from `retry_of`
    # (the source run) or from pinned outputs.
    start_node = models.CharField(max_length=63, blank=True, default="")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workflow", "-created_at"], name="run_workflow_recent"),
            models.Index(fields=["workflow", "status", "-created_at"], name="run_workflow_status"),
            models.Index(fields=["workflow", "started_at"], name="run_workflow_started"),
            models.Index(fields=["status", "resume_at"], name="run_due"),
            models.Index(fields=["status", "lease_expires_at"], name="run_lease"),
            models.Index(fields=["workflow", "idempotency_key"], name="run_idempotency"),
            # The executions page: a workspace's runs, newest first, optionally by status.
            models.Index(fields=["workspace", "-created_at"], name="run_workspace_recent"),
            models.Index(fields=["workspace", "status", "-created_at"], name="run_workspace_status"),
            # Counting a filtered page without reading the (wide) rows: every filter column.
            models.Index(
                fields=["workspace", "workflow", "mode", "status", "trigger_type", "created_at"],
                name="run_workspace_filters",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="uniq_run_idempotency_key",
            ),
        ]

    def __str__(self):
        return f"run {self.id} ({self.status})"

    @property
    def parent_iteration_path(self) -> list[int] | None:
        """The iteration path of the parent node instance that started this child run."""
        return iterations.path(self.parent_iteration, iterations.decode_outer(self.parent_outer_iterations))

    @property
    def is_finished(self) -> bool:
        return self.status in RunStatus.terminal()

    @property
    def duration_ms(self):
        if self.started_at and self.completed_at:
            return int((self.completed_at - self.started_at).total_seconds() * 1000)
        return None


class NodeExecution(models.Model):
    # Indexed by the unique path (uniq_node_execution_path), which leads with it.
    run = models.ForeignKey(
        WorkflowRun, on_delete=models.CASCADE, related_name="node_executions", db_index=False
    )
    node_id = models.CharField(max_length=63)
    node_type = models.CharField(max_length=100, blank=True, default="")
    iteration = models.IntegerField(null=True, blank=True)  # the innermost loop's item index
    # Enclosing loops' item indices, outermost first, dot-separated ("2", "2.0"): set only in
    # the body of a loop nested in another loop's body.
    outer_iterations = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=NodeStatus.choices, default=NodeStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    handles = models.JSONField(null=True, blank=True)
    wait = models.JSONField(null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    resume_at = models.DateTimeField(null=True, blank=True)

    workspace_path = "run__workspace"
    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["run", "order", "iteration"]
        constraints = [
            models.UniqueConstraint(
                "run",
                "node_id",
                models.functions.Coalesce("iteration", -1),
                "outer_iterations",
                name="uniq_node_execution_path",
            )
        ]  # also the index of a run's rows, and of a node's rows in a run

    def __str__(self):
        suffix = f"[{self.iteration}]" if self.iteration is not None else ""
        if self.outer_iterations:
            suffix = f"[{self.outer_iterations}]{suffix}"
        return f"{self.node_id}{suffix} {self.status}"

    @property
    def iteration_path(self) -> list[int] | None:
        return iterations.path(self.iteration, iterations.decode_outer(self.outer_iterations))

    @property
    def duration_ms(self):
        if self.started_at and self.completed_at:
            return int((self.completed_at - self.started_at).total_seconds() * 1000)
        return None


class LogLevel(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class ExecutionLog(models.Model):
    run = models.ForeignKey(
        WorkflowRun, on_delete=models.CASCADE, related_name="logs", db_index=False
    )  # log_run_level
    timestamp = models.DateTimeField()
    level = models.CharField(max_length=7, choices=LogLevel.choices, default=LogLevel.INFO)
    node_id = models.CharField(max_length=63, blank=True, default="")
    iteration = models.IntegerField(null=True, blank=True)
    outer_iterations = models.CharField(max_length=200, blank=True, default="")  # as NodeExecution's
    message = models.TextField()
    data = models.JSONField(null=True, blank=True)

    workspace_path = "run__workspace"
    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "level"], name="log_run_level")]

    def __str__(self):
        return f"[{self.level}] {self.message[:60]}"

    @property
    def iteration_path(self) -> list[int] | None:
        return iterations.path(self.iteration, iterations.decode_outer(self.outer_iterations))


class CorrelationKind(models.TextChoices):
    CALLBACK = "callback", "Callback"
    CHILD_RUN = "child", "Child run"


class CorrelationToken(models.Model):
    """A secret that resumes one waiting node when the outside world answers."""

    token = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=10, choices=CorrelationKind.choices, default=CorrelationKind.CALLBACK)
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="correlation_tokens")
    node_id = models.CharField(max_length=63)
    iteration = models.IntegerField(null=True, blank=True)
    outer_iterations = models.CharField(max_length=200, blank=True, default="")  # as NodeExecution's
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)
    # When the node's resume with `payload` was stored (the run's node row holds it from
    # then on). Used but not consumed: delivered early, still the node instance's to take.
    consumed_at = models.DateTimeField(null=True, blank=True)
    # Node context (node type, provider, connection, remote execution) for the run detail.
    context = models.JSONField(default=dict, blank=True)
    # When set, a callback must carry X-Switchyard-Signature: sha256=HMAC(secret, body).
    signing_secret = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    workspace_path = "run__workspace"
    objects = WorkspaceScopedQuerySet.as_manager()

    def __str__(self):
        return f"{self.kind} for {self.run_id}/{self.node_id}"

    @property
    def iteration_path(self) -> list[int] | None:
        return iterations.path(self.iteration, iterations.decode_outer(self.outer_iterations))


class CallbackOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted (the node was waiting)"
    EARLY = "early", "Accepted before the node waited (kept until it does)"
    DUPLICATE = "duplicate", "Refused: the token was already used"
    EXPIRED = "expired", "Refused: the token had expired"
    BAD_SIGNATURE = "bad_signature", "Refused: missing or wrong signature"


class CallbackReceipt(models.Model):
    """Every request that reached a known callback token, accepted or not."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="callback_receipts")
    token = models.ForeignKey(CorrelationToken, on_delete=models.CASCADE, related_name="receipts")
    node_id = models.CharField(max_length=63)
    iteration = models.IntegerField(null=True, blank=True)
    outer_iterations = models.CharField(max_length=200, blank=True, default="")  # as NodeExecution's
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=14, choices=CallbackOutcome.choices)
    payload = models.JSONField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)  # secrets masked `***`
    remote_addr = models.CharField(max_length=64, blank=True, default="")

    workspace_path = "run__workspace"
    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["run", "id"]

    def __str__(self):
        return f"callback {self.outcome} for {self.run_id}/{self.node_id}"

    @property
    def iteration_path(self) -> list[int] | None:
        return iterations.path(self.iteration, iterations.decode_outer(self.outer_iterations))


class RunEvent(models.Model):
    """The ordered live-event stream of a run (SPEC §7). Written in the same transaction as
    the state change it describes, so a listener that tails it loses nothing; websockets
    read it after a snapshot. Pruned with the run."""

    # Indexed by event_run_seq and event_workflow_seq, which lead with them.
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="events", db_index=False)
    workflow_id = models.UUIDField()
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["run", "id"], name="event_run_seq"),
            models.Index(fields=["workflow_id", "id"], name="event_workflow_seq"),
        ]

    def __str__(self):
        return f"{self.payload.get('type')} #{self.pk}"


class PinnedOutput(models.Model):
    """A node output pinned for debugging (from a run, or typed). "Run from node" reuses it
    in place of executing the node; live and ordinary test runs never read it."""

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="pins")
    node_id = models.CharField(max_length=63)
    output = models.JSONField(null=True, blank=True)
    handles = models.JSONField(null=True, blank=True)  # the handles that fired, when pinned from a run
    source_run = models.ForeignKey(WorkflowRun, null=True, blank=True, on_delete=models.SET_NULL)
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    workspace_path = "workflow__workspace"
    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "node_id"], name="uniq_pinned_output")]

    def __str__(self):
        return f"pin {self.workflow_id}/{self.node_id}"


class NodeDayStat(models.Model):
    """Per workflow, node and day (UTC, of the run's creation): what the node did in the
    runs that have finished. Kept by database triggers (migration 0012) in the same
    transaction as every change to a finished run's node rows, or to a run's status, day
    or workflow; the per-node statistics add the unfinished runs read live."""

    workflow_id = models.UUIDField()
    day = models.DateField()
    node_id = models.CharField(max_length=63)
    runs = models.BigIntegerField(default=0)  # node executions, skipped ones excepted
    succeeded = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    duration_ms = models.FloatField(default=0)  # sum over the finished ones with both times
    durations = models.BigIntegerField(default=0)  # how many those are

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow_id", "day", "node_id"], name="uniq_node_day_stat")
        ]

    def __str__(self):
        return f"{self.workflow_id} {self.day} {self.node_id}: {self.runs}"
