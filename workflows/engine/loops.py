"""Bookkeeping of one running `logic.loop` (SPEC §5), owned by `RunState`.

Durable part: the loop node's `NodeState.wait = {"kind": "loop", "items": [...]}`, written
once when the loop starts. Everything else is derived from the body instances' states on
resume: an iteration is done when every body node has a terminal state for it, and its
result is the output of its last finished body end. So a resumed run re-runs nothing that
had finished, and never has to rewrite a growing results list.

Nested loops: a loop node inside another loop's body has one instance (and one `LoopRun`)
per outer iteration. Its iterations are counted by the instances of its direct body (not
inside a further nested body); the nested loop node itself is one such instance of the
outer loop, terminal once all its own iterations are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .graph import Loop
from .iterations import IterationKey
from .store import NodeState

LOOP_WAIT_KIND = "loop"


@dataclass
class LoopRun:
    loop: Loop
    items: list[Any]
    concurrency: int
    started: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    remaining: dict[int, int] = field(default_factory=dict)  # body instances not yet terminal
    results: list[Any] = field(default_factory=list)
    failure: tuple[int, str, dict[str, Any]] | None = None  # (iteration, node, error) first fatal
    next_index: int = 0

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)

    @property
    def active(self) -> int:
        return len(self.started) - len(self.done)

    def can_start(self) -> bool:
        return self.failure is None and self.next_index < len(self.items) and self.active < self.concurrency

    def take_next(self) -> int:
        i = self.next_index
        self.started.add(i)
        self.remaining[i] = len(self.loop.direct)
        self.next_index = self._first_unstarted(i + 1)
        return i

    def _first_unstarted(self, start: int) -> int:
        i = start
        while i in self.started:
            i += 1
        return i

    def mark_started(self, i: int) -> None:
        """Record an iteration found in the store on resume."""
        self.started.add(i)
        self.remaining[i] = len(self.loop.direct)
        self.next_index = self._first_unstarted(self.next_index)

    def finished(self) -> bool:
        """All started iterations are done and none will start (all items, or a failure)."""
        return len(self.done) == len(self.started) and (
            self.failure is not None or self.next_index >= len(self.items)
        )

    def record_failure(self, iteration: int, node_id: str, error: dict[str, Any]) -> None:
        if self.failure is None:
            self.failure = (iteration, node_id, error)

    def failure_error(self) -> dict[str, Any]:
        """The loop node's own error: the failing body node's, naming node and iteration."""
        assert self.failure is not None
        iteration, node_id, error = self.failure
        details = dict(error.get("details") or {})
        details.update({"iteration": iteration, "node": node_id})
        return {
            "category": error.get("category"),
            "message": f"iteration {iteration}: node {node_id!r} failed: {error.get('message')}",
            "details": details,
        }


def finish_rank(state: NodeState, position: int) -> tuple[float, int]:
    """Order of finishing: completion time, then declaration order (stable on resume)."""
    when = state.completed_at.timestamp() if state.completed_at else 0.0
    return (when, position)


def iteration_result(loop: Loop, iteration: IterationKey, states: dict, outputs: dict, position: dict) -> Any:
    """The output of the iteration's last finished body end (None if every end was skipped);
    `iteration` is the body instances' iteration key."""
    best, best_rank = None, None
    for nid in loop.ends:
        key = (nid, iteration)
        if key in outputs:
            rank = finish_rank(states[key], position[nid])
            if best_rank is None or rank > best_rank:
                best, best_rank = outputs[key], rank
    return best
