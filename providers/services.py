"""Writes for provider connections, and every call to a provider (tests, listings,
previews, executions) — each one resolves the connection's credential (audited) and goes
through the provider's adapter.

Nodes reach this module through the engine's host capability "providers"
(`node_call`, registered in `ProvidersConfig.ready()`); the API calls the named functions.
"""

from __future__ import annotations

import secrets as pysecrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from config.errors import ApplicationError
from workflows import fencing
from workflows.engine import iterations, masking
from workflows.engine.errors import ErrorCategory, NodeError
from workflows.engine.masking import mask_url
from workflows.models import Workspace

from .adapters import (
    ACCEPTED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    ConnectionInfo,
    ExecuteRequest,
    Execution,
    ProviderAdapter,
    ProviderClient,
    registry,
)
from .models import ConnectionStatus, ProviderConnection, ProviderExecution, ProviderExecutionStatus

WAIT_MODES = ("none", "poll", "callback")
API_POLL_BUDGET_S = 60.0  # an API execute with wait=poll polls at most this long


class ProviderRefused(ApplicationError):
    """A connection write or provider call was refused (bad field, unusable connection)."""


def _invalid(field: str, message: str) -> ProviderRefused:
    return ProviderRefused("VALIDATION_ERROR", message, details={field: [message]})


# ---------------------------------------------------------------------------- connections


def _credential_named(workspace_id, name):
    """The workspace credential called `name` (through the workspace's reverse relation:
    the credential store belongs to the connectors app above us)."""
    from workflows.models import Workspace

    workspace = Workspace.objects.get(pk=workspace_id)
    return workspace.credentials.filter(name=name).first()


def _clean(*, workspace_id, provider: str, name: Any, base_url: Any, credential: Any, settings_: Any):
    if provider not in registry.names():
        raise _invalid("provider", f"provider must be one of {', '.join(registry.names())}.")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _invalid("name", "name is required (at most 200 characters).")
    if not isinstance(base_url, str) or not base_url.lower().startswith(("http://", "https://")):
        adapter_cls = registry.get(provider)
        raise _invalid("base_url", f"base_url must be an http(s) URL: {adapter_cls.base_url_help}.")
    if len(base_url) > 500:
        raise _invalid("base_url", "base_url is at most 500 characters.")
    if mask_url(base_url) != base_url:  # stored and shown as it is: no place for a secret
        raise _invalid(
            "base_url",
            "base_url must not carry a password or a credential-named query parameter: "
            "keep the secret in the connection's credential.",
        )
    if not isinstance(settings_, dict):
        raise _invalid("settings", "settings must be an object.")
    found = None
    if credential not in (None, ""):
        if not isinstance(credential, str):
            raise _invalid("credential", "credential must be the name of a workspace credential.")
        found = _credential_named(workspace_id, credential)
        if found is None:
            raise _invalid("credential", f"This workspace has no credential called {credential!r}.")
    adapter_cls = registry.get(provider)
    for field_name in adapter_cls.credential_fields:
        if found is None or not found.data.get(field_name):
            raise _invalid(
                "credential",
                f"A {adapter_cls.label} connection needs a credential whose data holds "
                f"{field_name!r} (create one under /credentials/, then name it here).",
            )
    return found


def _save(conn: ProviderConnection) -> None:
    clash = ProviderConnection.objects.filter(workspace_id=conn.workspace_id, name=conn.name)
    message = f"This workspace already has a provider connection called {conn.name!r}."
    if clash.exclude(pk=conn.pk).exists():
        raise _invalid("name", message)
    try:
        with transaction.atomic():
            conn.save()
    except IntegrityError:
        raise _invalid("name", message) from None


@transaction.atomic
def create_connection(
    *, workspace, name: str, provider: str, base_url: str, credential: str | None = None, settings=None
) -> ProviderConnection:
    """A new connection in `workspace`; its secret stays in the named workspace credential."""
    settings = {} if settings is None else settings
    found = _clean(
        workspace_id=workspace.pk,
        provider=provider,
        name=name,
        base_url=base_url,
        credential=credential,
        settings_=settings,
    )
    conn = ProviderConnection(
        workspace=workspace,
        name=name.strip(),
        provider=provider,
        base_url=base_url.strip(),
        credential=found,
        settings=settings,
    )
    _save(conn)
    return conn


