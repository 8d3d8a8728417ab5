"""The persistence and host interfaces the engine talks through.

The scheduler never touches a database: it loads a `RunSnapshot`, and reports each state
change through `Store`. The `runs` app implements `Store` with the ORM; tests use
`InMemoryStore` (in `memory.py`). Everything the engine needs from the host application
beyond persistence (outbound HTTP policy, child runs, callbacks, connectors) comes through
`Services`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# A node instance: (node_id, iteration). `iteration` is None outside loop bodies, the item
# index in a loop body, and a tuple of indices (outermost first) in a nested loop's body
# (see `iterations`).
NodeKey = tuple[str, "int | tuple[int, ...] | None"]


class RunStatus:
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINAL = frozenset({COMPLETED, PARTIAL, FAILED, CANCELLED})


class NodeStatus:
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED})


@dataclass
class NodeState:
    """The persisted state of one node instance."""

    node_id: str
    iteration: int | None = None  # the innermost loop's item index
    status: str = NodeStatus.PENDING
    attempts: int = 0
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None  # {"category", "message", "details"}
    handles: list[str] | None = None  # handles that fired once terminal
    started_at: datetime | None = None
    completed_at: datetime | None = None
    resume_at: datetime | None = None  # when a waiting/retrying node is due
    wait: dict[str, Any] | None = None  # {"kind", "data"} while parked; loop bookkeeping
    warnings: list[str] = field(default_factory=list)
    outer: tuple[int, ...] = ()  # enclosing loops' item indices, outermost first (nested loops)

    @classmethod
    def at(cls, key: NodeKey, **fields: Any) -> NodeState:
        """A state for the instance `key`."""
        it = key[1]
        if isinstance(it, tuple):
            return cls(node_id=key[0], iteration=it[-1], outer=tuple(it[:-1]), **fields)
        return cls(node_id=key[0], iteration=it, **fields)

    @property
    def key(self) -> NodeKey:
        if self.outer:
            return (self.node_id, (*self.outer, self.iteration))
        return (self.node_id, self.iteration)

    @property
    def iteration_path(self) -> list[int] | None:
        """None outside loops, `[i]` in a loop body, `[outer, ..., inner]` when nested."""
        return None if self.iteration is None else [*self.outer, self.iteration]

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.completed_at:
            return int((self.completed_at - self.started_at).total_seconds() * 1000)
        return None


class LeaseLost(Exception):
    """Raised by a store when this process no longer holds the run's lease (another
    worker took the run over): nothing of the write was stored, and the scheduler stops
    without starting anything more."""


@dataclass
class RunSnapshot:
    """What the scheduler needs to (re)start a run."""

    run_id: str
    workflow_id: str
    document: dict[str, Any]  # the normalized workflow document the run is pinned to
    trigger: Any  # the trigger payload
    mode: str  # "test" | "live"
    status: str
    started_at: datetime | None
    nodes: dict[NodeKey, NodeState] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)  # workspace.<credential> values
    # Secret texts typed into the document itself (a password in a URL, a token in a header,
    # sealed at rest): masked, like the credentials, in all the run stores and returns.
    literals: list[str] = field(default_factory=list)
    start_from: dict[NodeKey, NodeState] | None = None  # unused; retries copy states in
    timeout_s: float | None = None


@dataclass(frozen=True)
class LogEntry:
    level: str  # debug | info | warning | error
    message: str
    node_id: str | None = None
    iteration: int | None = None  # the innermost loop's item index
    data: Any = None
    timestamp: datetime | None = None
    outer: tuple[int, ...] = ()  # enclosing loops' item indices (nested loops)


class Store(Protocol):
    def load_run(self, run_id: str) -> RunSnapshot:
        """The run's document, trigger payload and every persisted node state."""

    def save_nodes(self, run_id: str, states: list[NodeState]) -> None:
        """Upsert node states (by node_id + iteration), in the given order. One instance may
        appear more than once (an inline node passed through `running` within one flush):
        each is a transition to record (events), the last is the state to keep."""

    def save_run(
        self,
        run_id: str,
        *,
        status: str,
        output: Any = None,
        error: dict[str, Any] | None = None,
        resume_at: datetime | None = None,
        started_at: datetime | None = None,
    ) -> None:
        """Record a run status change; `resume_at` is set when the run parks (`waiting`).
        `started_at`, given with `running`: when execution began (the first kept), which may
        be before this save (inline nodes run before their first flush)."""

    def append_logs(self, run_id: str, entries: list[LogEntry]) -> None:
        """Append ordered log entries."""

    def cancel_requested(self, run_id: str) -> bool:
        """True once someone asked to cancel the run."""

    # Optional: `batch(run_id)` -> a context manager. When a store has it, the scheduler
    # wraps each flush (node states, logs, run status) in it, so a transactional store can
    # write one flush as one transaction.


