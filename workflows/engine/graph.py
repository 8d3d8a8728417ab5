"""The analysed, immutable graph of a normalized workflow document.

`analyse(doc, registry)` is on the scheduler's hot path (once per `advance()`), so results
are cached: first by object identity (the cache keeps the document alive, so an id is never
reused while cached), then by a canonical JSON dump, which catches the same document loaded
afresh from a database. Documents handed to the engine are treated as immutable.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .registry import MAIN, NodeRegistry

LOOP_TYPE = "logic.loop"
MERGE_TYPE = "logic.merge"
EACH = "each"
DONE = "done"


@dataclass(frozen=True)
class Edge:
    index: int  # position in the document's `edges` list
    source: str
    target: str
    source_handle: str = MAIN
    target_handle: str = MAIN
    mapping: dict[str, Any] | None = None


@dataclass(frozen=True)
class Loop:
    """A `logic.loop` node and its body (SPEC §5)."""

    node_id: str
    body: frozenset[str]  # every node reachable from `each`, nested loops' bodies included
    starts: tuple[str, ...]  # targets of the loop's `each` edges
    ends: tuple[str, ...]  # body ends: direct body nodes with no outgoing edge (nor a nested
    # loop's body-feeding ones), in topological order
    order: tuple[str, ...]  # body nodes in topological order
    direct: frozenset[str] = frozenset()  # body nodes not inside a nested loop's body
    direct_order: tuple[str, ...] = ()  # those in topological order
    parent: str | None = None  # the loop whose body holds this loop node (nested loops)


class Graph:
    """Nodes, edges and the structure the scheduler and validation need."""

    def __init__(self, doc: dict[str, Any], registry: NodeRegistry | None = None):
        nodes = [n for n in doc.get("nodes") or [] if isinstance(n, dict) and isinstance(n.get("id"), str)]
        self.nodes: dict[str, dict[str, Any]] = {}
        for n in nodes:
            self.nodes.setdefault(n["id"], n)
        self.position = {nid: i for i, nid in enumerate(self.nodes)}
        edges = []
        for i, e in enumerate(doc.get("edges") or []):
            if (
                not isinstance(e, dict)
                or e.get("source") not in self.nodes
                or e.get("target") not in self.nodes
            ):
                continue  # dangling edges are validation issues, not graph structure
            edges.append(
                Edge(
                    i,
                    e["source"],
                    e["target"],
                    e.get("source_handle") or MAIN,
                    e.get("target_handle") or MAIN,
                    e.get("mapping") or None,
                )
            )
        self.edges: tuple[Edge, ...] = tuple(edges)
        incoming: dict[str, list[Edge]] = {nid: [] for nid in self.nodes}
        outgoing: dict[str, list[Edge]] = {nid: [] for nid in self.nodes}
        for e in edges:
            incoming[e.target].append(e)
            outgoing[e.source].append(e)
        self.incoming = {k: tuple(v) for k, v in incoming.items()}
        self.outgoing = {k: tuple(v) for k, v in outgoing.items()}

        self.order, self.cycle_nodes = self._toposort()
        self.triggers = tuple(nid for nid, n in self.nodes.items() if _is_trigger(n, registry))
        self.roots = tuple(nid for nid in self.nodes if not self.incoming[nid])
        self.first_arrival = frozenset(
            nid
            for nid, n in self.nodes.items()
            if n.get("type") == MERGE_TYPE and (n.get("config") or {}).get("mode") == "first"
        )
        self.loops: dict[str, Loop] = {}
        self.loop_of: dict[str, str] = {}  # body node -> the innermost loop whose body holds it
        if not self.cycle_nodes:
            bodies = {nid: self._body(nid) for nid, n in self.nodes.items() if n.get("type") == LOOP_TYPE}
            for lid, body in bodies.items():
                for b in body:  # nested bodies are strict subsets: the smallest is the innermost
                    if b not in self.loop_of or len(body) < len(bodies[self.loop_of[b]]):
                        self.loop_of[b] = lid
            for lid, body in bodies.items():
                self.loops[lid] = self._loop(lid, body)
        # A loop whose only outgoing edges feed its body still counts as a sink: its
        # `{results}` is what the run produced.
        self.sinks = tuple(
            nid
            for nid in self.order
            if nid not in self.loop_of
            and all(e.source_handle == EACH and nid in self.loops for e in self.outgoing[nid])
        )
        self.sink_set = frozenset(self.sinks)
        self.render_keys = {nid: _render_keys(n, registry) for nid, n in self.nodes.items()}

    def node_type(self, node_id: str) -> str:
        return self.nodes[node_id].get("type", "")

    def _toposort(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Kahn's algorithm, ties broken by declaration order; plus the nodes on cycles."""
        indegree = {nid: len(self.incoming[nid]) for nid in self.nodes}
        heap = [self.position[nid] for nid, d in indegree.items() if d == 0]
        heapq.heapify(heap)
        ids = list(self.nodes)
        order = []
        while heap:
            nid = ids[heapq.heappop(heap)]
            order.append(nid)
            for e in self.outgoing[nid]:
                indegree[e.target] -= 1
                if indegree[e.target] == 0:
                    heapq.heappush(heap, self.position[e.target])
        if len(order) == len(ids):
            return tuple(order), ()
        left = [nid for nid in ids if indegree[nid] > 0]
        return tuple(order), self._nodes_on_cycles(left)

    def _nodes_on_cycles(self, candidates: list[str]) -> tuple[str, ...]:
        """Nodes in a strongly connected component of size > 1, or with a self-edge
        (iterative Tarjan; nodes merely downstream of a cycle are not reported)."""
        allowed = set(candidates)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: set[str] = set()
        counter = 0
        for root in candidates:
            if root in index:
                continue
            work = [(root, 0)]
            while work:
                nid, i = work.pop()
                if i == 0:
                    index[nid] = low[nid] = counter
                    counter += 1
                    stack.append(nid)
                    on_stack.add(nid)
                succ = [e.target for e in self.outgoing[nid] if e.target in allowed]
                if i < len(succ):
                    work.append((nid, i + 1))
                    nxt = succ[i]
                    if nxt not in index:
                        work.append((nxt, 0))
                    elif nxt in on_stack:
                        low[nid] = min(low[nid], index[nxt])
                    continue
                if work:  # propagate low-link to the parent frame
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[nid])
                if low[nid] == index[nid]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == nid:
                            break
                    if len(component) > 1 or any(e.target == nid for e in self.outgoing[nid]):
                        found.update(component)
        return tuple(nid for nid in self.nodes if nid in found)

    def _starts(self, loop_id: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.target for e in self.outgoing[loop_id] if e.source_handle == EACH))

    def _body(self, loop_id: str) -> frozenset[str]:
        body: set[str] = set()
        todo = [s for s in self._starts(loop_id) if s != loop_id]
        while todo:
            nid = todo.pop()
            if nid in body:
                continue
            body.add(nid)
            todo.extend(e.target for e in self.outgoing[nid] if e.target != loop_id)
        return frozenset(body)

    def _loop(self, loop_id: str, body: frozenset[str]) -> Loop:
        order = tuple(nid for nid in self.order if nid in body)
        direct_order = tuple(nid for nid in order if self.loop_of.get(nid) == loop_id)
        # A nested loop whose only outgoing edges feed its own body ends the outer body: its
        # `{results}` is what the outer iteration produced.
        ends = tuple(
            nid
            for nid in direct_order
            if all(
                e.source_handle == EACH and self.nodes[nid].get("type") == LOOP_TYPE
                for e in self.outgoing[nid]
            )
        )
        return Loop(
            loop_id,
            body,
            self._starts(loop_id),
            ends,
            order,
            frozenset(direct_order),
            direct_order,
            self.loop_of.get(loop_id),
        )