@transaction.atomic
def update_connection(*, connection: ProviderConnection, **changes: Any) -> ProviderConnection:
    """Change name, base_url, credential (a name; null clears it) or settings."""
    conn = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    credential = changes.get("credential", conn.credential.name if conn.credential else None)
    found = _clean(
        workspace_id=conn.workspace_id,
        provider=changes.get("provider", conn.provider),
        name=changes.get("name", conn.name),
        base_url=changes.get("base_url", conn.base_url),
        credential=credential,
        settings_=changes.get("settings", conn.settings),
    )
    if changes.get("provider", conn.provider) != conn.provider:
        raise _invalid("provider", "The provider of a connection cannot change; create another one.")
    conn.name = changes.get("name", conn.name).strip()
    conn.base_url = changes.get("base_url", conn.base_url).strip()
    conn.settings = changes.get("settings", conn.settings)
    conn.credential = found
    conn.status, conn.last_error = ConnectionStatus.UNTESTED, ""
    _save(conn)
    return conn


@transaction.atomic
def delete_connection(*, connection: ProviderConnection) -> None:
    connection.delete()


# ------------------------------------------------------------------------ provider calls


def _secrets(conn: ProviderConnection, *, purpose: str, user=None, run_id=None) -> dict[str, str]:
    """The connection credential's fields, decrypted; each use is recorded in its audit trail."""
    credential = conn.credential
    if credential is None:
        return {}
    credential.accesses.create(user=user, purpose=purpose[:200], run_id=run_id)
    type(credential).objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return {k: str(v) for k, v in credential.data.items() if v not in (None, "")}


def adapter_for(
    conn: ProviderConnection, *, purpose: str, user=None, run_id=None, timeout_s: float = 30.0
) -> ProviderAdapter:
    secrets = _secrets(conn, purpose=purpose, user=user, run_id=run_id)
    client = ProviderClient(
        base_url=conn.base_url,
        allow_private=settings.ALLOW_PRIVATE_OUTBOUND,
        timeout_s=timeout_s,
        secrets=[v for v in secrets.values() if len(v) >= 4],
    )
    info = ConnectionInfo(base_url=conn.base_url, secrets=secrets, settings=dict(conn.settings or {}))
    return registry.get(conn.provider)(info, client)


def _record_status(conn: ProviderConnection, error: NodeError | None, *, synced: bool = False) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {"last_tested_at": now}
    if error is None:
        fields.update(status=ConnectionStatus.OK, last_error="")
        if synced:
            fields["last_sync"] = now
    else:
        fields.update(status=ConnectionStatus.ERROR, last_error=f"{error.category}: {error.message}"[:2000])
    ProviderConnection.objects.filter(pk=conn.pk).update(**fields)
    for key, value in fields.items():
        setattr(conn, key, value)


def test_connection(*, connection: ProviderConnection, user=None) -> dict[str, Any]:
    """{ok, error}: one cheap authenticated call (Zapier: a marked test payload)."""
    try:
        adapter_for(
            connection, purpose=f"test of provider connection {connection.name}", user=user
        ).test_connection()
    except NodeError as exc:
        _record_status(connection, exc)
        return {"ok": False, "error": exc.as_dict()}
    _record_status(connection, None)
    return {"ok": True, "error": None}


def _api_error(exc: NodeError) -> ProviderRefused:
    status = {
        ErrorCategory.AUTHENTICATION_ERROR: 502,
        ErrorCategory.VALIDATION_ERROR: 400,
    }.get(exc.category, 502)
    return ProviderRefused(exc.category.value, exc.message, status, details=exc.details)


def list_remote(*, connection: ProviderConnection, cursor: str | None = None, limit: int = 100, user=None):
    adapter = adapter_for(connection, purpose=f"listing {connection.name}", user=user)
    try:
        page = adapter.list_workflows(cursor=cursor, limit=limit)
    except NodeError as exc:
        if exc.category != ErrorCategory.VALIDATION_ERROR:
            _record_status(connection, exc)
        raise _api_error(exc) from None
    _record_status(connection, None, synced=True)
    return page


def preview_remote(*, connection: ProviderConnection, remote_id: str, user=None) -> dict[str, Any]:
    adapter = adapter_for(connection, purpose=f"preview from {connection.name}", user=user)
    try:
        return adapter.get_preview(remote_id).as_dict()
    except NodeError as exc:
        raise _api_error(exc) from None


def recent_remote_executions(*, connection: ProviderConnection, remote_id: str | None = None, user=None):
    adapter = adapter_for(connection, purpose=f"executions of {connection.name}", user=user)
    try:
        return adapter.recent_executions(workflow=remote_id)
    except NodeError as exc:
        raise _api_error(exc) from None


