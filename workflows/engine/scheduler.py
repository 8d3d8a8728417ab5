"""The durable scheduler: drives one run until it is terminal or parked (SPEC §4, §5).

    outcome = Scheduler(store, registry, services).advance(run_id)

`advance()` loads the `RunSnapshot`, rebuilds the run from the stored node states, runs
ready nodes concurrently on a bounded thread pool, and returns a `RunOutcome` once the run
is `completed` / `partial` / `failed` / `cancelled`, or `waiting` (parked, holding no
worker). It is idempotent and safe to call again at any time; the host must make sure at
most one `advance()` per run is in progress (e.g. a row lock or a lease).

Threads: every `Store` call happens on the thread that called `advance()`. Pool threads
only render configs and call executors, and report back through a queue. An attempt is
handed to the pool only after the flush that stores its `running` state (and so its
predecessors' results) has succeeded.

Fencing: a store may raise `LeaseLost` from any write when this process no longer owns
the run; `advance()` then stops at once (nothing more is started or stored) and the
exception reaches the host.

Host protocol
-------------
- Start: create the run (status `pending`) and call `advance(run_id)`. The trigger payload
  is `RunSnapshot.trigger`; every trigger node fires with it. To fire only one trigger of
  a multi-trigger workflow, store `initial_states(document, fired_node_id)` (skipped
  states for the other trigger nodes) with the new run: dead-path elimination then skips
  whatever only they feed.
- Run output / error: the last finished sink's output (outside loop bodies) for
  `completed`/`partial`, None otherwise; `error` is the first run-failing node's error plus
  `"node"` (None for cancellation and the run timeout).
- Parked runs: when `advance()` returns `waiting`, the run's `resume_at` (also passed to
  `Store.save_run`) is the earliest moment something is due (a long timer, a long retry
  delay, a callback's expiry); None when only external events can wake it. Call
  `advance(run_id)` again at `resume_at`.
- Waking a waiting node from outside (callback arrived, child run finished): make
  `load_run` return that `NodeState` with `wait["resume"] = payload` (store the payload
  somewhere the scheduler does not overwrite, such as the callback token row, and merge it
  in while the state is `waiting` or `running`), then call `advance(run_id)`. The
  executor is called again with `ctx.resume = payload` (`{"fired": True}` for timers); for
  a child run the payload is `{"run_id", "status", "output", "error"}`. Find the waiting instance
  by `wait["data"]["child_run_id"]` or the callback token (`wait["data"]["token"]`).
- While a node waits, `NodeState.wait = {"kind": "timer"|"callback"|"child", "data": {...}}`
  and `resume_at` is its due time / expiry. `flow.callback` puts `callback_url` and
  `expires_at` in `wait["data"]` for the run detail.
- A callback/child wait whose `resume_at` has passed with no payload fails with
  TIMEOUT_ERROR (then retry / on_timeout apply) the next time the run is advanced.
- Cancel: make `Store.cancel_requested` true. A running `advance()` notices within ~0.1 s;
  for a parked run call `advance()` once to finalize it (`cancelled`).
- Every node has a state when the run ends (`skipped` if it never ran); loop body nodes
  have one state per iteration (`iteration` = item index) once the loop ran. A loop may sit
  in another loop's body: its body nodes then have one state per (outer, inner) iteration,
  `iteration` the inner index and `outer` the enclosing indices (store both; the key is
  `NodeState.key`). `ctx.iteration` is the innermost index. Do not
  pre-create pending states for body nodes. Stored outputs are masked (workspace secrets
  become `***`): a resumed run feeds successors the masked values.
- Crash recovery: call `advance()` on the run. Succeeded, failed and skipped nodes are not
  executed again; `running` nodes are re-executed (attempts keep counting); `retrying`
  and `waiting` nodes continue as above.

Timing: waits and retry delays due within `services.inline_wait_max_s` are slept through
here (cancellable); later ones park the run. The workflow's `settings.timeout_s` (or
`RunSnapshot.timeout_s`) bounds each `advance()` segment, i.e. the time the run holds a
worker; parked time does not count, so day-long waits work with the default 300 s.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import heapq
import itertools
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .attempt import Job, compute, merge_input, run_job
from .errors import ErrorCategory, NodeError
from .graph import analyse
from .iterations import index, outer
from .outbound import mask_secrets, secret_values
from .policy import retry_delay_s, should_retry
from .registry import NodeContext, NodeRegistry, NodeResult, Wait
from .runstate import Ready, RunState, now
from .store import LogEntry, NodeKey, NodeState, NodeStatus, RunSnapshot, RunStatus, Services, Store

CANCEL_POLL_S = 0.02  # at most this often per step; the loop wakes at least every POLL_S
POLL_S = 0.1
DEADLINE_GRACE_S = 0.05  # let an executor that honours ctx.deadline report its own timeout


@dataclass(frozen=True)
class RunOutcome:
    """Where `advance()` left the run. `output`/`error` are masked like the stored ones."""

    status: str
    resume_at: datetime | None = None
    output: Any = None
    error: dict[str, Any] | None = None


@dataclass
class _Attempt:
    token: int
    ctx: NodeContext
    deadline: float | None  # monotonic bound of this attempt (node timeout_ms)


def initial_states(
    document: dict[str, Any], fired_trigger: str | None, registry: NodeRegistry
) -> list[NodeState]:
    """Skipped states for every trigger node except `fired_trigger` (store them with a new
    run so only that trigger starts it). Empty when `fired_trigger` is None."""
    if fired_trigger is None:
        return []
    graph = analyse(document, registry)
    return [NodeState(node_id=t, status=NodeStatus.SKIPPED) for t in graph.triggers if t != fired_trigger]


class Scheduler:
    """Drives runs through a `Store`; see the module docstring for the host protocol."""

    def __init__(
        self,
        store: Store,
        registry: NodeRegistry,
        services: Services | None = None,
        max_workers: int = 8,
    ):
        self.store = store
        self.registry = registry
        self.services = services if services is not None else Services()
        self.max_workers = max_workers

    def advance(self, run_id: str) -> RunOutcome:
        """Run `run_id` until it is terminal or parked; returns where it stands."""
        snapshot = self.store.load_run(run_id)
        if snapshot.status in RunStatus.TERMINAL:
            return RunOutcome(snapshot.status)
        drive = _Drive(self, snapshot)
        try:
            return drive.run()
        finally:
            drive.close()


class _Drive:
    """One `advance()` call: the coordinating loop around a `RunState`."""

    def __init__(self, scheduler: Scheduler, snapshot: RunSnapshot):
        self.sched = scheduler
        self.store = scheduler.store
        self.snapshot = snapshot
        self.run_id = snapshot.run_id
        self.graph = analyse(snapshot.document, scheduler.registry)
        self.rs = RunState(self.graph, snapshot, scheduler.registry)
        self.secrets = secret_values(snapshot.secrets) + list(snapshot.literals)
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.pool: ThreadPoolExecutor | None = None
        self.running: dict[NodeKey, _Attempt] = {}
        self.unsent: list[Job] = []  # attempts started in the run state, not yet handed to the pool
        # Transitions passed since the last flush (states copied before an inline node ran),
        # saved ahead of `rs.dirty` so events keep their order.
        self.passed: list[NodeState] = []
        self.in_flight = 0  # pool threads busy, including attempts given up on after a timeout
        self.timers: list[tuple[float, int, NodeKey, str]] = []  # (due, token, key, "retry"|"wake")
        self.timer_token: dict[NodeKey, int] = {}
        self.deadlines: list[tuple[float, int, NodeKey]] = []
        self.parked: dict[NodeKey, datetime | None] = {}
        self.tokens = itertools.count(1)
        self.started_mono = time.monotonic()
        self.began = now()  # the run's started_at, if not set yet (inline nodes run before a flush)
        timeout_s = snapshot.timeout_s or (snapshot.document.get("settings") or {}).get("timeout_s")
        self.run_deadline = self.started_mono + float(timeout_s) if timeout_s else None
        self.last_cancel_check = float("-inf")
        self.announced = False

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> RunOutcome:
        rs = self.rs
        rs.log(
            "info",
            "run started" if self.snapshot.status == RunStatus.PENDING else "run resumed",
            data={"mode": self.snapshot.mode},
        )
        if self._cancel_requested(force=True):
            return self._abort(ErrorCategory.CANCELLED, "the run was cancelled", RunStatus.CANCELLED)
        for key in rs.replay():
            self._pick_up(key)
        while True:
            if self._cancel_requested():
                return self._abort(ErrorCategory.CANCELLED, "the run was cancelled", RunStatus.CANCELLED)
            mono = time.monotonic()
            if self.run_deadline is not None and mono >= self.run_deadline:
                return self._abort(
                    ErrorCategory.TIMEOUT_ERROR,
                    f"the run exceeded its timeout of {self.run_deadline - self.started_mono:g} s",
                    RunStatus.FAILED,
                )
            self._expire_attempts(mono)
            self._fire_timers(mono)
            self._dispatch_ready()
            if not self.running and not rs.ready and not self.timers:
                # Nothing left to send or wait for: one batch stores the rest and the outcome.
                return self._park() if self.parked else self._finish()
            # Stored first, then sent: a node runs only once its `running` state and its
            # predecessors' results are stored (a store that lost the run raises here).
            self._flush()
            self._submit_started()
            if not self.running and not rs.ready:
                if self.timers[0][0] - mono >= self.sched.services.inline_wait_max_s:
                    return self._park()
            self._wait_for_results(mono)

    def close(self) -> None:
        for attempt in self.running.values():
            attempt.ctx.cancelled.set()  # attempts still out there (abort): ask them to stop
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _wait_for_results(self, mono: float) -> None:
        timeout = POLL_S
        if self.timers:
            timeout = min(timeout, self.timers[0][0] - mono)
        if self.deadlines:
            timeout = min(timeout, self.deadlines[0][0] + DEADLINE_GRACE_S - mono)
        if self.run_deadline is not None:
            timeout = min(timeout, self.run_deadline - mono)
        try:
            message = self.results.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return
        while True:
            self._on_result(*message)
            try:
                message = self.results.get_nowait()
            except queue.Empty:
                return

    def _submit_started(self) -> None:
        jobs, self.unsent = self.unsent, []
        for job in jobs:
            # Each node thread runs in a copy of the advancing thread's context: what the
            # host bound there (e.g. the lease fence its writes check) goes with the attempt.
            self.pool.submit(contextvars.copy_context().run, run_job, job, self.results)

    def _cancel_requested(self, force: bool = False) -> bool:
        mono = time.monotonic()
        if not force and mono - self.last_cancel_check < CANCEL_POLL_S:
            return False
        self.last_cancel_check = mono
        return bool(self.store.cancel_requested(self.run_id))

    # -- starting attempts --------------------------------------------------------------
    def _pick_up(self, key: NodeKey) -> None:
        """Continue an instance found started but unfinished in the store."""
        st = self.rs.states[key]
        wait = st.wait or {}
        if "resume" in wait:
            self.rs.ready.append(Ready(key, rerun=True, from_wait=True, resume=wait["resume"]))
        elif st.status == NodeStatus.RUNNING:
            if wait.get("kind") == "timer":  # died right after a timer fired
                self.rs.ready.append(Ready(key, rerun=True, from_wait=True, resume={"fired": True}))
            else:
                self.rs.log("warning", "re-running an attempt interrupted by a worker restart", key)
                self.rs.ready.append(Ready(key, rerun=True))
        elif st.status == NodeStatus.RETRYING:
            self._schedule(key, st.resume_at, "retry")
        elif wait.get("kind") == "timer":
            self._schedule(key, st.resume_at, "wake")
        elif st.resume_at is not None and st.resume_at <= now():
            self._on_error(
                key,
                NodeError(
                    ErrorCategory.TIMEOUT_ERROR,
                    f"no {wait.get('kind', 'event')} arrived before {st.resume_at.isoformat()}",
                    {"expired_at": st.resume_at.isoformat()},
                ),
            )
        else:
            self.parked[key] = st.resume_at

    def _schedule(self, key: NodeKey, due: datetime | None, kind: str) -> None:
        delay = max(0.0, (due - now()).total_seconds()) if due is not None else 0.0
        token = next(self.tokens)
        self.timer_token[key] = token
        heapq.heappush(self.timers, (time.monotonic() + delay, token, key, kind))

    def _fire_timers(self, mono: float) -> None:
        while self.timers and self.timers[0][0] <= mono:
            _, token, key, kind = heapq.heappop(self.timers)
            if self.timer_token.get(key) != token:
                continue
            del self.timer_token[key]
            if kind == "retry":
                self.rs.ready.append(Ready(key, rerun=True))
            else:
                self.rs.ready.append(Ready(key, rerun=True, from_wait=True, resume={"fired": True}))

    def _dispatch_ready(self) -> None:
        ready = self.rs.ready
        while ready and self.in_flight < self.sched.max_workers:
            self._start(ready.popleft())

    def _start(self, item: Ready) -> None:
        rs, key = self.rs, item.key
        node = self.graph.nodes[key[0]]
        st = rs.state(key)
        node_input = st.input if item.rerun else item.input
        if not item.rerun and item.arrivals is not None:
            try:
                node_input = merge_input(item.arrivals, lambda src: {**rs.scope_for(key, src), "source": src})
            except NodeError as exc:
                st.attempts, st.started_at = 1, now()
                rs.fail(key, exc.as_dict())
                return
        st.status, st.input, st.error, st.resume_at = NodeStatus.RUNNING, node_input, None, None
        st.started_at = st.started_at or now()
        if not item.from_wait:
            st.attempts += 1
            st.wait = None
        rs.mark(key)
        node_type = self.sched.registry.get(node["type"]) if node["type"] in self.sched.registry else None
        if node_type is None:
            rs.fail(
                key,
                {
                    "category": "VALIDATION_ERROR",
                    "message": f"unknown node type {node['type']!r}",
                    "details": {},
                },
            )
            return
        mono = time.monotonic()
        timeout_ms = node.get("timeout_ms")
        attempt_deadline = mono + timeout_ms / 1000.0 if timeout_ms else None
        bounds = [d for d in (attempt_deadline, self.run_deadline) if d is not None]
        ctx = NodeContext(
            run_id=self.run_id,
            workflow_id=self.snapshot.workflow_id,
            node_id=key[0],
            node=node,
            config=node.get("config") or {},
            input=node_input,
            scope=rs.scope_for(key, node_input),
            services=self.sched.services,
            attempt=st.attempts,
            iteration=index(key[1]),
            outer=outer(key[1]),
            deadline=min(bounds) if bounds else None,
            resume=item.resume,
            wait_data=(st.wait or {}).get("data") if item.from_wait else None,
        )
        token = next(self.tokens)
        self.running[key] = _Attempt(token, ctx, attempt_deadline)
        job = Job(key, token, ctx, node_type.execute, node_type.type, self.graph.render_keys[key[0]])
        rs.log("debug", "resumed" if item.from_wait else f"started (attempt {st.attempts})", key)
        if node_type.inline:
            self._run_inline(job, attempt_deadline)
            return
        if attempt_deadline is not None:
            heapq.heappush(self.deadlines, (attempt_deadline, token, key))
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.sched.max_workers, thread_name_prefix="switchyard-node")
        self.in_flight += 1
        self.unsent.append(job)

    def _run_inline(self, job: Job, deadline: float | None) -> None:
        """A pure node: computed here, no pool hand-off and no flush of its own. What was
        marked so far (its `running` state included) is set aside first, so the flush that
        stores the result also records the transitions in order."""
        rs = self.rs
        self.passed.extend(dataclasses.replace(s) for s in rs.dirty.values())
        rs.dirty = {}
        self.in_flight += 1
        outcome = compute(job)
        if deadline is not None and time.monotonic() > deadline and not isinstance(outcome, NodeError):
            outcome = self._attempt_timeout(job.key)
        self._on_result(job.key, job.token, outcome)

    # -- outcomes -----------------------------------------------------------------------
    def _on_result(self, key: NodeKey, token: int, outcome: Any) -> None:
        self.in_flight -= 1
        attempt = self.running.get(key)
        if attempt is None or attempt.token != token:
            return  # an attempt already given up on (timeout, cancel): its result is ignored
        del self.running[key]
        if attempt.ctx.secrets:  # masked from here on, before anything of this attempt is saved
            self.secrets = sorted({*self.secrets, *attempt.ctx.secrets})
        for level, message, data in attempt.ctx.logs:
            self.rs.log(level, message, key, data)
        if isinstance(outcome, NodeResult):
            self.rs.succeed(key, outcome.output, outcome.handles, outcome.warnings)
        elif isinstance(outcome, Wait):
            self._on_wait(key, outcome)
        else:
            self._on_error(key, outcome)

    def _on_error(self, key: NodeKey, error: NodeError) -> None:
        st = self.rs.states[key]
        node = self.graph.nodes[key[0]]
        if not should_retry(node, error, st.attempts):
            self.rs.fail(key, error.as_dict())
            return
        delay = retry_delay_s(node.get("retry") or {}, st.attempts, error.retry_after_s)
        st.status, st.error = NodeStatus.RETRYING, error.as_dict()
        st.resume_at, st.wait = now() + timedelta(seconds=delay), None
        self.rs.mark(key)
        self.rs.log(
            "warning",
            f"attempt {st.attempts} of {(node.get('retry') or {}).get('max_attempts', 1)} failed "
            f"({error.category}: {error.message}); retrying in {delay * 1000:.0f} ms",
            key,
            {"delay_ms": round(delay * 1000), "error": error.as_dict()},
        )
        token = next(self.tokens)
        self.timer_token[key] = token
        heapq.heappush(self.timers, (time.monotonic() + delay, token, key, "retry"))

    def _on_wait(self, key: NodeKey, wait: Wait) -> None:
        st = self.rs.states[key]
        until = wait.until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        st.status, st.resume_at = NodeStatus.WAITING, until
        st.wait = {"kind": wait.kind, "data": dict(wait.data)}
        self.rs.mark(key)
        self.rs.log(
            "info",
            f"waiting ({wait.kind})" + (f" until {until.isoformat()}" if until else ""),
            key,
            {"wait": st.wait},
        )
        if wait.kind == "timer":
            self._schedule(key, until, "wake")
        else:
            self.parked[key] = until  # only the host can see a delivery: always park

    def _expire_attempts(self, mono: float) -> None:
        while self.deadlines and self.deadlines[0][0] + DEADLINE_GRACE_S <= mono:
            _, token, key = heapq.heappop(self.deadlines)
            attempt = self.running.get(key)
            if attempt is None or attempt.token != token:
                continue
            del self.running[key]
            attempt.ctx.cancelled.set()  # the thread stays busy until the executor returns
            self._on_error(key, self._attempt_timeout(key))

    def _attempt_timeout(self, key: NodeKey) -> NodeError:
        """The error of an attempt that ran past its node's `timeout_ms`."""
        timeout_ms = self.graph.nodes[key[0]].get("timeout_ms")
        return NodeError(
            ErrorCategory.TIMEOUT_ERROR,
            f"the attempt exceeded timeout_ms={timeout_ms}",
            {"timeout_ms": timeout_ms},
        )

    # -- ending a segment ---------------------------------------------------------------
    def _finish(self) -> RunOutcome:
        self.rs.sweep()
        status, output, error = self.rs.result()
        output, error = self._mask(output), self._mask(error)
        self.rs.log(
            "error" if status == RunStatus.FAILED else "info",
            f"run {status} in {self._elapsed_ms()} ms",
            data={"error": error} if error else None,
        )
        with self._batch():
            self._flush()
            self.store.save_run(self.run_id, status=status, output=output, error=error)
        return RunOutcome(status, None, output, error)

    def _park(self) -> RunOutcome:
        dues = [self.rs.states[k].resume_at for k in self.timer_token]
        dues += [d for d in self.parked.values() if d is not None]
        dues = [d for d in dues if d is not None]
        resume_at = min(dues) if dues else None
        self.rs.log(
            "info",
            "run parked" + (f" until {resume_at.isoformat()}" if resume_at else " until an external event"),
        )
        with self._batch():
            self._flush()
            self.store.save_run(self.run_id, status=RunStatus.WAITING, resume_at=resume_at)
        return RunOutcome(RunStatus.WAITING, resume_at)

    def _abort(self, category: str, message: str, status: str) -> RunOutcome:
        error = {"category": str(category), "message": message, "details": {}}
        for attempt in self.running.values():
            attempt.ctx.cancelled.set()
        self.timers.clear()
        self.timer_token.clear()
        self.parked.clear()
        self.rs.abort(error)
        self.rs.sweep()
        self.rs.log("warning" if status == RunStatus.CANCELLED else "error", message)
        error = {**error, "node": None}
        with self._batch():
            self._flush(announce=False)
            self.store.save_run(self.run_id, status=status, error=error)
        return RunOutcome(status, None, None, error)

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started_mono) * 1000)

    # -- persistence --------------------------------------------------------------------
    def _mask(self, value: Any) -> Any:
        return mask_secrets(value, self.secrets) if self.secrets and value is not None else value

    def _batch(self):
        """The store's `batch(run_id)` context (one transaction for what is saved inside
        it), when the store has one."""
        batch = getattr(self.store, "batch", None)
        return batch(self.run_id) if batch is not None else contextlib.nullcontext()

    def _flush(self, announce: bool = True) -> None:
        """Save changed node states (one batch) and queued logs; the first save of a segment
        is preceded by the run's `running` status (not when a run is cancelled unstarted)."""
        rs = self.rs
        if not rs.dirty and not rs.logs and not self.passed:
            return
        with self._batch():
            self._save_changes(announce)

    def _save_changes(self, announce: bool) -> None:
        rs = self.rs
        if rs.dirty or self.passed:
            if announce and not self.announced:
                self.store.save_run(self.run_id, status=RunStatus.RUNNING, started_at=self.began)
                self.announced = True
            states = [*self.passed, *rs.dirty.values()]
            self.passed, rs.dirty = [], {}
            if self.secrets:
                states = [
                    dataclasses.replace(
                        s,
                        input=self._mask(s.input),
                        output=self._mask(s.output),
                        error=self._mask(s.error),
                        wait=self._mask(s.wait),
                        warnings=self._mask(list(s.warnings)),
                    )
                    for s in states
                ]
            self.store.save_nodes(self.run_id, states)
        if rs.logs:
            entries = rs.logs
            rs.logs = []
            if self.secrets:
                entries = [
                    dataclasses.replace(e, message=self._mask(e.message), data=self._mask(e.data))
                    for e in entries
                ]
            self.store.append_logs(self.run_id, entries)


__all__ = ["LogEntry", "RunOutcome", "Scheduler", "initial_states"]
