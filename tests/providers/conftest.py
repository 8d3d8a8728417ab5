"""Fixtures for provider tests: fake Make and Zapier servers, a live server for callbacks,
connections through the API."""

import pytest

from .fakes import FakeMake, FakeZapier


@pytest.fixture(scope="session")
def n8n():
    """One real n8n for the session (about a minute to start)."""
    from .n8n_server import N8n

    server = N8n()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_make():
    server = FakeMake()
    yield server
    server.close()


@pytest.fixture
def fake_zapier():
    server = FakeZapier()
    yield server
    server.close()


@pytest.fixture
def callbacks_live(live_server, settings, inline_queue):
    """Callbacks reach a real server on a free port: URLs made outside a request point at it
    (as `serve` tells its processes), and runs resume in that server's thread."""
    settings.SERVE_BASE_URL = live_server.url
    settings.PUBLIC_BASE_URL = ""
    return live_server


def credential(api, name, data):
    res = api.post("/api/v1/credentials/", {"name": name, "kind": "custom", "data": data}, format="json")
    assert res.status_code == 201, res.content
    return res.json()


def connect(api, *, name, provider, base_url, credential=None, settings=None):
    body = {"name": name, "provider": provider, "base_url": base_url}
    if credential:
        body["credential"] = credential
    if settings is not None:
        body["settings"] = settings
    res = api.post("/api/v1/providers/connections/", body, format="json")
    assert res.status_code == 201, res.content
    return res.json()


@pytest.fixture
def make_connection(api, fake_make):
    credential(api, "make_token", {"token": FakeMake.TOKEN})
    return connect(
        api,
        name="Make EU",
        provider="make",
        base_url=fake_make.base,
        credential="make_token",
        settings={"team_id": FakeMake.TEAM},
    )


@pytest.fixture
def zapier_connection(api, fake_zapier):
    return connect(api, name="Zap orders", provider="zapier", base_url=fake_zapier.hook_url())
