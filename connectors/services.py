"""Writes for connectors, their executions and credentials (with the resolution audit trail)."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from config.errors import ApplicationError
from workflows import fencing
from workflows.engine import masking, outbound
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.templates import render

from . import secrets as connector_secrets
from .config import NAME_PATTERN, config_problems, is_multi_step
from .executor import ExecutionLimits, ExecutionOutcome, execute_config
from .models import (
    Connector,
    ConnectorExecution,
    ConnectorKind,
    Contact,
    Credential,
    CredentialAccess,
    CredentialKind,
    ExecutionStatus,
)

logger = logging.getLogger("switchyard.connectors")
TASK = "connectors.tasks.perform_connector_execution"
MAX_TIMEOUT_MS = 300_000

CREDENTIAL_REF = re.compile(
    r"workspace\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|workspace\s*\[\s*['\"]([^'\"]+)['\"]\s*\]"
)


def credential_refs(value: Any) -> set[str]:
    """Names of credentials referenced as `workspace.<name>` anywhere in `value`."""
    found: set[str] = set()
    if isinstance(value, str):
        if "workspace" in value:
            found.update(a or b for a, b in CREDENTIAL_REF.findall(value))
    elif isinstance(value, dict):
        for v in value.values():
            found |= credential_refs(v)
    elif isinstance(value, list):
        for v in value:
            found |= credential_refs(v)
    return found


def credential_value(credential: Credential) -> Any:
    """What `{{ workspace.<name> }}` yields: the single secret when one field is set, else an
    object of fields (e.g. `workspace.crm.username`)."""
    data = {k: v for k, v in credential.data.items() if v not in (None, "")}
    if len(data) == 1:
        return next(iter(data.values()))
    return data


@transaction.atomic
def resolve_credentials(
    *, workspace_id, names: set[str], purpose: str, user=None, run=None, connector_execution=None
) -> dict[str, Any]:
    """Decrypt the named credentials of a workspace, recording one audit row per credential."""
    return _resolve_credentials(
        workspace_id=workspace_id,
        names=names,
        purpose=purpose,
        user=user,
        run_id=run.pk if run is not None else None,
        connector_execution=connector_execution,
    )


def _resolve_credentials(
    *, workspace_id, names: set[str], purpose: str, user=None, run_id=None, connector_execution=None
) -> dict[str, Any]:
    """`resolve_credentials` for a caller that already holds a transaction (no savepoint)."""
    if not names:
        return {}
    creds = list(Credential.objects.filter(workspace_id=workspace_id, name__in=names))
    if not creds:
        return {}
    now = timezone.now()
    CredentialAccess.objects.bulk_create(
        CredentialAccess(
            credential=c,
            user=user,
            purpose=purpose[:200],
            run_id=run_id,
            connector_execution=connector_execution,
        )
        for c in creds
    )
    Credential.objects.filter(pk__in=[c.pk for c in creds]).update(last_used_at=now)
    return {c.name: credential_value(c) for c in creds}


def document_credential_refs(document: dict) -> set[str]:
    """Credentials a workflow document references (node configs and edge mappings)."""
    return credential_refs(
        [n.get("config") for n in document["nodes"]] + [e.get("mapping") for e in document["edges"]]
    )


def resolve_credentials_for_run(*, run) -> dict[str, Any]:
    names = document_credential_refs(run.version.document)
    return resolve_credentials(
        workspace_id=run.workspace_id,
        names=names,
        purpose=f"run {run.pk} of workflow {run.workflow_id}",
        run=run,
    )


# --------------------------------------------------------------------------- domain error


class ConnectorRefused(ApplicationError):
    """A connector or credential write was refused."""


def _invalid(field: str, message: str) -> ConnectorRefused:
    return ConnectorRefused("VALIDATION_ERROR", message, details={field: [message]})


# ---------------------------------------------------------------------------- credentials


def _clean_credential_fields(*, name: str, kind: str, data: dict) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > 100:
        raise _invalid(
            "name",
            f"A credential name must match {NAME_PATTERN.pattern} (it is used as "
            "workspace.<name> in templates) and be at most 100 characters.",
        )
    if kind not in CredentialKind.values:
        raise _invalid("kind", f"kind must be one of {', '.join(CredentialKind.values)}.")
    if not isinstance(data, dict) or any(not isinstance(k, str) or not k for k in data):
        raise _invalid("data", "data must be an object of field names to values.")
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _invalid(f"data.{key}", f"data.{key} must be a string or a number.")


def _save_unique(instance, *, what: str) -> None:
    """Save, turning a (workspace, name) clash into a 400 naming `name`."""
    clash = type(instance).objects.filter(workspace_id=instance.workspace_id, name=instance.name)
    message = f"This workspace already has a {what} called {instance.name!r}."
    if clash.exclude(pk=instance.pk).exists():
        raise _invalid("name", message)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:  # a concurrent create with the same name won
        raise _invalid("name", message) from None


@transaction.atomic
def create_credential(*, workspace, name: str, kind: str = CredentialKind.CUSTOM, data: dict) -> Credential:
    """Store a new encrypted credential in `workspace`."""
    _clean_credential_fields(name=name, kind=kind, data=data)
    credential = Credential(workspace=workspace, name=name, kind=kind)
    credential.data = {k: str(v) for k, v in data.items()}
    _save_unique(credential, what="credential")
    return credential


@transaction.atomic
def update_credential(
    *,
    credential: Credential,
    name: str | None = None,
    kind: str | None = None,
    data: dict | None = None,
    merge_data: bool = False,
) -> Credential:
    """Rename / retype a credential and replace its data, or merge into it (`merge_data`;
    a null value removes that field)."""
    credential = Credential.objects.select_for_update().get(pk=credential.pk)
    name = credential.name if name is None else name
    kind = credential.kind if kind is None else kind
    if data is None:
        new_data = credential.data
    elif merge_data and isinstance(data, dict):
        new_data = {**credential.data, **data}
        new_data = {k: v for k, v in new_data.items() if v is not None}
    else:
        new_data = data
    _clean_credential_fields(name=name, kind=kind, data=new_data)
    credential.name, credential.kind = name, kind
    credential.data = {k: str(v) for k, v in new_data.items()}
    _save_unique(credential, what="credential")
    return credential


@transaction.atomic
def delete_credential(*, credential: Credential) -> None:
    credential.delete()


# ----------------------------------------------------------------------------- connectors


def _clean_connector_fields(*, name: Any, description: Any, config: Any, timeout_ms: Any) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _invalid("name", "name is required (at most 200 characters).")
    if not isinstance(description, str):
        raise _invalid("description", "description must be a string.")
    if (
        isinstance(timeout_ms, bool)
        or not isinstance(timeout_ms, int)
        or not 1 <= timeout_ms <= MAX_TIMEOUT_MS
    ):
        raise _invalid("timeout_ms", f"timeout_ms must be an integer from 1 to {MAX_TIMEOUT_MS}.")
    problems = config_problems(config)
    if problems:
        field, messages = next(iter(problems.items()))
        raise ConnectorRefused(
            "VALIDATION_ERROR", f"The connector config is invalid: {field}: {messages[0]}", details=problems
        )


@transaction.atomic
def create_connector(
    *, workspace, name: str, config: dict, description: str = "", timeout_ms: int = 30_000
) -> Connector:
    """Create a connector after validating its config (400 naming the step and field)."""
    _clean_connector_fields(name=name, description=description, config=config, timeout_ms=timeout_ms)
    connector = Connector(
        workspace=workspace,
        name=name.strip(),
        description=description,
        config=connector_secrets.sealed(config),
        timeout_ms=timeout_ms,
        kind=_kind_of(config),
    )
    _save_unique(connector, what="connector")
    return connector


@transaction.atomic
def update_connector(*, connector: Connector, **changes: Any) -> Connector:
    """Change name, description, config and/or timeout_ms (others are ignored)."""
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    fields = {
        k: changes.get(k, getattr(connector, k)) for k in ("name", "description", "config", "timeout_ms")
    }
    if "config" in changes:  # `***` keeps the stored secret; the rest is sealed
        fields["config"] = connector_secrets.sealed(changes["config"], previous=connector.config)
    _clean_connector_fields(**{**fields, "config": connector_secrets.unsealed(fields["config"])[0]})
    for key, value in fields.items():
        setattr(connector, key, value.strip() if key == "name" else value)
    connector.kind = _kind_of(connector.config)
    _save_unique(connector, what="connector")
    return connector


@transaction.atomic
def delete_connector(*, connector: Connector) -> None:
    connector.delete()


def _kind_of(config: dict) -> str:
    return ConnectorKind.MULTI_STEP if is_multi_step(config) else ConnectorKind.SINGLE_STEP


# ----------------------------------------------------------------------------- executions


def create_execution(
    *,
    connector: Connector,
    input: Any,
    user=None,
    contact: Contact | None = None,
    run=None,
    node_id: str = "",
    status: str = ExecutionStatus.PENDING,
) -> ConnectorExecution:
    """An execution record (`pending`: nothing runs yet)."""
    return ConnectorExecution.objects.create(
        connector=connector,
        workspace_id=connector.workspace_id,
        input=masking.without_nul(input) if input is not None else {},
        contact=contact,
        run=run,
        node_id=node_id,
        status=status,
        started_at=timezone.now() if status == ExecutionStatus.EXECUTING else None,
        triggered_by=user if user is not None and user.is_authenticated else None,
    )


def execute_connector(
    *,
    connector: Connector,
    input: Any,
    user=None,
    contact: Contact | None = None,
    run=None,
    node_id: str = "",
    secrets: list[str] = (),
) -> ConnectorExecution:
    """Execute a connector now, in this thread, and return the finished execution record.

    The record is created already `executing` (this thread runs it; no worker can claim
    it), in one short transaction with the credential resolution and its audit rows; the
    outcome and the statistics are written in a second one. No row lock or transaction is
    held while a remote API answers. `secrets`: credential strings in play where the
    execution was started (a workflow's workspace credentials rendered into `input`); the
    stored input, steps, output and error are masked with them and the connector's own.
    """
    secrets = [str(s) for s in secrets]
    with fencing.fenced():  # a run's holder that lost its lease records nothing
        execution = create_execution(
            connector=connector,
            input=outbound.mask_secrets(input, secrets),
            user=user,
            contact=contact,
            run=run,
            node_id=node_id,
            status=ExecutionStatus.EXECUTING,
        )
        workspace = _credentials_for(execution, connector)
    return _run(execution, connector=connector, workspace=workspace, input=input, secrets=secrets)


def enqueue_connector_execution(
    *, connector: Connector, input: Any, user=None, contact: Contact | None = None
) -> ConnectorExecution:
    """Create a pending execution and hand it to a worker once the transaction commits."""
    with transaction.atomic():
        execution = create_execution(connector=connector, input=input, user=user, contact=contact)

        def push():
            from django_q.tasks import async_task

            async_task(
                TASK, str(execution.pk), task_name=f"connector execution {execution.pk}", ack_failure=True
            )

        transaction.on_commit(push)
    return execution


def perform_execution(*, execution_id) -> ConnectorExecution:
    """Run a pending execution to its end: pending → executing → completed | failed.

    Idempotent: only the caller that moves the row out of `pending` runs it; a second
    delivery of the same task returns the record as it is.
    """
    claimed = ConnectorExecution.objects.filter(pk=execution_id, status=ExecutionStatus.PENDING).update(
        status=ExecutionStatus.EXECUTING, started_at=timezone.now()
    )
    execution = ConnectorExecution.objects.select_related("connector", "contact", "triggered_by").get(
        pk=execution_id
    )
    if not claimed:
        return execution
    with transaction.atomic():
        workspace = _credentials_for(execution, execution.connector)
    return _run(execution, connector=execution.connector, workspace=workspace)


def _credentials_for(execution: ConnectorExecution, connector: Connector) -> dict[str, Any]:
    """The credentials the connector's templates name, decrypted and audited (in the
    caller's transaction)."""
    return _resolve_credentials(
        workspace_id=connector.workspace_id,
        names=credential_refs(connector.config),
        purpose=f"connector {connector.name} execution {execution.pk}",
        user=execution.triggered_by,
        run_id=execution.run_id,
        connector_execution=execution,
    )


def _run(
    execution: ConnectorExecution,
    *,
    connector: Connector,
    workspace: dict[str, Any],
    input: Any = None,
    secrets: list[str] = (),
) -> ConnectorExecution:
    """Execute an `executing` record's connector (with `input`, default: the stored one)
    and record the outcome; returns the record as stored."""
    input = execution.input if input is None else input
    config, typed = connector_secrets.unsealed(connector.config)  # sealed at rest
    secrets = outbound.secret_values(workspace) + list(secrets) + typed
    limits = ExecutionLimits(
        step_timeout_ms=connector.timeout_ms,
        allow_private=settings.ALLOW_PRIVATE_OUTBOUND,
        max_response_bytes=settings.MAX_RESPONSE_BYTES,
    )
    try:
        if unset := connector_secrets.unset(config):
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"{', '.join(unset)}: the secret is not set (it was masked when copied); type it again",
                {"fields": unset},
                retryable=False,
            )
        outcome = execute_config(config, input=input, workspace=workspace, limits=limits, secrets=secrets)
    except NodeError as exc:
        outcome = ExecutionOutcome(error=exc)
    except Exception as exc:  # a bug must not leave the record `executing` forever
        logger.exception("connector execution %s crashed", execution.pk)
        outcome = ExecutionOutcome(
            error=NodeError(
                ErrorCategory.INTEGRATION_ERROR, outbound.mask_secrets(f"internal error: {exc}", secrets)
            )
        )
    contact_changes = {}
    if outcome.succeeded and execution.contact_id and connector.config.get("response_mapping"):
        try:
            contact_changes = render(
                connector.config["response_mapping"], {"output": outcome.output, "input": input}
            )
        except NodeError as exc:
            outcome.error = NodeError(
                exc.category,
                outbound.mask_secrets(f"response_mapping: {exc.message}", secrets),
                outbound.mask_secrets(exc.details, secrets),
            )
    _finish(execution, outcome, secrets=secrets, contact_changes=contact_changes)
    return execution


