"""The built-in node families, one module each; importing a module registers its types in
`workflows.engine.registry.registry`. `load()` is called from `WorkflowsConfig.ready()` (and
by tests and benchmarks that use the engine without Django's app loading)."""

from __future__ import annotations

import importlib

from ..engine.registry import NodeRegistry, registry

FAMILIES = ("triggers", "app_triggers", "logic", "data", "http", "flow", "code")


def load() -> NodeRegistry:
    """Import every built-in family (each registers its types once) and return the registry."""
    for family in FAMILIES:
        importlib.import_module(f"{__name__}.{family}")
    return registry
