"""Integration adapters beyond `http.request`: databases, message queues, file transfer,
SOAP, GraphQL and gRPC, behind one interface (`base.Adapter`) and one registry.

`load_adapters()` imports every adapter module; each registers itself (and with it its
node types). A new adapter is one module here plus its name in ADAPTER_MODULES.
"""

from __future__ import annotations

import importlib

ADAPTER_MODULES = (
    "http",
    "db",
    "mq_amqp",
    "mq_mqtt",
    "mq_nats",
    "mq_redis",
    "sftp",
    "s3",
    "ftp",
    "soap",
    "graphql",
    "grpc",
)


def load_adapters():
    """Import the adapter modules (each registers itself) and return the registry."""
    from . import nodes, queue_trigger  # noqa: F401  (operations become node types; trigger.queue)
    from .registry import adapters

    for name in ADAPTER_MODULES:
        module = f"connectors.adapters.{name}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a family not written yet
            if exc.name != module:
                raise
    return adapters
