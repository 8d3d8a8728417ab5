"""The Django side of adapter operations: credentials from the workspace store (decrypted
per operation, each use audited) and the operation records the health page reads.

Executors run on the scheduler's worker threads; each call closes its thread's database
connection afterwards, as the other host calls do, so no thread keeps one open.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from workflows import fencing
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.store import LeaseLost
from workflows.models import Workspace

from ..models import Credential, CredentialAccess, IntegrationOperation
from .base import ConnectionSettings, settings_from
from .lifecycle import OperationRecord

logger = logging.getLogger("switchyard.adapters")


def _release_thread_connection() -> None:
    if threading.current_thread() is not threading.main_thread():
        connection.close()


def _workspace_of(*, run_id: str, workflow_id: str = ""):
    """The workspace of the run, or of the workflow for a node tested alone (no run)."""
    # Through the workspace's reverse relations: connectors sits below runs and never imports it.
    found = (
        Workspace.objects.filter(runs__pk=run_id)
        if run_id
        else Workspace.objects.filter(workflows__pk=workflow_id)
    )
    workspace_id = found.values_list("pk", flat=True).first() if (run_id or workflow_id) else None
    if workspace_id is None:
        raise NodeError(ErrorCategory.VALIDATION_ERROR, "the run no longer exists", retryable=False)
    return workspace_id


def connection_settings(*, workspace_id, name: str, purpose: str, run_id=None) -> ConnectionSettings:
    """Decrypt the workspace credential `name` into ConnectionSettings, auditing the use."""
    with transaction.atomic():
        credential = Credential.objects.filter(workspace_id=workspace_id, name=name).first()
        if credential is None:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"No credential {name!r} in this workspace",
                {"credential": name},
                retryable=False,
            )
        CredentialAccess.objects.create(credential=credential, purpose=purpose[:200], run_id=run_id)
        Credential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return settings_from(
        credential_id=str(credential.pk), credential_name=credential.name, data=credential.data
    )


def resolver(*, run_id: str, node_id: str, workflow_id: str = "") -> Callable[[str], ConnectionSettings]:
    """The credential resolver for one node attempt of a run (or a node tested alone)."""

    def resolve(name: str) -> ConnectionSettings:
        try:
            return connection_settings(
                workspace_id=_workspace_of(run_id=run_id, workflow_id=workflow_id),
                name=name,
                purpose=f"node {node_id} of run {run_id}" if run_id else f"node {node_id} tested alone",
                run_id=run_id or None,
            )
        finally:
            _release_thread_connection()

    return resolve


def record_operation(*, record: OperationRecord, workspace_id, run_id=None, node_id: str = "") -> None:
    """Store one finished operation for the health page (never fails the node). A run's
    holder that lost its lease stores nothing."""
    try:
        with fencing.fenced():
            _create_operation(record=record, workspace_id=workspace_id, run_id=run_id, node_id=node_id)
    except LeaseLost:
        logger.warning("run %s was taken over; its operation record is not stored", run_id)
    except Exception:  # noqa: BLE001 - statistics must not turn a finished operation into a failure
        logger.exception("could not record an integration operation")


def _create_operation(*, record: OperationRecord, workspace_id, run_id, node_id: str) -> None:
    IntegrationOperation.objects.create(
        workspace_id=workspace_id,
        credential_id=record.credential_id,
        credential_name=record.credential_name[:100],
        adapter=record.adapter[:30],
        operation=record.operation[:30],
        endpoint=record.endpoint[:500],
        succeeded=record.succeeded,
        duration_ms=record.duration_ms,
        error_category=record.error_category,
        error_message=record.error_message[:500],
        rows=record.rows,
        messages=record.messages,
        bytes=record.bytes,
        run_id=run_id,
        node_id=node_id[:63],
    )


def recorder(*, run_id: str, node_id: str, workflow_id: str = "") -> Callable[[OperationRecord], None]:
    def record(outcome: OperationRecord) -> None:
        try:
            workspace_id = _workspace_of(run_id=run_id, workflow_id=workflow_id)
            record_operation(
                record=outcome, workspace_id=workspace_id, run_id=run_id or None, node_id=node_id
            )
        except NodeError:
            pass
        finally:
            _release_thread_connection()

    return record