def list_hooks(*, connection: ProviderConnection, user=None) -> list[dict[str, Any]]:
    """A Make connection's custom webhooks (`GET /hooks`)."""
    adapter = adapter_for(connection, purpose=f"webhooks of {connection.name}", user=user)
    if not hasattr(adapter, "hooks"):
        raise _invalid("connection", f"{adapter.label} connections have no custom webhooks to list.")
    try:
        return adapter.hooks()
    except NodeError as exc:
        raise _api_error(exc) from None


def node_output(provider: str, remote_id: str, execution: Execution, status: str | None = None) -> dict:
    """The `provider.*` node output (SPEC §5)."""
    return {
        "provider": provider,
        "remote_id": remote_id,
        "execution_id": execution.execution_id,
        "status": status or execution.status,
        "data": execution.data,
    }


def remote_failure(provider: str, remote_id: str, execution: Execution) -> NodeError:
    label = registry.get(provider).label
    error = execution.error or {}
    return NodeError(
        ErrorCategory.INTEGRATION_ERROR,
        f"the {label} workflow {remote_id} failed: {error.get('message') or execution.remote_status}",
        {
            "provider": provider,
            "remote_id": remote_id,
            "execution_id": execution.execution_id,
            "remote": error,
        },
        retryable=False,
    )


def execute_remote(
    *,
    connection: ProviderConnection,
    remote_id: str,
    data: Any,
    wait: str = "none",
    poll: dict | None = None,
    options: dict | None = None,
    expires_in_s: float | None = None,
    timeout_s: float = 0.0,
    request=None,
    user=None,
) -> dict[str, Any]:
    """Run a remote workflow from the API: `none` answers at once, `poll` polls here (at
    most API_POLL_BUDGET_S); `callback` sends a callback URL of its own (a token on the
    execution record, so the wait is durable and holds nothing) and answers with the
    record to follow, or — with `timeout_s` — the outcome if the callback comes in time."""
    if wait not in WAIT_MODES:
        raise _invalid("wait", f"wait must be one of {', '.join(WAIT_MODES)}.")
    adapter = adapter_for(connection, purpose=f"execution through {connection.name}", user=user)
    callback = None
    if wait == "callback":
        callback = _api_callback(expires_in_s, request)
    record = _start_record(
        connection,
        remote_id=remote_id,
        run_id=None,
        node_id="",
        wait=wait,
        callback_token=(callback or {}).get("token"),
        callback_expires_at=(callback or {}).get("expires"),
    )
    try:
        execution = adapter.execute(
            ExecuteRequest(
                workflow=remote_id,
                data=data,
                reference=record.reference,
                options=options or {},
                callback_url=(callback or {}).get("url"),
            )
        )
        if wait == "poll" and execution.status == RUNNING:
            interval = float((poll or {}).get("interval_s", 1))
            deadline = time.monotonic() + API_POLL_BUDGET_S
            while execution.status == RUNNING and time.monotonic() < deadline:
                time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
                execution = adapter.poll(workflow=remote_id, execution_id=execution.execution_id or "")
                record.polls += 1
    except NodeError as exc:
        _finish_record(record, FAILED, error=exc.as_dict())
        raise _api_error(exc) from None
    if callback is not None and execution.status != FAILED:
        return _await_api_callback(record, execution, callback, timeout_s)
    status = ACCEPTED if wait == "none" and execution.status != FAILED else execution.status
    _finish_record(record, status, execution=execution)
    return node_output(connection.provider, remote_id, execution, status)


API_CALLBACK_EXPIRY_S = 24 * 3600.0
API_CALLBACK_MAX_EXPIRY_S = 30 * 24 * 3600.0


def _api_callback(expires_in_s: float | None, request) -> dict[str, Any]:
    expires = API_CALLBACK_EXPIRY_S if expires_in_s in (None, "") else float(expires_in_s)
    if not 0 < expires <= API_CALLBACK_MAX_EXPIRY_S:
        raise _invalid(
            "expires_in_s", f"expires_in_s must be above 0 and at most {API_CALLBACK_MAX_EXPIRY_S:g}."
        )
    if _callback_url_factory is None:
        raise _invalid("wait", "Callbacks are not available in this process.")
    token = pysecrets.token_urlsafe(32)
    return {
        "token": token,
        "url": _callback_url_factory(token, request),
        "expires": timezone.now() + timedelta(seconds=expires),
    }


