"""The node registry: the one place node types plug in.

A node type is a plain executor function plus metadata (config/input/output JSON schemas,
handles, palette fields). Node modules register themselves at import with `@node_type`;
validation, the palette endpoint and the scheduler all read the registry, so adding a
type never touches a dispatcher.

Executor contract: `execute(ctx: NodeContext) -> NodeResult | Wait`.
- Raise `errors.NodeError` (or a subclass) to fail the attempt with a category.
- Return `Wait(...)` to park the node (timer, callback, child run). When the wait ends the
  scheduler calls the executor again with `ctx.resume` set to what ended it.
- Honour `ctx.deadline` / `ctx.remaining_s()` and `ctx.cancelled` where work can block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Services

MAIN = "main"
ERROR_HANDLE = "error"


@dataclass(frozen=True)
class NodeResult:
    """A finished attempt: the node's output and the handles that fire (empty: none)."""

    output: Any
    handles: tuple[str, ...] = (MAIN,)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Wait:
    """Park the node until `until` (timer) or until the host resumes it (callback/child).

    `kind` is one of "timer", "callback", "child"; `data` is persisted with the node and
    handed back in `ctx.wait_data` on the next call (e.g. a callback token or child run id).
    `output` lets a waiting node expose fields while it waits (e.g. `callback_url`).
    """

    kind: str = "timer"
    until: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeContext:
    """Everything an executor may use. Built by the scheduler for each attempt."""

    run_id: str
    workflow_id: str
    node_id: str
    node: dict[str, Any]  # the normalized node document (id, type, config, retry, ...)
    config: dict[str, Any]  # config with every string template rendered (except raw keys)
    input: Any
    scope: dict[
        str, Any
    ]  # template names: trigger, input, nodes, variables, workspace, execution, item, index
    services: Services
    attempt: int = 1
    iteration: int | None = None  # the innermost loop's item index
    outer: tuple[int, ...] = ()  # the enclosing loops' item indices (a nested loop's body)
    deadline: float | None = None  # time.monotonic() bound for this attempt
    cancelled: threading.Event = field(default_factory=threading.Event)
    resume: Any = None  # what ended a Wait (None on a first call)
    wait_data: dict[str, Any] | None = None  # the Wait.data persisted when the node parked
    logs: list[tuple[str, str, Any]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # see add_secrets

    @property
    def iteration_path(self) -> list[int] | None:
        """None outside loops, [index] in a loop body, [outer, ..., inner] when nested."""
        return None if self.iteration is None else [*self.outer, self.iteration]

    @property
    def raw_config(self) -> dict[str, Any]:
        return self.node.get("config") or {}

    def remaining_s(self) -> float | None:
        """Seconds left before this attempt's deadline (None: unbounded)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def render(self, value: Any, **extra_scope: Any) -> Any:
        """Render templates in `value` against this node's scope plus `extra_scope`."""
        from .templates import render

        scope = {**self.scope, **extra_scope} if extra_scope else self.scope
        return render(value, scope)

    def add_secrets(self, *values: Any) -> None:
        """Register credential strings this attempt used or received (a token typed into a
        header, a cookie the server set): from now on the run masks them, in every form,
        wherever it stores or returns something (outputs, errors, logs, the run result).
        The node's output still reaches its successors unmasked, in memory."""
        self.secrets.extend(
            str(v) for v in values if isinstance(v, str | int | float) and not isinstance(v, bool)
        )

    def log(self, level: str, message: str, data: Any = None) -> None:
        """Queue a log line; the scheduler persists it in order with the node's events."""
        self.logs.append((level, message, data))


Executor = Callable[[NodeContext], "NodeResult | Wait"]

# Endpoint kinds of a trigger with a public token (an unguessable address of its own).
TOKEN_ENDPOINTS = ("hook", "form", "email")


@dataclass(frozen=True)
class TriggerSpec:
    """How a trigger type is reached from outside, said once: activation (which triggers
    get a token, of which style), the endpoint URLs and pages, intake dispatch and
    `start_run` all read it.

    - `endpoint`: "hook" (`/hooks/<token>`), "form" (`/forms/<token>`), "email"
      (`<token>@INBOUND_EMAIL_DOMAIN`), "schedule" (armed at activation), "listener" (its
      own listener process consumes events, e.g. a message queue), "manual" (the API and
      the Run button: the trigger a run starts from when none is named), or "event" (an
      event inside the product, e.g. a contact saved).
    - `token`: the style of the public token: "urlsafe", or "hex" (lowercase, for
      case-insensitive addresses).
    - `label`: how pages name the trigger's endpoint.
    - `secret_fields`: dotted config paths holding a secret, a literal or
      `{{ workspace.<credential> }}` (read per delivery, never compared as template text).
    - `receive`: for "hook" endpoints, how a request becomes a run:
      `receive(request, *, workflow, endpoint, node) -> response` (the host's request and
      response types; the engine never calls it). A host may register it separately.
    """

    endpoint: str
    label: str = ""
    token: str = "urlsafe"
    secret_fields: tuple[str, ...] = ()
    receive: Callable[..., Any] | None = None

    @property
    def has_token(self) -> bool:
        return self.endpoint in TOKEN_ENDPOINTS


@dataclass(frozen=True)
class HandlesFrom:
    """Output handles read from a node's config, said as data so that the builder draws them
    by the same rule as the engine (it gets `describe()` in `/node-types`): the `key` of every
    object in each list `config[path]`, in order, then each named field holding one handle name
    (or null). Duplicates count once."""

    lists: tuple[tuple[str, str], ...] = ()  # (config key of a list of objects, key naming the handle)
    fields: tuple[str, ...] = ()  # config keys holding a single handle name

    def __call__(self, config: dict[str, Any]) -> list[str]:
        handles: list[str] = []

        def add(value: Any) -> None:
            if isinstance(value, str) and value and value not in handles:
                handles.append(value)

        for path, key in self.lists:
            items = config.get(path)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    add(item.get(key))
        for name in self.fields:
            add(config.get(name))
        return handles

    def describe(self) -> dict[str, Any]:
        return {
            "lists": [{"path": path, "key": key} for path, key in self.lists],
            "fields": list(self.fields),
        }


@dataclass(frozen=True)
class NodeType:
    type: str
    execute: Executor
    label: str
    category: str  # palette group: trigger, logic, data, http, flow, connector, provider
    description: str = ""
    config_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] = field(default_factory=dict)
    handles: tuple[str, ...] = (MAIN,)
    # Handles that depend on config (switch cases, split branches); overrides `handles`.
    dynamic_handles: HandlesFrom | None = None
    # Config keys the node evaluates itself (conditions, per-item templates): not pre-rendered.
    raw_config_keys: frozenset[str] = frozenset()
    # When it returns True for a node's config, the executor renders that whole config itself
    # (e.g. after creating a callback token, so `{{ callback.url }}` can be used in it).
    renders_own_config: Callable[[dict[str, Any]], bool] | None = None
    # Extra checks beyond the JSON schema: returns [(dotted field under config, message)].
    validate_config: Callable[[dict[str, Any]], Iterable[tuple[str, str]]] | None = None
    is_trigger: bool = False
    # Config paths holding a secret typed into the document (sealed at rest, `***` when
    # shown, see `workflows.trigger_secrets`); a `*` segment stands for every key of an
    # object named like a credential (`headers.*`: `Authorization`, `X-Api-Key`...).
    # Trigger types list theirs in `TriggerSpec.secret_fields`.
    secret_fields: tuple[str, ...] = ()
    # Pure and cheap (no I/O, bounded CPU, nothing written anywhere): run on the advancing
    # thread instead of a pool thread, its `running` state stored with its result in the same
    # flush (re-running it after a crash repeats nothing observable).
    inline: bool = False
    icon: str = ""
    trigger: TriggerSpec | None = None  # how a trigger type is reached (see TriggerSpec)

    def output_handles(self, config: dict[str, Any]) -> list[str]:
        handles = list(self.dynamic_handles(config) if self.dynamic_handles else self.handles)
        return handles + ([ERROR_HANDLE] if ERROR_HANDLE not in handles else [])

    def palette_entry(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "label": self.label,
            "category": self.category,
            "description": self.description,
            "icon": self.icon,
            "is_trigger": self.is_trigger,
            "handles": list(self.handles),
            "dynamic_handles": self.dynamic_handles is not None,
            "handles_from": self.dynamic_handles.describe() if self.dynamic_handles else None,
            "config_schema": self.config_schema,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }


class NodeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, NodeType] = {}
        self._lock = threading.Lock()

    def register(self, node_type: NodeType) -> NodeType:
        with self._lock:
            if node_type.type in self._types:
                raise ValueError(f"node type {node_type.type!r} is already registered")
            self._types[node_type.type] = node_type
        return node_type

    def unregister(self, type_name: str) -> None:
        """Remove a type (tests that define their own types clean up with this)."""
        with self._lock:
            self._types.pop(type_name, None)

    def get(self, type_name: str) -> NodeType:
        return self._types[type_name]

    def trigger_spec(self, type_name: object) -> TriggerSpec | None:
        """The trigger metadata of a registered trigger type; None for anything else."""
        node_type = self._types.get(type_name) if isinstance(type_name, str) else None
        return node_type.trigger if node_type is not None and node_type.is_trigger else None

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._types

    def all(self) -> list[NodeType]:
        return sorted(self._types.values(), key=lambda t: (t.category, t.type))


registry = NodeRegistry()


def node_type(type_name: str, *, label: str, category: str, target: NodeRegistry | None = None, **meta: Any):
    """Decorator: register the decorated executor function as node type `type_name`."""

    def decorate(execute: Executor) -> Executor:
        (target or registry).register(
            NodeType(type=type_name, execute=execute, label=label, category=category, **meta)
        )
        return execute

    return decorate
