"""Django-Q tasks for connectors. Retry-safe: an execution runs only once (see
`services.perform_execution`)."""

from __future__ import annotations

from . import services
from .models import ConnectorExecution


def perform_connector_execution(execution_id: str) -> str:
    """Run a pending connector execution; returns the status it ended in."""
    try:
        return services.perform_execution(execution_id=execution_id).status
    except ConnectorExecution.DoesNotExist:  # its connector was deleted before a worker got to it
        return "skipped: the execution no longer exists"