def _await_api_callback(record, execution: Execution, callback: dict, timeout_s: float) -> dict[str, Any]:
    """The call went out: note the remote id (a callback may already have finished the
    record), then wait up to `timeout_s` for the callback to finish it."""
    ProviderExecution.objects.filter(pk=record.pk, status=ProviderExecutionStatus.SENDING).update(
        status=RUNNING
    )
    if execution.execution_id:
        ProviderExecution.objects.filter(pk=record.pk, execution_id="").update(
            execution_id=execution.execution_id[:200]
        )
    deadline = time.monotonic() + max(0.0, min(float(timeout_s or 0), API_POLL_BUDGET_S))
    while True:
        record.refresh_from_db()
        if record.status in (SUCCEEDED, FAILED) or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    done = record.status in (SUCCEEDED, FAILED)
    output = node_output(
        record.provider,
        record.remote_id,
        Execution(
            record.status, record.execution_id or execution.execution_id, record.data if done else None
        ),
        record.status if done else ACCEPTED,
    )
    output["execution"] = {
        "id": str(record.pk),
        "status": record.status,
        "callback_url": callback["url"],
        "expires_at": callback["expires"].isoformat(),
        "error": record.error,
    }
    return output


# ------------------------------------------------------------ callbacks to API executions


def execution_for_callback(token: str) -> ProviderExecution | None:
    """The API execution waiting on `token`, locked (call inside a transaction)."""
    return (
        ProviderExecution.objects.select_for_update(of=("self",))
        .select_related("connection__credential")
        .filter(callback_token=token)
        .first()
    )


def callback_signing_secret(record: ProviderExecution) -> str:
    conn = record.connection
    if conn is None or conn.credential is None:
        return ""
    return str(conn.credential.data.get("callback_secret") or "")


def record_execution_callback(record: ProviderExecution, *, outcome: str, receipt: dict[str, Any]) -> str:
    """Keep the callback on the record; an accepted one finishes it (`interpret_callback`);
    an expired wait is finished as a TIMEOUT_ERROR. Returns the outcome."""
    now = timezone.now()
    fields: dict[str, Any] = {"callbacks": [*(record.callbacks or []), receipt]}
    if outcome == "accepted":
        result = registry.get(record.provider).interpret_callback(receipt.get("payload"))
        fields.update(status=result.status, data=result.data, error=result.error, completed_at=now)
    elif outcome == "expired" and record.status not in (SUCCEEDED, FAILED):
        fields.update(
            status=FAILED,
            completed_at=now,
            error={
                "category": ErrorCategory.TIMEOUT_ERROR.value,
                "message": "no callback came before the token expired",
            },
        )
    ProviderExecution.objects.filter(pk=record.pk).update(**masking.without_nul(fields))
    return outcome


# ----------------------------------------------------------------- execution records


def _start_record(
    conn, *, remote_id, run_id, node_id, wait, iteration=None, outer=(), **fields: Any
) -> ProviderExecution:
    """The record of a call about to go out (`sending`: committed before the call)."""
    with fencing.fenced():  # a run's holder that lost its lease records nothing
        return ProviderExecution.objects.create(
            workspace_id=conn.workspace_id,
            connection=conn,
            provider=conn.provider,
            remote_id=str(remote_id or "")[:500],
            reference=uuid.uuid4().hex,
            run_id=run_id,
            node_id=node_id,
            iteration=iteration,
            outer_iterations=iterations.encode_outer(outer),
            wait=wait,
            status=ProviderExecutionStatus.SENDING,
            **fields,
        )


def _finish_record(record: ProviderExecution, status: str, *, execution: Execution | None = None, error=None):
    fields: dict[str, Any] = {"status": status, "polls": record.polls}
    if execution is not None:
        fields.update(
            execution_id=(execution.execution_id or "")[:200], data=execution.data, error=execution.error
        )
    if error is not None:
        fields["error"] = error
    if status != RUNNING:
        fields["completed_at"] = timezone.now()
    with fencing.fenced():  # a remote's answer may hold NUL characters: stored as U+FFFD
        ProviderExecution.objects.filter(pk=record.pk).update(**masking.without_nul(fields))


def new_callback_secret() -> str:
    return pysecrets.token_urlsafe(32)


# ----------------------------------------------------------------------- node capability


def node_call(operation: str, **arguments: Any) -> dict[str, Any]:
    """The engine's "providers" capability: what `provider.*` executors ask of the host.

    Runs on an engine pool thread; closes its database connection when done there."""
    try:
        return _NODE_OPERATIONS[operation](**arguments)
    finally:
        if threading.current_thread() is not threading.main_thread():
            db_connection.close()


