"""The adapter registry: adapters plug in with `@register_adapter`, nothing dispatches by name.

Each adapter's operations become node types (`db.query`, `mq.publish`, …) when it
registers (see `nodes.py`); several adapters of one family share a node type, and the
credential's URL scheme picks the adapter at run time (`adapter_for`).
"""

from __future__ import annotations

import threading

from workflows.engine.errors import ErrorCategory, NodeError

from .base import Adapter


class AdapterRegistry:
    def __init__(self) -> None:
        self._adapters: dict[str, Adapter] = {}
        self._by_scheme: dict[tuple[str, str], Adapter] = {}
        self._lock = threading.Lock()
        self.listeners: list = []  # called with each new adapter (registers node types)

    def register(self, adapter: Adapter) -> Adapter:
        with self._lock:
            if adapter.id in self._adapters:
                raise ValueError(f"adapter {adapter.id!r} is already registered")
            for scheme in adapter.protocols:
                if (adapter.family, scheme) in self._by_scheme:
                    raise ValueError(f"{adapter.family} scheme {scheme!r} already has an adapter")
            self._adapters[adapter.id] = adapter
            for scheme in adapter.protocols:
                self._by_scheme[(adapter.family, scheme)] = adapter
        for listener in self.listeners:
            listener(adapter)
        return adapter

    def get(self, adapter_id: str) -> Adapter:
        return self._adapters[adapter_id]

    def all(self) -> list[Adapter]:
        return sorted(self._adapters.values(), key=lambda a: (a.family, a.id))

    def schemes(self, family: str) -> list[str]:
        return sorted(scheme for fam, scheme in self._by_scheme if fam == family)

    def adapter_for(self, family: str, scheme: str) -> Adapter:
        """The adapter serving `scheme` in `family`, or a VALIDATION_ERROR naming the choices."""
        adapter = self._by_scheme.get((family, scheme))
        if adapter is None:
            choices = ", ".join(f"{s}://" for s in self.schemes(family))
            raise NodeError(
                ErrorCategory.VALIDATION_ERROR,
                f"the credential's data.url must start with one of {choices} (got {scheme or 'no'} scheme)",
                {"scheme": scheme},
                retryable=False,
            )
        return adapter


adapters = AdapterRegistry()


def register_adapter(cls: type[Adapter]) -> type[Adapter]:
    """Class decorator: instantiate and register an adapter."""
    adapters.register(cls())
    return cls
