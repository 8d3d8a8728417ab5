"""The listener behind `trigger.queue`: one consumer thread per active queue trigger.

`QueueTriggerListener.reconcile()` compares the active workflows' pinned versions with the
running consumers: a newly activated trigger gets a consumer, a deactivated (or replaced)
one is stopped. Each consumer holds its own broker connection and, per message:

1. receives it unacknowledged;
2. stores a run of the pinned version with the message as its trigger payload
   (`start_run`, committed, enqueued), keyed so a redelivered message finds the run it
   already started instead of starting another;
3. acknowledges it.

A consumer that dies between 1 and 3 leaves the message with the broker, which delivers it
again; nothing is lost. A changed credential is noticed within `CREDENTIAL_CHECK_S` and the
connection reopened with the new settings.

The key: the message id when the message has one. Without one (AMQP and MQTT senders need
not set it), the content key (a hash of destination, body and the sender's properties) with
a per-run suffix: the run is stored `…:pending:<n>` and renamed `…:acked:<n>` once the broker
has the ack. A delivery the broker marks as redelivered takes over a pending run with its
content key — the run a consumer stored before it died — instead of starting one; a first
delivery always starts a run, so two identical messages still make two runs. (Should a
consumer die between the broker ack and the rename, a later identical message that is itself
redelivered would be taken for it: both faults at once.)
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

from connectors.adapters.base import Limits
from connectors.adapters.host import connection_settings
from connectors.adapters.registry import adapters
from connectors.models import Credential
from workflows.models import Workflow, WorkflowStatus, WorkflowVersion

from ..models import WorkflowRun
from ..services import start_run

logger = logging.getLogger("switchyard.queue_triggers")
NODE_TYPE = "trigger.queue"
RECEIVE_WAIT_S = 1.0
CREDENTIAL_CHECK_S = 5.0
RETRY_PAUSE_S = (1.0, 2.0, 5.0, 10.0, 30.0)
PENDING, ACKED = ":pending:", ":acked:"


@dataclass(frozen=True)
class TriggerKey:
    workflow_id: str
    version_id: int
    node_id: str


class QueueConsumer(threading.Thread):
    """Consumes one trigger's destination until stopped."""

    def __init__(self, key: TriggerKey, workspace_id, node: dict):
        super().__init__(name=f"queue-trigger-{key.workflow_id}-{key.node_id}", daemon=True)
        self.key = key
        self.workspace_id = workspace_id
        config = node.get("config") or {}
        self.credential = str(config.get("credential") or "")
        self.destination = str(config.get("destination") or "")
        self.group = str(config.get("group") or "switchyard")
        self.stopping = threading.Event()
        self.receiving = threading.Event()  # set once the consumer has asked for a message
        self.started_runs = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._consume()
                failures = 0
            except Exception:  # noqa: BLE001 - keep consuming: log, pause, reconnect
                logger.exception(
                    "queue trigger %s/%s failed; reconnecting", self.key.workflow_id, self.key.node_id
                )
                self.stopping.wait(RETRY_PAUSE_S[min(failures, len(RETRY_PAUSE_S) - 1)])
                failures += 1
            finally:
                close_old_connections()

    def _credential_stamp(self):
        return (
            Credential.objects.filter(workspace_id=self.workspace_id, name=self.credential)
            .values_list("updated_at", flat=True)
            .first()
        )

    def _consume(self) -> None:
        stamp = self._credential_stamp()
        conn_settings = connection_settings(
            workspace_id=self.workspace_id,
            name=self.credential,
            purpose=f"trigger.queue {self.key.node_id} of workflow {self.key.workflow_id}",
        )
        adapter = adapters.adapter_for("mq", conn_settings.scheme)
        if not hasattr(adapter, "receive"):
            raise RuntimeError(f"{adapter.name} cannot hold a message until the run is stored")
        limits = Limits(timeout_s=30, allow_private=settings.ALLOW_PRIVATE_OUTBOUND)
        connection = self._connect(adapter, conn_settings, limits)
        checked = time.monotonic()
        try:
            while not self.stopping.is_set():
                if time.monotonic() - checked > CREDENTIAL_CHECK_S:
                    checked = time.monotonic()
                    if self._credential_stamp() != stamp:
                        logger.info("credential %s changed: reconnecting", self.credential)
                        return
                    close_old_connections()
                delivery = adapter.receive(connection, self.destination, self.group, RECEIVE_WAIT_S)
                self.receiving.set()
                if delivery is None:
                    continue
                self.take(delivery)
        finally:
            adapter.close(connection)

    def _connect(self, adapter, conn_settings, limits):
        """A receiver connection: one that keeps its broker session across restarts where the
        protocol has sessions (MQTT), named after this trigger."""
        open_receiver = getattr(adapter, "connect_receiver", None)
        if open_receiver is None:
            return adapter.connect(conn_settings, limits)
        return open_receiver(
            conn_settings, limits, consumer_id=f"{self.key.workflow_id}:{self.key.node_id}:{self.group}"
        )

    def take(self, delivery) -> None:
        """Store the message's run, acknowledge it, then mark the run acknowledged."""
        run, pending_key = self._store(delivery)
        delivery.ack()
        if pending_key:
            WorkflowRun.objects.filter(pk=run.pk, idempotency_key=pending_key).update(
                idempotency_key=pending_key.replace(PENDING, ACKED, 1)
            )

    def _store(self, delivery) -> tuple[WorkflowRun, str]:
        workflow = Workflow.objects.get(pk=self.key.workflow_id)
        version = WorkflowVersion.objects.get(pk=self.key.version_id)
        pending_key = ""
        if delivery.message_id:
            key = f"queue:{self.key.node_id}:{delivery.message_id}"[:200]
        elif delivery.content_key:
            prefix = f"queue:{self.key.node_id}:sha256:{delivery.content_key}"
            if delivery.redelivered:
                stored = (
                    WorkflowRun.objects.filter(
                        workflow_id=self.key.workflow_id, idempotency_key__startswith=prefix + PENDING
                    )
                    .order_by("created_at")
                    .first()
                )
                if stored is not None:  # stored by a consumer that died before acknowledging
                    logger.info("redelivered message matches run %s: no second run", stored.pk)
                    return stored, stored.idempotency_key
            key = pending_key = f"{prefix}{PENDING}{uuid.uuid4().hex[:12]}"
        else:
            key = ""
        run = start_run(
            workflow=workflow,
            input=delivery.payload(),
            trigger_node=self.key.node_id,
            trigger_type=NODE_TYPE,
            idempotency_key=key,
            version=version,
        )
        if getattr(run, "fresh", True):
            self.started_runs += 1
        return run, pending_key


