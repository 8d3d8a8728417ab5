"""Public intake for app-event triggers that arrive over HTTP at `/hooks/<token>`.

`receive_webhook` resolves the token to an active workflow's trigger node. `trigger.webhook`
is handled there; any other trigger type that takes HTTP deliveries (a chat bot's updates, a
payment provider's signed events) registers a handler here, keyed by its node type:

    @intake.handles("trigger.payment")
    def receive_payment(request, *, workflow, endpoint, node) -> HttpResponse: ...

The handler answers the request itself; every 2xx it returns must mean the run is durably
stored (or that the event was deliberately filtered out, which it says in the body)."""
from __future__ import annotations

import importlib
from collections.abc import Callable

HANDLER_MODULES = ("runs.chat", "runs.payments")

_handlers: dict[str, Callable] = {}
_loaded = False


def handles(node_type: str):
    def register(fn: Callable) -> Callable:
        _handlers[node_type] = fn
        return fn

    return register


def handler_for(node_type: str) -> Callable | None:
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
        _loaded = True
    return _handlers.get(node_type)