# Host capabilities by name, registered by host apps at start-up (see `Services.capability`).
CAPABILITIES: dict[str, Callable[..., Any]] = {}


def register_capability(name: str, call: Callable[..., Any]) -> None:
    """Make `call` available to node executors as `ctx.services.capability(name)`."""
    CAPABILITIES[name] = call


class Services:
    """Host capabilities for node executors. The defaults suit pure unit tests.

    The Django side subclasses this (see `runs/services` wiring) to provide real child
    runs, callbacks and connectors.
    """

    allow_private_outbound: bool = False
    max_response_bytes: int = 10 * 1024 * 1024
    inline_wait_max_s: float = 60.0  # waits/retry delays shorter than this sleep in the worker
    code_limits: dict[str, Any] = {"cpu_s": 5, "memory_mb": 256, "wall_s": 10}

    def http_session(self):  # -> requests.Session
        """A pooled session for outbound calls (one per worker thread is fine)."""
        raise NotImplementedError

    def start_child_run(
        self,
        *,
        parent_run_id: str,
        parent_node_id: str,
        workflow_id: str,
        input: Any,
        wait: bool,
        iteration: int | None = None,
        outer: tuple[int, ...] = (),
    ) -> str:
        """Start a sub-workflow run; when `wait`, the host resumes the parent node with
        `{"run_id", "status", "output", "error"}` once the child finishes. `iteration` and
        `outer` name the node instance (`ctx.iteration`, `ctx.outer`). Idempotent per
        (parent run, node, iteration path): called again for the same node instance (re-run
        after a takeover) it returns the child already started, unless that one failed or
        was cancelled (a retry starts a new one)."""
        raise NotImplementedError("sub-workflows need a host")

    def create_callback(
        self,
        *,
        run_id: str,
        node_id: str,
        iteration: int | None,
        expires_in_s: float | None,
        context: dict[str, Any] | None = None,
        outer: tuple[int, ...] = (),
    ) -> dict[str, Any]:
        """Register a callback token for the node instance (`iteration`, `outer`: its
        `ctx.iteration` and `ctx.outer`); returns {"token", "url", "expires_at"}. `context`
        describes the waiting node for the run detail (node type, provider, ...). A re-run
        of a node instance gets the token it already handed out; `"delivered": True` when
        that token was already called (the node waits on it and resumes at once, it need
        not send the URL again)."""
        raise NotImplementedError("callbacks need a host")

    def capability(self, name: str) -> Callable[..., Any]:
        """A capability a host app registered with `register_capability` (e.g. "providers":
        calls to outside workflow providers). NotImplementedError when none is registered,
        so a node type can say clearly what this host lacks."""
        try:
            return CAPABILITIES[name]
        except KeyError:
            raise NotImplementedError(f"{name} need a host") from None

    def run_connector(
        self, *, connector: str, input: Any, run_id: str, node_id: str, secrets: list[str] = ()
    ) -> Any:
        """Execute a workspace connector synchronously and return its output. `secrets`:
        the credential strings in play in the calling node (masked in what is stored)."""
        raise NotImplementedError("connectors need a host")
