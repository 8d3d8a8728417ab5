"""Adapter tests run workflows in this process against real servers on 127.0.0.1."""

import pytest

from connectors.adapters.pool import pool

pytestmark = pytest.mark.usefixtures("inline_queue")


@pytest.fixture(autouse=True)
def _fresh_pool():
    yield
    pool.close_all()