@transaction.atomic
def _finish(
    execution: ConnectorExecution,
    outcome: ExecutionOutcome,
    *,
    secrets: list[str],
    contact_changes: dict[str, Any],
) -> None:
    """Record the outcome, count it in the connector's statistics, map it onto the contact.
    For a run whose lease this process has lost meanwhile, nothing (`LeaseLost`).

    The in-memory record gets exactly the values written, so callers need not read it back.
    """
    fencing.check()
    stored = {
        "status": ExecutionStatus.COMPLETED if outcome.succeeded else ExecutionStatus.FAILED,
        # a remote's answer may hold NUL characters: stored as U+FFFD
        "input": masking.without_nul(outbound.mask_secrets(execution.input, secrets)),
        "output": masking.without_nul(outcome.output) if outcome.succeeded else None,
        "steps": masking.without_nul(outcome.steps),
        "execution_time_ms": outcome.duration_ms,
        "error": masking.without_nul(outcome.error.as_dict()) if outcome.error else None,
        "error_category": str(outcome.error.category) if outcome.error else "",
        "completed_at": timezone.now(),
    }
    ConnectorExecution.objects.filter(pk=execution.pk).update(**stored)
    for name, value in stored.items():
        setattr(execution, name, value)
    # F() expressions: concurrent executions add to the row instead of overwriting it.
    Connector.objects.filter(pk=execution.connector_id).update(
        total_executions=F("total_executions") + 1,
        successful_executions=F("successful_executions") + (1 if outcome.succeeded else 0),
        failed_executions=F("failed_executions") + (0 if outcome.succeeded else 1),
        total_duration_ms=F("total_duration_ms") + outcome.duration_ms,
        last_executed_at=stored["completed_at"],
    )
    if contact_changes:
        apply_response_mapping(contact_id=execution.contact_id, changes=contact_changes)


def apply_response_mapping(*, contact_id, changes: dict[str, Any]) -> Contact:
    """Write rendered `response_mapping` values onto a contact (`data.a.b` nests into data)."""
    contact = Contact.objects.select_for_update().get(pk=contact_id)
    data = dict(contact.data or {})
    for key, value in changes.items():
        if key.startswith("data."):
            target = data
            *parents, leaf = key[5:].split(".")
            for part in parents:
                if not isinstance(target.get(part), dict):
                    target[part] = {}
                target = target[part]
            target[leaf] = value
        elif key == "tags":
            contact.tags = value if isinstance(value, list) else [value]
        else:  # name, email, phone: text, cut to the column's length
            limit = Contact._meta.get_field(key).max_length
            setattr(contact, key, ("" if value is None else str(value))[:limit])
    contact.data = data
    contact.save()
    return contact
