"""Provider adapters behind one interface (`base.ProviderAdapter`) and one registry.

Importing this package registers the built-in adapters; a new provider is one more module
with an `@adapter` class, imported here.
"""

from . import make, n8n, zapier  # noqa: F401  (each registers its adapter)
from .base import (
    ACCEPTED,
    FAILED,
    FINISHED,
    RUNNING,
    SUCCEEDED,
    ConnectionInfo,
    ExecuteRequest,
    Execution,
    Preview,
    ProviderAdapter,
    RemotePage,
    RemoteWorkflow,
    adapter,
    registry,
)
from .client import ProviderClient

__all__ = [
    "ACCEPTED",
    "FAILED",
    "FINISHED",
    "RUNNING",
    "SUCCEEDED",
    "ConnectionInfo",
    "Execution",
    "ExecuteRequest",
    "Preview",
    "ProviderAdapter",
    "ProviderClient",
    "RemotePage",
    "RemoteWorkflow",
    "adapter",
    "registry",
]
