"""Fixtures for connector tests: a real HTTP API on 127.0.0.1 and the outbound policy."""

import pytest

from .api_server import ApiServer


@pytest.fixture
def api_server():
    server = ApiServer()
    yield server
    server.close()


@pytest.fixture
def private_outbound(settings):
    """Connectors may call the loopback test server."""
    settings.ALLOW_PRIVATE_OUTBOUND = True
