"""The `switchyard.workflow/1` document: defaults (normalize) and validation (SPEC §2).

`normalize` returns a new document in exactly the SPEC shape with every default written
out; keys the SPEC does not define are dropped (except free-form `variables`, `settings`
and node `config`), so `export(import(x)) == normalize(x)` and `normalize` is idempotent.
A node without `position` gets `[0, 0]`.

`validate` reports every problem it finds (never only the first) as `ValidationIssue`s
with the §2 error shape; `validate_or_raise` returns the normalized document or raises
`WorkflowInvalid`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .errors import ValidationIssue, WorkflowInvalid
from .graph import EACH, Graph
from .registry import MAIN, NodeRegistry
from .schema_check import schema_issues

SCHEMA = "switchyard.workflow/1"
NODE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_SETTINGS = {"timeout_s": 300, "max_runs_per_day": None}
DEFAULT_RETRY = {
    "max_attempts": 1,
    "backoff": "exponential",
    "initial_delay_ms": 1000,
    "max_delay_ms": 60000,
    "jitter": True,
}
BACKOFFS = ("exponential", "linear", "fixed")
ON_ERROR = ("fail", "skip", "route")
ON_TIMEOUT = ("fail", "continue", "default")
MAX_ATTEMPTS = 20


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _normalize_node(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    retry = node.get("retry")
    if retry is None:
        retry = dict(DEFAULT_RETRY)
    elif isinstance(retry, dict):
        retry = {**DEFAULT_RETRY, **{k: v for k, v in retry.items() if v is not None}}
    position = node.get("position")
    if position is None:
        position = [0, 0]
    elif isinstance(position, tuple):
        position = list(position)
    return {
        "id": node.get("id"),
        "type": node.get("type"),
        "name": _or(node.get("name"), ""),
        "description": _or(node.get("description"), ""),
        "config": copy.deepcopy(_or(node.get("config"), {})),
        "position": copy.deepcopy(position),
        "retry": retry,
        "timeout_ms": node.get("timeout_ms"),
        "on_error": _or(node.get("on_error"), "fail"),
        "on_timeout": _or(node.get("on_timeout"), "fail"),
        "default_output": copy.deepcopy(node.get("default_output")),
    }


def _normalize_edge(edge: Any) -> Any:
    if not isinstance(edge, dict):
        return edge
    return {
        "source": edge.get("source"),
        "target": edge.get("target"),
        "source_handle": _or(edge.get("source_handle"), MAIN),
        "target_handle": _or(edge.get("target_handle"), MAIN),
        "mapping": copy.deepcopy(_or(edge.get("mapping"), {})),
    }


def normalize(doc: dict[str, Any]) -> dict[str, Any]:
    """A new document with every SPEC default filled in (idempotent; input untouched)."""
    settings = doc.get("settings")
    if settings is None:
        settings = dict(DEFAULT_SETTINGS)
    elif isinstance(settings, dict):
        settings = {**DEFAULT_SETTINGS, **copy.deepcopy(settings)}
    nodes = doc.get("nodes")
    edges = doc.get("edges")
    return {
        "schema": doc.get("schema"),
        "name": _or(doc.get("name"), ""),
        "description": _or(doc.get("description"), ""),
        "variables": copy.deepcopy(_or(doc.get("variables"), {})),
        "settings": settings,
        "nodes": [_normalize_node(n) for n in nodes] if isinstance(nodes, list) else nodes,
        "edges": [_normalize_edge(e) for e in edges] if isinstance(edges, list) else edges,
    }


def validate(doc: Any, registry: NodeRegistry) -> list[ValidationIssue]:
    """Every problem in `doc` (raw or normalized), as SPEC §2 error entries."""
    if not isinstance(doc, dict):
        return [ValidationIssue("the document must be a JSON object")]
    doc = normalize(doc)
    issues: list[ValidationIssue] = []
    _check_top(doc, issues)
    nodes = doc["nodes"] if isinstance(doc["nodes"], list) else []
    edges = doc["edges"] if isinstance(doc["edges"], list) else []
    known: dict[str, dict[str, Any]] = {}
    for i, node in enumerate(nodes):
        _check_node(i, node, known, registry, issues)
    graph = Graph({"nodes": list(known.values()), "edges": edges}, registry)
    for i, edge in enumerate(edges):
        _check_edge(i, edge, known, registry, graph, issues)
    for nid in graph.cycle_nodes:
        issues.append(
            ValidationIssue(
                "this node is on a cycle; workflows must be acyclic (use logic.loop to repeat work)",
                node=nid,
                field="edges",
            )
        )
    if not graph.cycle_nodes:
        _check_loops(graph, issues)
    return list(dict.fromkeys(issues))  # the same finding twice says nothing new


def validate_or_raise(doc: Any, registry: NodeRegistry) -> dict[str, Any]:
    """The normalized document, or `WorkflowInvalid` listing every issue."""
    issues = validate(doc, registry)
    if issues:
        raise WorkflowInvalid(issues)
    return normalize(doc)


def _check_top(doc: dict[str, Any], issues: list[ValidationIssue]) -> None:
    if doc["schema"] != SCHEMA:
        issues.append(ValidationIssue(f"schema must be {SCHEMA!r}", field="schema"))
    for key in ("name", "description"):
        if not isinstance(doc[key], str):
            issues.append(ValidationIssue(f"{key} must be a string", field=key))
    if not isinstance(doc["variables"], dict):
        issues.append(ValidationIssue("variables must be an object", field="variables"))
    settings = doc["settings"]
    if not isinstance(settings, dict):
        issues.append(ValidationIssue("settings must be an object", field="settings"))
    else:
        t = settings.get("timeout_s")
        if t is not None and (not _is_number(t) or t <= 0):
            issues.append(
                ValidationIssue("timeout_s must be a positive number of seconds", field="settings.timeout_s")
            )
        m = settings.get("max_runs_per_day")
        if m is not None and (not _is_int(m) or m < 1):
            issues.append(
                ValidationIssue(
                    "max_runs_per_day must be null or a positive integer", field="settings.max_runs_per_day"
                )
            )
    for key in ("nodes", "edges"):
        if not isinstance(doc[key], list):
            issues.append(ValidationIssue(f"{key} is required and must be a list", field=key))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_node(i: int, node: Any, known: dict, registry: NodeRegistry, issues: list) -> None:
    if not isinstance(node, dict):
        issues.append(ValidationIssue(f"nodes[{i}] must be an object", field=f"nodes.{i}"))
        return
    nid = node["id"]
    ref = nid if isinstance(nid, str) else None

    def add(field: str, message: str) -> None:
        issues.append(ValidationIssue(message, node=ref, field=field))

    if not isinstance(nid, str):
        add("id", f"nodes[{i}] needs an id (a string matching {NODE_ID.pattern})")
    elif nid in known:
        add("id", f"duplicate node id {nid!r}")
    else:
        if not NODE_ID.match(nid):
            add(
                "id",
                f"node id {nid!r} must match {NODE_ID.pattern} (lower case letter first, "
                "then lower case letters, digits or _; at most 63 characters)",
            )
        known[nid] = node  # still resolvable by edges: one mistake, one issue
    for key in ("name", "description"):
        if not isinstance(node[key], str):
            add(key, f"{key} must be a string")
    pos = node["position"]
    if not (isinstance(pos, list) and len(pos) == 2 and all(_is_number(p) for p in pos)):
        add("position", "position must be [x, y] numbers")
    _check_policies(node, add)
    ntype = node["type"]
    if not isinstance(ntype, str) or not ntype:
        add("type", "type is required")
        return
    if ntype not in registry:
        add("type", f"unknown node type {ntype!r}")
        return
    config = node["config"]
    if not isinstance(config, dict):
        add("config", "config must be an object")
        return
    _check_config(registry.get(ntype), config, add)


def _check_policies(node: dict[str, Any], add) -> None:
    retry = node["retry"]
    if not isinstance(retry, dict):
        add("retry", "retry must be an object")
    else:
        for key in retry.keys() - DEFAULT_RETRY.keys():
            add(f"retry.{key}", f"unknown retry setting {key!r}")
        n = retry["max_attempts"]
        if not _is_int(n) or not 1 <= n <= MAX_ATTEMPTS:
            add("retry.max_attempts", f"max_attempts must be an integer from 1 to {MAX_ATTEMPTS}")
        if retry["backoff"] not in BACKOFFS:
            add("retry.backoff", f"backoff must be one of {', '.join(BACKOFFS)}")
        for key in ("initial_delay_ms", "max_delay_ms"):
            if not _is_number(retry[key]) or retry[key] < 0:
                add(f"retry.{key}", f"{key} must be a number of milliseconds >= 0")
        if not isinstance(retry["jitter"], bool):
            add("retry.jitter", "jitter must be true or false")
    t = node["timeout_ms"]
    if t is not None and (not _is_number(t) or t <= 0):
        add("timeout_ms", "timeout_ms must be null or a positive number of milliseconds")
    if node["on_error"] not in ON_ERROR:
        add("on_error", f"on_error must be one of {', '.join(ON_ERROR)}")
    if node["on_timeout"] not in ON_TIMEOUT:
        add("on_timeout", f"on_timeout must be one of {', '.join(ON_TIMEOUT)}")


def _check_config(node_type, config: dict[str, Any], add) -> None:
    from .templates import check_syntax

    problems = schema_issues(node_type.config_schema, config)
    for path, message in problems:
        add(_field("config", path), message)
    if not problems and node_type.validate_config is not None:
        # Only on a schema-valid config: the extra checks may rely on its shape.
        for path, message in node_type.validate_config(config) or ():
            add(_field("config", path), message)
    for key, value in config.items():
        if key in node_type.raw_config_keys:
            continue  # conditions and per-item templates: the type's validate_config checks them
        for path, message in check_syntax(value, f"config.{key}"):
            add(path, message)


def _field(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix


def _check_edge(i: int, edge: Any, known: dict, registry: NodeRegistry, graph: Graph, issues: list) -> None:
    def add(field: str, message: str, node: str | None = None) -> None:
        issues.append(ValidationIssue(message, node=node, edge=i, field=field))

    if not isinstance(edge, dict):
        add("", f"edges[{i}] must be an object")
        return
    src, dst = edge["source"], edge["target"]
    for key, ref in (("source", src), ("target", dst)):
        if not isinstance(ref, str) or not ref:
            add(key, f"edge {key} is required (a node id)")
        elif ref not in known:
            add(key, f"edge {key} {ref!r} is not a node of this workflow")
    handle, target_handle = edge["source_handle"], edge["target_handle"]
    if src in known and isinstance(known[src].get("type"), str) and known[src]["type"] in registry:
        source_type = registry.get(known[src]["type"])
        config = known[src]["config"] if isinstance(known[src]["config"], dict) else {}
        try:
            handles = source_type.output_handles(config)
        except Exception:  # a malformed config already has its own issue
            handles = None
        if handles is not None and handle not in handles:
            add(
                "source_handle",
                f"node {src!r} ({source_type.type}) has no output handle {handle!r}; "
                f"its handles are: {', '.join(handles)}",
            )
    if target_handle != MAIN:
        add("target_handle", f"target_handle must be {MAIN!r}: node types have a single input")
    if dst in known and dst in graph.triggers:
        add("target", f"trigger node {dst!r} cannot have incoming edges; it starts the run")
    mapping = edge["mapping"]
    if not isinstance(mapping, dict):
        add("mapping", "mapping must be an object {target_field: template}")
        return
    from .templates import check_syntax

    for key, value in mapping.items():
        for path, message in check_syntax(value, f"mapping.{key}"):
            add(path, message)


def _check_loops(graph: Graph, issues: list[ValidationIssue]) -> None:
    """Loop bodies must be self-contained: fed only by the loop's `each` edges. A loop may
    sit in another loop's body (its body is then inside the outer one's)."""
    for loop in graph.loops.values():
        for nid in loop.order:
            for e in graph.incoming[nid]:
                if e.source in loop.body or (e.source == loop.node_id and e.source_handle == EACH):
                    continue
                issues.append(
                    ValidationIssue(
                        f"edge from {e.source!r} enters the body of loop {loop.node_id!r} (node "
                        f"{nid!r}) from "
                        f"outside; a loop body is fed only by the loop's {EACH!r} handle",
                        edge=e.index,
                        field="source",
                    )
                )