# Callback tokens belong to the runs app, which sits above this one (it never imports
# upward): `RunsConfig.ready()` hands its `create_callback` over.
_callback_factory: Callable[..., dict[str, Any]] | None = None


_callback_url_factory: Callable[..., str] | None = None


def use_callback_factory(
    factory: Callable[..., dict[str, Any]], url: Callable[..., str] | None = None
) -> None:
    """`factory` makes a run's callback token; `url(token, request)` the public URL of any
    token (API executions keep theirs on the execution record)."""
    global _callback_factory, _callback_url_factory
    _callback_factory = factory
    if url is not None:
        _callback_url_factory = url


def _workspace_of_run(run_id: str):
    # Through the workspace's reverse relation: providers sits below runs and never imports it.
    return Workspace.objects.filter(runs__pk=run_id).values_list("pk", flat=True).first()


def _node_connection(*, run_id: str, provider: str, connection: str | None) -> ProviderConnection:
    workspace_id = _workspace_of_run(run_id)
    from .selectors import find_connection

    found = (
        find_connection(workspace_id=workspace_id, ref=connection, provider=provider) if connection else None
    )
    if found is None:
        raise NodeError(
            ErrorCategory.VALIDATION_ERROR,
            f"No {registry.get(provider).label} connection {connection!r} in this workspace"
            if connection
            else f"config.connection must name a {registry.get(provider).label} connection",
            {"connection": connection},
            retryable=False,
        )
    return found


def _zapier_hook_connection(*, run_id: str, workflow: str) -> ProviderConnection:
    """Zapier without a stored connection: the node's hook URL stands in for one."""
    workspace_id = _workspace_of_run(run_id)
    return ProviderConnection(
        workspace_id=workspace_id, provider="zapier", name="(hook URL)", base_url=workflow
    )


def _op_callback(
    *, run_id, node_id, iteration, provider, connection, expires_in_s, node_type, outer=()
) -> dict:
    secret = ""
    if connection:
        conn = _node_connection(run_id=run_id, provider=provider, connection=connection)
        if conn.credential is not None:
            secret = _secrets(conn, purpose=f"callback signing for run {run_id}", run_id=run_id).get(
                "callback_secret", ""
            )
    return _callback_factory(
        run_id=run_id,
        node_id=node_id,
        iteration=iteration,
        outer=outer,
        expires_in_s=expires_in_s,
        context={"type": node_type, "provider": provider, "connection": connection},
        signing_secret=secret,
    )


_REUSABLE = (ProviderExecutionStatus.SENDING, RUNNING, SUCCEEDED, ACCEPTED)


def _prior_record(*, run_id, node_id, iteration, outer=()) -> ProviderExecution | None:
    """The call an earlier attempt of this node instance (`iteration` inside the enclosing
    loops' `outer` indices) made and did not see fail (its worker died after the call,
    before the node parked). A callback wait whose token has expired is over: a retry
    after that timeout starts afresh."""
    if not run_id:
        return None
    found = (
        ProviderExecution.objects.filter(
            run_id=run_id,
            node_id=node_id,
            iteration=iteration,
            outer_iterations=iterations.encode_outer(outer),
        )
        .order_by("-started_at")
        .first()
    )
    if found is None or found.status not in _REUSABLE:
        return None
    expires = (found.state or {}).get("callback", {}).get("expires_at")
    if expires and found.status in (ProviderExecutionStatus.SENDING, RUNNING):
        from django.utils.dateparse import parse_datetime

        when = parse_datetime(expires)
        if when is not None and when <= timezone.now():
            _finish_record(found, FAILED, error={"message": "the callback wait timed out"})
            return None
    return found


def _op_prior(*, run_id, node_id, iteration, outer=()) -> dict:
    """What an earlier attempt of this node already sent: its callback (to wait on the same
    token the remote workflow was given)."""
    found = _prior_record(run_id=run_id, node_id=node_id, iteration=iteration, outer=outer)
    if found is None:
        return {}
    return {"record": str(found.pk), "status": found.status, "callback": (found.state or {}).get("callback")}


