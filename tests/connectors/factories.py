"""Factories and canned replies for connector tests."""

from __future__ import annotations

from .api_server import Reply, Seen


def echo(seen: Seen) -> Reply:
    """Reply with everything the request carried."""
    return 200, {
        "method": seen.method,
        "query": seen.query,
        "headers": seen.headers,
        "body": seen.body.decode("utf-8", "replace"),
    }


FAST_RETRY = {"max_attempts": 3, "delays_ms": [50, 100]}


def workspace_of(user):
    from workflows.services import ensure_personal_workspace

    return ensure_personal_workspace(user=user)


def make_credential(workspace, name: str, data: dict, kind: str = "custom"):
    from connectors.services import create_credential

    return create_credential(workspace=workspace, name=name, kind=kind, data=data)


def make_connector(workspace, config: dict, name: str = "conn", timeout_ms: int = 5000):
    from connectors.services import create_connector

    return create_connector(workspace=workspace, name=name, config=config, timeout_ms=timeout_ms)
