"""The in-memory model of one run: node instances, edge resolution, dead-path elimination,
fatal-failure propagation, loop iterations and the run's result (SPEC §4, §5).

Pure bookkeeping: no threads, no store, no waiting. The scheduler reports attempt outcomes
(`succeed`, `fail`), dispatches what lands in `ready`, and persists what lands in `dirty`.
Per event the work is O(degree): each incoming edge of a node is counted down once.

Node instances are keyed `(node_id, iteration)`; iteration is None outside loop bodies, the
item index in a loop body and a tuple of indices in a nested loop's body (see `iterations`).
Running loops are keyed by their loop node's instance key: a nested loop runs once per
outer iteration.
An instance is *started* once it is dispatched or has reached a terminal status; a started
instance ignores later edge resolutions (that is how `merge` in mode `first` drops late
arrivals).
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .graph import DONE, EACH, Edge, Graph
from .iterations import child, index, outer, parent
from .loops import LOOP_WAIT_KIND, LoopRun, finish_rank, iteration_result
from .policy import DEFAULT, FAIL, failure_handles, failure_output, failure_policy, is_fatal
from .registry import NodeRegistry
from .store import LogEntry, NodeKey, NodeState, NodeStatus, RunSnapshot

TERMINAL = NodeStatus.TERMINAL
ACTIVE = frozenset({NodeStatus.RUNNING, NodeStatus.WAITING, NodeStatus.RETRYING})


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ready:
    """An instance to dispatch."""

    key: NodeKey
    arrivals: list[tuple[Edge, Any]] | None = None  # active incoming edges, declaration order
    input: Any = None  # the input when there are no arrivals (roots)
    rerun: bool = False  # an instance found started on resume: reuse its stored input
    resume: Any = None  # ctx.resume when coming back from a wait
    from_wait: bool = False  # continuing a parked attempt (attempts do not grow)


class RunState:
    def __init__(self, graph: Graph, snapshot: RunSnapshot, registry: NodeRegistry):
        self.graph = graph
        self.registry = registry
        self.trigger = snapshot.trigger
        self.states: dict[NodeKey, NodeState] = {
            k: s for k, s in snapshot.nodes.items() if k[0] in graph.nodes
        }
        self.started: set[NodeKey] = {k for k, s in self.states.items() if s.status != NodeStatus.PENDING}
        self.stored = frozenset(self.started)  # instances the store had begun: replayed, not re-run
        self.outputs: dict[NodeKey, Any] = {}  # instances that finished with a result
        self.global_outputs: dict[str, Any] = {}  # `nodes.<id>` outside loop bodies
        self.iter_outputs: dict[NodeKey, dict[str, Any]] = {}  # (loop id, iteration key) -> outputs
        self.unresolved: dict[NodeKey, int] = {}
        self.arrivals: dict[NodeKey, dict[int, tuple[Edge, Any]]] = {}
        self.loops: dict[NodeKey, LoopRun] = {}  # by the loop node's instance
        self.ready: deque[Ready] = deque()
        self.dirty: dict[NodeKey, NodeState] = {}
        self.logs: list[LogEntry] = []
        self.fatal: tuple[tuple[float, int], NodeKey, dict[str, Any]] | None = None
        self.soft_failed = False
        started_at = snapshot.started_at or now()
        self.base_scope = {
            "trigger": snapshot.trigger,
            "variables": snapshot.document.get("variables") or {},
            "workspace": snapshot.secrets or {},
            "execution": {
                "id": snapshot.run_id,
                "workflow_id": snapshot.workflow_id,
                "mode": snapshot.mode,
                "started_at": started_at.isoformat(),
            },
        }

    # -- bookkeeping helpers ------------------------------------------------------------
    def state(self, key: NodeKey) -> NodeState:
        st = self.states.get(key)
        if st is None:
            st = self.states[key] = NodeState.at(key)
        return st

    def mark(self, key: NodeKey) -> None:
        """Queue the instance's state for the next save (latest change last)."""
        self.dirty.pop(key, None)
        self.dirty[key] = self.states[key]

    def log(self, level: str, message: str, key: NodeKey | None = None, data: Any = None) -> None:
        it = key[1] if key else None
        self.logs.append(LogEntry(level, message, key[0] if key else None, index(it), data, now(), outer(it)))

    def handles_of(self, node_id: str) -> list[str]:
        node = self.graph.nodes[node_id]
        return self.registry.get(node["type"]).output_handles(node.get("config") or {})

    def _is_each(self, e: Edge) -> bool:
        return e.source_handle == EACH and e.source in self.graph.loops

    def loop_run_of(self, key: NodeKey) -> LoopRun | None:
        """The running loop a body instance belongs to."""
        return self.loops.get((self.graph.loop_of[key[0]], parent(key[1])))

    def scope_for(self, key: NodeKey, node_input: Any) -> dict[str, Any]:
        """Template names for an instance (SPEC §3); same-iteration body outputs win, the
        innermost loop's over the enclosing ones'. In a loop body `item`/`index` are the
        innermost loop's, and `nodes.<loop id>` is `{item, index}` of the current iteration
        of each enclosing loop (so a nested body reaches the outer item)."""
        nid, it = key
        scope = dict(self.base_scope)
        scope["input"] = node_input
        # A copy: the coordinator keeps adding outputs while workers render.
        nodes = dict(self.global_outputs)
        levels = []
        while it is not None:
            nid = self.graph.loop_of[nid]
            levels.append((nid, it))
            it = parent(it)
        for lid, it in reversed(levels):
            nodes.update(self.iter_outputs.get((lid, it), {}))
            loop = self.loops.get((lid, parent(it)))
            if loop is not None:
                i = index(it)
                nodes[lid] = {"item": loop.items[i], "index": i}
                scope["item"], scope["index"] = loop.items[i], i
        scope["nodes"] = nodes
        return scope

    # -- start / resume -----------------------------------------------------------------
    def replay(self) -> list[NodeKey]:
        """Rebuild edge state from the stored instances, queue roots and newly ready nodes,
        and return the started, non-terminal instances the scheduler must pick up."""
        resumables: list[NodeKey] = []
        fire_all_roots = not self.graph.triggers
        for nid in self.graph.order:
            if nid in self.graph.loop_of:
                continue  # replayed with their loop
            key = (nid, None)
            if key in self.stored:
                self._replay_key(key, resumables)
            elif not self.graph.incoming[nid]:
                if nid in self.graph.triggers or fire_all_roots:
                    self.started.add(key)
                    self.ready.append(Ready(key, input=self.trigger))
                else:
                    self._skip(key)  # a stray node no trigger reaches
        return resumables

    def _replay_key(self, key: NodeKey, resumables: list[NodeKey]) -> None:
        st = self.states[key]
        if st.status in TERMINAL:
            self._after_terminal(key)
        elif (
            key[0] in self.graph.loops
            and st.status == NodeStatus.RUNNING
            and (st.wait or {}).get("kind") == LOOP_WAIT_KIND
        ):
            self._resume_loop(key, resumables)
        else:
            resumables.append(key)

    # -- outcomes -----------------------------------------------------------------------
    def succeed(self, key: NodeKey, output: Any, handles, warnings=()) -> None:
        """An attempt produced a result (a loop's first result starts its iterations)."""
        st = self.states[key]
        if key[0] in self.graph.loops and EACH in handles:
            self._start_loop(key, (output or {}).get("items") or [])
            return
        st.status, st.output, st.handles = NodeStatus.SUCCEEDED, output, list(handles)
        st.error, st.resume_at, st.wait = None, None, None
        st.completed_at = now()
        for w in warnings:
            st.warnings.append(w)
            self.log("warning", w, key)
        self.mark(key)
        self.log("info", f"succeeded in {_ms(st)} ms", key, {"handles": st.handles})
        self._after_terminal(key)

    def fail(self, key: NodeKey, error: dict[str, Any]) -> None:
        """A final failure: apply the node's on_error / on_timeout policy."""
        node = self.graph.nodes[key[0]]
        policy = failure_policy(node, error.get("category", ""))
        st = self.state(key)
        if policy == DEFAULT:
            warning = (
                f"{error.get('category')}: {error.get('message')}; continuing with the node's default_output"
            )
            self.succeed(
                key,
                copy.deepcopy(node.get("default_output")),
                failure_handles("skip", self.handles_of(key[0])),
                (warning,),
            )
            return
        st.status, st.error, st.resume_at, st.wait = NodeStatus.FAILED, error, None, None
        st.completed_at = now()
        if policy == FAIL:
            st.output, st.handles = None, []
        else:
            st.output = failure_output(st.input, error)
            st.handles = failure_handles(policy, self.handles_of(key[0]))
        self.mark(key)
        self.log(
            "error",
            f"failed after {_ms(st)} ms ({policy}): {error.get('category')}: {error.get('message')}",
            key,
            {"error": error, "on_error": policy},
        )
        self._after_terminal(key)

    def abort(self, error: dict[str, Any]) -> None:
        """Cancellation or run timeout: active instances fail with `error`, the rest are
        skipped; no policy applies and nothing new starts."""
        for key in list(self.started | self.states.keys()):
            st = self.state(key)
            if st.status in TERMINAL:
                continue
            if st.status in ACTIVE:
                st.status, st.error, st.completed_at = NodeStatus.FAILED, error, now()
                st.handles, st.resume_at = [], None
            else:
                st.status = NodeStatus.SKIPPED
            self.mark(key)
        self.ready.clear()
        self.loops.clear()

    def sweep(self) -> None:
        """At the end of a run: every node gets a state (skipped if it never ran)."""
        seen = {k[0] for k in self.states}
        for nid in self.graph.nodes:
            if nid not in seen:
                self.state((nid, None)).status = NodeStatus.SKIPPED
                self.mark((nid, None))
        for key, st in self.states.items():
            if st.status == NodeStatus.PENDING:
                st.status = NodeStatus.SKIPPED
                self.mark(key)

    def result(self) -> tuple[str, Any, dict[str, Any] | None]:
        """(status, output, error) of a finished run; output is the last finished sink's."""
        if self.fatal is not None:
            _, key, error = self.fatal
            return "failed", None, {**error, "node": key[0]}
        best, best_rank = None, None
        for nid in self.graph.sinks:
            key = (nid, None)
            if key in self.outputs:
                rank = finish_rank(self.states[key], self.graph.position[nid])
                if best_rank is None or rank > best_rank:
                    best, best_rank = self.outputs[key], rank
        return ("partial" if self.soft_failed else "completed"), best, None

    # -- propagation --------------------------------------------------------------------
    def _after_terminal(self, key: NodeKey) -> None:
        st = self.states[key]
        nid, it = key
        handles: list[str] = []
        if st.status == NodeStatus.SUCCEEDED or (
            st.status == NodeStatus.FAILED and not is_fatal(self.graph.nodes[nid], st.error)
        ):
            if st.status == NodeStatus.FAILED:
                self.soft_failed = True
            handles = st.handles or []
            self.outputs[key] = st.output
            if it is None:
                self.global_outputs[nid] = st.output
            else:
                self.iter_outputs.setdefault((self.graph.loop_of[nid], it), {})[nid] = st.output
        elif st.status == NodeStatus.FAILED:
            self._record_fatal(key)
            self._doom(key)
        self._propagate(key, handles, st.output)
        self._count_loop_instance(key)

    def _propagate(self, key: NodeKey, handles: list[str], output: Any) -> None:
        to_skip = []
        for e in self.graph.outgoing[key[0]]:
            if self._is_each(e):
                continue  # the loop machinery feeds the body
            target = (e.target, key[1])
            active = e.source_handle in handles
            if self._resolve(target, e, active, output if active else None):
                to_skip.append(target)
        for target in to_skip:
            self._skip(target)

    def _resolve(self, key: NodeKey, edge: Edge, active: bool, payload: Any) -> bool:
        """Count one incoming edge of `key` as resolved; True when `key` must be skipped."""
        if key in self.started:
            return False
        left = self.unresolved.get(key)
        if left is None:
            left = len(self.graph.incoming[key[0]])
        left -= 1
        self.unresolved[key] = left
        if active:
            if key[0] in self.graph.first_arrival:
                self._make_ready(key, [(edge, payload)])
                return False
            self.arrivals.setdefault(key, {})[edge.index] = (edge, payload)
        if left == 0:
            arrived = self.arrivals.pop(key, None)
            if not arrived:
                return True
            self._make_ready(key, [arrived[i] for i in sorted(arrived)])
        return False

    def _make_ready(self, key: NodeKey, arrivals: list[tuple[Edge, Any]]) -> None:
        self.started.add(key)
        self.unresolved.pop(key, None)
        self.arrivals.pop(key, None)
        self.ready.append(Ready(key, arrivals=arrivals))

    def _set_skipped(self, key: NodeKey) -> None:
        self.started.add(key)
        self.unresolved.pop(key, None)
        self.arrivals.pop(key, None)
        self.state(key).status = NodeStatus.SKIPPED
        self.mark(key)
        self._count_loop_instance(key)

    def _skip(self, key: NodeKey) -> None:
        """Dead-path elimination: skip `key` and whatever thereby loses all its inputs."""
        stack = [key]
        while stack:
            k = stack.pop()
            if k in self.started:
                continue
            self._set_skipped(k)
            for e in self.graph.outgoing[k[0]]:
                if not self._is_each(e) and self._resolve((e.target, k[1]), e, False, None):
                    stack.append((e.target, k[1]))

    def _doom(self, key: NodeKey) -> None:
        """A fatal failure skips everything downstream not yet started, joins included."""
        stack = [key]
        while stack:
            k = stack.pop()
            for e in self.graph.outgoing[k[0]]:
                target = (e.target, k[1])
                if self._is_each(e) or target in self.started:
                    continue
                self._set_skipped(target)
                stack.append(target)

    def _record_fatal(self, key: NodeKey) -> None:
        st = self.states[key]
        nid, it = key
        if it is not None:
            loop = self.loop_run_of(key)
            if loop is not None:
                loop.record_failure(index(it), nid, st.error or {})
            return
        rank = finish_rank(st, self.graph.position[nid])
        if self.fatal is None or rank < self.fatal[0]:
            self.fatal = (rank, key, st.error or {})

    # -- loops --------------------------------------------------------------------------
    def _start_loop(self, key: NodeKey, items: list[Any]) -> None:
        st = self.states[key]
        st.wait = {"kind": LOOP_WAIT_KIND, "items": items}
        self.mark(key)
        self.log("info", f"loop over {len(items)} item(s)", key)
        self.loops[key] = LoopRun(self.graph.loops[key[0]], list(items), self._concurrency(key[0]))
        self._fill_loop(key)

    def _concurrency(self, lid: str) -> int:
        value = (self.graph.nodes[lid].get("config") or {}).get("concurrency", 1)
        return max(1, int(value)) if isinstance(value, int | float) else 1

    def _fill_loop(self, key: NodeKey) -> None:
        loop = self.loops[key]
        while loop.can_start():
            i = loop.take_next()
            if loop.loop.direct:
                self._start_iteration(key, loop, i)
            else:
                loop.done.add(i)
        if loop.finished():
            self._finish_loop(key)

    def _start_iteration(self, key: NodeKey, loop: LoopRun, i: int) -> None:
        payload = {"item": loop.items[i], "index": i}
        it = child(key[1], i)
        for e in self.graph.outgoing[loop.loop.node_id]:
            if e.source_handle == EACH:
                self._resolve((e.target, it), e, True, payload)

    def _count_loop_instance(self, key: NodeKey) -> None:
        nid, it = key
        if it is None:
            return
        loop_key = (self.graph.loop_of[nid], parent(it))
        loop = self.loops.get(loop_key)
        i = index(it)
        if loop is None or i in loop.done:
            return
        loop.remaining[i] -= 1
        if loop.remaining[i] == 0:
            loop.done.add(i)
            loop.results[i] = iteration_result(loop.loop, it, self.states, self.outputs, self.graph.position)
            self._fill_loop(loop_key)

    def _finish_loop(self, key: NodeKey) -> None:
        loop = self.loops.pop(key)
        if loop.failure is not None:
            self.fail(key, loop.failure_error())
        else:
            self.succeed(key, {"results": loop.results}, [DONE])

    def _resume_loop(self, key: NodeKey, resumables: list[NodeKey]) -> None:
        body = self.graph.loops[key[0]]
        items = self.states[key].wait.get("items") or []
        loop = self.loops[key] = LoopRun(body, list(items), self._concurrency(key[0]))
        begun = [
            i for i in range(len(items)) if any((b, child(key[1], i)) in self.stored for b in body.direct)
        ]
        for i in begun:
            loop.mark_started(i)
        for i in begun:
            self._start_iteration(key, loop, i)
            it = child(key[1], i)
            for nid in body.direct_order:
                if (nid, it) in self.stored and key in self.loops:
                    self._replay_key((nid, it), resumables)
        if key in self.loops:
            self._fill_loop(key)


def _ms(st: NodeState) -> int:
    return st.duration_ms if st.duration_ms is not None else 0


__all__ = ["Ready", "RunState", "now"]
