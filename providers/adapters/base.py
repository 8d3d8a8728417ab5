"""The provider adapter interface: one class per provider, registered with `@adapter`.

An adapter knows one outside workflow provider's HTTP API and nothing of Django: it gets a
`ConnectionInfo` (base URL, decrypted secrets, settings) and a guarded HTTP client, and
returns plain dataclasses. Errors are `NodeError`s with a SPEC category, so the same call
fails a node, a `test` or an API request in the same words.

Adding a provider = one module with one decorated class; the API, the nodes, the pages
and the services read the registry (`get_adapter`, `all_adapters`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workflows.engine.errors import ErrorCategory, NodeError

from .client import ProviderClient

# Sent with every call that starts a remote workflow: our reference for it (an idempotency
# key the remote side can read, and how n8n executions are found again).
REF_HEADER = "X-Switchyard-Ref"

# Our statuses for a remote execution (SPEC §5 `provider.*` output).
SUCCEEDED, FAILED, RUNNING, ACCEPTED = "succeeded", "failed", "running", "accepted"
FINISHED = frozenset({SUCCEEDED, FAILED})


@dataclass(frozen=True)
class ConnectionInfo:
    """What an adapter needs from a stored connection."""

    base_url: str
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteWorkflow:
    remote_id: str
    name: str
    active: bool | None = None
    tags: tuple[str, ...] = ()
    updated_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "remote_id": self.remote_id,
            "name": self.name,
            "active": self.active,
            "tags": list(self.tags),
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class RemotePage:
    """One page of remote workflows and the provider's own cursor for the next (None: last)."""

    results: list[RemoteWorkflow]
    next: str | None = None


@dataclass
class Preview:
    """A remote workflow as our canvas draws it (read-only)."""

    remote_id: str
    name: str
    nodes: list[dict[str, Any]] = field(default_factory=list)  # {id, name, type, position}
    edges: list[dict[str, Any]] = field(default_factory=list)  # {source, target, source_handle}
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "remote_id": self.remote_id,
            "name": self.name,
            "graph": {"nodes": self.nodes, "edges": self.edges},
            "inputs": self.inputs,
            "outputs": self.outputs,
        }


@dataclass
class Execution:
    """Where a remote execution stands. `status`: succeeded | failed | running | accepted."""

    status: str
    execution_id: str | None = None
    data: Any = None
    error: dict[str, Any] | None = None
    remote_status: str | None = None  # the provider's own word, for logs

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "execution_id": self.execution_id,
            "data": self.data,
            "error": self.error,
            "remote_status": self.remote_status,
        }


@dataclass(frozen=True)
class ExecuteRequest:
    """One call to `execute`: the remote workflow, the data, and where to call back."""

    workflow: str  # the remote id (Zapier: may be empty when the hook URL is the connection)
    data: Any
    callback_url: str | None = None
    resume_execution: str | None = None  # n8n: resume this waiting execution instead
    reference: str = ""  # our unique reference for this call (sent along, used to find it)
    timeout_s: float = 30.0
    options: dict[str, Any] = field(default_factory=dict)  # provider-specific (Make: responsive)


class ProviderAdapter:
    """Base class; subclasses set `name`, `label` and implement what their provider has.

    `credential_fields`: the credential `data` keys the adapter reads (SPEC §6).
    `default_wait`: the `provider.*` node's default wait mode.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    credential_fields: ClassVar[tuple[str, ...]] = ()
    default_wait: ClassVar[str] = "poll"
    base_url_help: ClassVar[str] = ""
    can_list: ClassVar[bool] = True
    can_poll: ClassVar[bool] = True

    def __init__(self, connection: ConnectionInfo, client: ProviderClient):
        self.connection = connection
        self.client = client

    # -- connection --------------------------------------------------------------------
    def test_connection(self) -> None:
        """Raise NodeError when the connection does not work (bad URL, key, zone)."""
        raise NotImplementedError

    def list_workflows(self, *, cursor: str | None = None, limit: int = 100) -> RemotePage:
        """One page of the provider's workflows, through its own pagination."""
        raise unsupported(self.label, "listing workflows")

    def get_preview(self, remote_id: str) -> Preview:
        """The remote graph converted to our canvas format, plus `describe()`'s fields."""
        raise unsupported(self.label, "previews")

    def describe(self, remote_id: str) -> dict[str, list[dict[str, Any]]]:
        """{"inputs": [...], "outputs": [...]} where the provider publishes them."""
        return {"inputs": [], "outputs": []}

    # -- running -----------------------------------------------------------------------
    def execute(self, request: ExecuteRequest) -> Execution:
        """Start (or, where supported, resume) a remote execution."""
        raise NotImplementedError

    def poll(self, *, workflow: str, execution_id: str) -> Execution:
        """Where the execution stands now."""
        raise unsupported(self.label, "polling executions")

    def find_execution(self, *, workflow: str, reference: str) -> str | None:
        """The id of the execution a call sent with `reference` started, where the provider
        lets us look it up (None: not found, or it cannot be looked up)."""
        return None

    def recent_executions(self, *, workflow: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The provider's own recent executions (for the Providers page)."""
        return []

    # -- callbacks ---------------------------------------------------------------------
    @classmethod
    def interpret_callback(cls, payload: Any) -> Execution:
        """What a callback body says about the execution: failed when it says so
        (`status` failed/error, or an `error` object), else succeeded with the payload."""
        if isinstance(payload, dict):
            status = str(payload.get("status", "")).lower()
            if status in ("failed", "error", "crashed", "canceled", "cancelled", "3") or (
                isinstance(payload.get("error"), dict) and status not in ("succeeded", "success", "ok")
            ):
                error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
                return Execution(FAILED, data=payload, error=error or {"message": f"status {status}"})
        return Execution(SUCCEEDED, data=payload)


def unsupported(label: str, what: str) -> NodeError:
    return NodeError(
        ErrorCategory.VALIDATION_ERROR, f"{label} connections do not support {what}", retryable=False
    )


def reword(exc: NodeError, messages: dict[tuple[int, ...], str]) -> None:
    """Give a provider's HTTP refusal our words (what to fix where): the first entry whose
    statuses hold the error's status replaces its message and makes it final."""
    status = exc.details.get("status")
    for statuses, message in messages.items():
        if status in statuses:
            exc.message = message
            exc.args = (message,)
            exc.retryable = False
            return


def need(value: Any, message: str) -> Any:
    if value in (None, ""):
        raise NodeError(ErrorCategory.VALIDATION_ERROR, message, retryable=False)
    return value


class AdapterRegistry:
    def __init__(self) -> None:
        self._adapters: dict[str, type[ProviderAdapter]] = {}

    def register(self, cls: type[ProviderAdapter]) -> type[ProviderAdapter]:
        if not cls.name:
            raise ValueError(f"{cls.__name__} has no provider name")
        if cls.name in self._adapters:
            raise ValueError(f"provider {cls.name!r} is already registered")
        self._adapters[cls.name] = cls
        return cls

    def get(self, name: str) -> type[ProviderAdapter]:
        try:
            return self._adapters[name]
        except KeyError:
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR, f"unknown provider {name!r}", retryable=False
            ) from None

    def names(self) -> list[str]:
        return sorted(self._adapters)

    def all(self) -> Iterable[type[ProviderAdapter]]:
        return [self._adapters[n] for n in self.names()]


registry = AdapterRegistry()


def adapter(cls: type[ProviderAdapter]) -> type[ProviderAdapter]:
    """Class decorator: register a provider adapter under `cls.name`."""
    return registry.register(cls)
