import pytest

from .server import drop_server, make_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One running `serve` per test module."""
    srv = make_server(tmp_path_factory.mktemp("serve"))
    srv.start()
    yield srv
    drop_server(srv)