def _is_trigger(node: dict[str, Any], registry: NodeRegistry | None) -> bool:
    t = node.get("type")
    if registry is not None and isinstance(t, str) and t in registry:
        return registry.get(t).is_trigger
    return isinstance(t, str) and t.startswith("trigger.")


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _render_keys(node: dict[str, Any], registry: NodeRegistry | None) -> tuple[str, ...]:
    """Config keys holding templates that the scheduler renders (not the type's raw keys)."""
    config = node.get("config")
    if not isinstance(config, dict):
        return ()
    raw: frozenset[str] = frozenset()
    if _is_trigger(node, registry):
        return ()  # trigger settings are read by the host (auth, cron), not rendered per run
    t = node.get("type")
    if registry is not None and isinstance(t, str) and t in registry:
        node_type = registry.get(t)
        if node_type.renders_own_config is not None and node_type.renders_own_config(config):
            return ()
        raw = node_type.raw_config_keys
    return tuple(k for k, v in config.items() if k not in raw and _has_template(v))


_CACHE: OrderedDict[Any, tuple[Any, Graph]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 256


def analyse(doc: dict[str, Any], registry: NodeRegistry | None = None) -> Graph:
    """The cached `Graph` of a (normalized) document."""
    id_key = ("id", id(doc), id(registry))
    with _CACHE_LOCK:
        hit = _CACHE.get(id_key)
        if hit is not None and hit[0] is doc:
            _CACHE.move_to_end(id_key)
            return hit[1]
    text_key = ("json", json.dumps(doc, sort_keys=True, default=str), id(registry))
    with _CACHE_LOCK:
        hit = _CACHE.get(text_key)
    graph = hit[1] if hit is not None else Graph(doc, registry)
    with _CACHE_LOCK:
        _CACHE[id_key] = (doc, graph)
        _CACHE[text_key] = (registry, graph)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return graph
