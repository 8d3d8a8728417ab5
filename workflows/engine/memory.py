"""`InMemoryStore`: the `Store` for unit tests, benches and embedding without a database.

Thread-safe; every save stores a copy, so what the scheduler mutates later never leaks
into what was "persisted". Besides the `Store` protocol it can create runs from a document
and read back runs, states, logs and the history of saves (for durability tests).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .registry import NodeRegistry
from .store import LogEntry, NodeKey, NodeState, RunSnapshot, RunStatus


@dataclass
class RunRecord:
    run_id: str
    workflow_id: str
    document: dict[str, Any]
    trigger: Any
    mode: str
    status: str = RunStatus.PENDING
    started_at: datetime | None = None
    secrets: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    resume_at: datetime | None = None
    cancel: bool = False
    states: dict[NodeKey, NodeState] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # every run status saved, in order
    saves: list[tuple[str, int | None, str]] = field(default_factory=list)  # (node, iteration, status)


def _copy_state(state: NodeState) -> NodeState:
    return dataclasses.replace(
        state,
        wait=copy.copy(state.wait),
        warnings=list(state.warnings),
        handles=list(state.handles) if state.handles is not None else None,
    )


class InMemoryStore:
    """A dict-backed `Store`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunRecord] = {}
        self._ids = itertools.count(1)

    # -- helpers for tests and benches --------------------------------------------------
    def create_run(
        self,
        document: dict[str, Any],
        trigger: Any = None,
        *,
        workflow_id: str = "wf",
        mode: str = "test",
        secrets: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        trigger_node: str | None = None,
        registry: NodeRegistry | None = None,
        normalized: bool = False,
        states: list[NodeState] | None = None,
    ) -> str:
        """A new `pending` run of `document` (normalized here unless `normalized`), with
        `trigger` as payload; `trigger_node` fires only that trigger; `states` pre-seeds
        node states (e.g. to simulate a crash or a retry from a failed run)."""
        from .document import normalize
        from .scheduler import initial_states

        if trigger_node is not None and registry is None:
            raise ValueError("create_run(trigger_node=...) needs the registry to find the other triggers")
        doc = document if normalized else normalize(document)
        run_id = f"run-{next(self._ids)}"
        record = RunRecord(
            run_id,
            workflow_id,
            doc,
            {} if trigger is None else trigger,
            mode,
            started_at=datetime.now(UTC),
            secrets=dict(secrets or {}),
            timeout_s=timeout_s,
        )
        for st in initial_states(doc, trigger_node, registry) + list(states or []):
            record.states[st.key] = _copy_state(st)
        with self._lock:
            self._runs[run_id] = record
        return run_id

    def run(self, run_id: str) -> RunRecord:
        return self._runs[run_id]

    def state(self, run_id: str, node_id: str, iteration: int | None = None) -> NodeState:
        return self._runs[run_id].states[(node_id, iteration)]

    def states(self, run_id: str) -> list[NodeState]:
        with self._lock:
            return list(self._runs[run_id].states.values())

    def statuses(self, run_id: str) -> dict[str, str]:
        """node_id -> status, for nodes outside loop bodies (first iteration otherwise)."""
        out: dict[str, str] = {}
        for st in sorted(self.states(run_id), key=lambda s: -1 if s.iteration is None else s.iteration):
            out.setdefault(st.node_id, st.status)
        return out

    def logs(self, run_id: str) -> list[LogEntry]:
        with self._lock:
            return list(self._runs[run_id].logs)

    def request_cancel(self, run_id: str) -> None:
        with self._lock:
            self._runs[run_id].cancel = True

    def deliver(self, run_id: str, node_id: str, payload: Any, iteration: int | None = None) -> None:
        """Hand a waiting node its resume payload (what a host does for callbacks and child
        runs), per the scheduler's host protocol; then call `advance()`."""
        with self._lock:
            st = self._runs[run_id].states[(node_id, iteration)]
            st.wait = {**(st.wait or {}), "resume": payload}

    # -- Store ----------------------------------------------------------------------------
    def load_run(self, run_id: str) -> RunSnapshot:
        with self._lock:
            r = self._runs[run_id]
            return RunSnapshot(
                run_id=r.run_id,
                workflow_id=r.workflow_id,
                document=r.document,
                trigger=r.trigger,
                mode=r.mode,
                status=r.status,
                started_at=r.started_at,
                nodes={k: _copy_state(s) for k, s in r.states.items()},
                secrets=dict(r.secrets),
                timeout_s=r.timeout_s,
            )

    def save_nodes(self, run_id: str, states: list[NodeState]) -> None:
        with self._lock:
            r = self._runs[run_id]
            for st in states:
                r.states[st.key] = _copy_state(st)
                r.saves.append((st.node_id, st.iteration, st.status))

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
        with self._lock:
            r = self._runs[run_id]
            if started_at is not None and r.started_at is None:
                r.started_at = started_at
            r.status, r.output, r.error, r.resume_at = status, output, error, resume_at
            r.statuses.append(status)

    def append_logs(self, run_id: str, entries: list[LogEntry]) -> None:
        with self._lock:
            self._runs[run_id].logs.extend(entries)

    def cancel_requested(self, run_id: str) -> bool:
        return self._runs[run_id].cancel