class QueueTriggerListener:
    """Keeps one consumer per active queue trigger (see the module docstring)."""

    def __init__(self) -> None:
        self.consumers: dict[TriggerKey, QueueConsumer] = {}
        self._documents: dict[int, dict] = {}  # versions never change once saved

    def wanted(self) -> dict[TriggerKey, tuple]:
        found = {}
        active = Workflow.objects.filter(status=WorkflowStatus.ACTIVE, active_version__isnull=False)
        for workflow_id, version_id, workspace_id in active.values_list(
            "pk", "active_version_id", "workspace_id"
        ):
            document = self._documents.get(version_id)
            if document is None:
                document = WorkflowVersion.objects.get(pk=version_id).document
                self._documents[version_id] = document
            for node in document.get("nodes", []):
                if node.get("type") == NODE_TYPE:
                    found[TriggerKey(str(workflow_id), version_id, node["id"])] = (workspace_id, node)
        return found

    def reconcile(self) -> None:
        wanted = self.wanted()
        for key in [k for k in self.consumers if k not in wanted or not self.consumers[k].is_alive()]:
            self.consumers.pop(key).stop()
        for key, (workspace_id, node) in wanted.items():
            if key not in self.consumers:
                consumer = QueueConsumer(key, workspace_id, node)
                self.consumers[key] = consumer
                consumer.start()

    def run_forever(self, stop: threading.Event, poll_s: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the listener
                logger.exception("queue trigger reconcile failed")
            finally:
                close_old_connections()
            stop.wait(poll_s)
        self.stop_all()

    def stop_all(self, timeout_s: float = 5.0) -> None:
        consumers = list(self.consumers.values())
        self.consumers.clear()
        for consumer in consumers:
            consumer.stop()
        for consumer in consumers:
            consumer.join(timeout_s)