def _op_execute(
    *,
    run_id,
    node_id,
    provider,
    connection,
    workflow,
    data,
    wait,
    callback_url,
    execution,
    options,
    timeout_s,
    iteration=None,
    outer=(),
    callback=None,
) -> dict:
    if connection or provider != "zapier":
        conn = _node_connection(run_id=run_id, provider=provider, connection=connection)
    else:
        conn = _zapier_hook_connection(run_id=run_id, workflow=str(workflow or ""))
    adapter = adapter_for(conn, purpose=f"run {run_id} node {node_id}", run_id=run_id, timeout_s=timeout_s)
    stored = bool(conn.pk and not conn._state.adding)
    record = (
        _prior_record(run_id=run_id, node_id=node_id, iteration=iteration, outer=outer) if stored else None
    )
    notes: list[str] = []
    if record is not None and record.status != ProviderExecutionStatus.SENDING:
        notes.append(
            f"the remote execution {record.execution_id or '(no id)'} was started by an earlier attempt "
            f"of this node ({record.status}): it is not sent again"
        )
        return {
            "execution": _recorded(record).as_dict(),
            "record": str(record.pk),
            "calls": [],
            "notes": notes,
        }
    if record is not None:  # the call went out, the answer was lost: ask the provider
        found = adapter.find_execution(workflow=str(workflow or ""), reference=record.reference)
        if found:
            result = Execution(RUNNING, found, None, None, "found by reference")
            _finish_record(record, RUNNING, execution=result)
            notes.append(f"execution {found} was started by an earlier attempt (found by its reference)")
            return {
                "execution": result.as_dict(),
                "record": str(record.pk),
                "calls": adapter.client.calls,
                "notes": notes,
            }
        notes.append(
            f"an earlier attempt's call got no answer and {adapter.label} cannot look it up: "
            f"sending it again with the same reference {record.reference}"
        )
    elif stored:
        record = _start_record(
            conn,
            remote_id=workflow,
            run_id=run_id,
            node_id=node_id,
            iteration=iteration,
            outer=outer,
            wait=wait,
            state={"callback": callback} if callback else {},
        )
    reference = record.reference if record else uuid.uuid4().hex
    try:
        result = adapter.execute(
            ExecuteRequest(
                workflow=str(workflow or ""),
                data=data,
                callback_url=callback_url,
                resume_execution=str(execution) if execution else None,
                reference=reference,
                timeout_s=timeout_s,
                options=options or {},
            )
        )
    except NodeError as exc:
        if record:
            _finish_record(record, FAILED, error=exc.as_dict())
        raise
    finally:
        calls = adapter.client.calls
    if record:
        # Recorded before the node parks: an attempt re-run after this point sends nothing.
        done = result.status if result.status in (SUCCEEDED, FAILED) or wait == "none" else RUNNING
        _finish_record(record, ACCEPTED if wait == "none" and done != FAILED else done, execution=result)
    return {
        "execution": result.as_dict(),
        "record": str(record.pk) if record else None,
        "calls": calls,
        "notes": notes,
    }


def _recorded(record: ProviderExecution) -> Execution:
    status = RUNNING if record.status == ACCEPTED and record.wait != "none" else record.status
    return Execution(status, record.execution_id or None, record.data, record.error, "recorded")


def _op_poll(
    *, run_id, node_id, provider, connection, workflow, execution_id, record, polls, timeout_s
) -> dict:
    conn = _node_connection(run_id=run_id, provider=provider, connection=connection)
    adapter = adapter_for(
        conn, purpose=f"run {run_id} node {node_id} poll", run_id=run_id, timeout_s=timeout_s
    )
    result = adapter.poll(workflow=str(workflow or ""), execution_id=str(execution_id or ""))
    if record:
        with fencing.fenced():
            ProviderExecution.objects.filter(pk=record).update(polls=polls)
        if result.status != RUNNING:
            found = ProviderExecution.objects.filter(pk=record).first()
            if found:
                found.polls = polls
                _finish_record(found, result.status, execution=result)
    return {"execution": result.as_dict(), "calls": adapter.client.calls}


def _op_callback_result(*, provider, payload, record, execution_id) -> dict:
    adapter_cls = registry.get(provider)
    result = adapter_cls.interpret_callback(payload)
    result.execution_id = execution_id
    if record:
        found = ProviderExecution.objects.filter(pk=record).first()
        if found:
            _finish_record(found, result.status, execution=result)
    return {"execution": result.as_dict()}


def _op_finish(*, record, status, error=None) -> dict:
    if record:
        found = ProviderExecution.objects.filter(pk=record).first()
        if found:
            _finish_record(found, status, error=error)
    return {}


_NODE_OPERATIONS = {
    "prior": _op_prior,
    "callback": _op_callback,
    "execute": _op_execute,
    "poll": _op_poll,
    "callback_result": _op_callback_result,
    "finish": _op_finish,
}
