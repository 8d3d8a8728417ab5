"""The connection pool on its own: bounded, health-checked, rotated, closed — with a counting
adapter, no server needed."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from connectors.adapters.base import Adapter, Limits, settings_from
from connectors.adapters.pool import ConnectionPool
from workflows.engine.errors import NodeError


class Conn:
    def __init__(self, n):
        self.n, self.closed, self.healthy = n, False, True

    def close(self):
        self.closed = True


class Counting(Adapter):
    id = "counting"
    family = "test"
    protocols = ("count",)

    def __init__(self):
        self.made: list[Conn] = []

    def connect(self, settings, limits):
        self.made.append(Conn(len(self.made)))
        return self.made[-1]

    def is_healthy(self, connection):
        return connection.healthy


def _settings(**data):
    return settings_from(credential_id="c1", credential_name="c", data={"url": "count://h/x", **data})


def test_connections_are_reused_bounded_and_waited_for():
    pool, adapter = ConnectionPool(), Counting()
    settings = _settings(pool_size="1")
    with pool.connection(adapter, settings, Limits(timeout_s=1)) as first:
        pass
    with pool.connection(adapter, settings, Limits(timeout_s=1)) as again:
        assert again is first
        with pytest.raises(NodeError) as refused:  # the only connection is busy
            with pool.connection(adapter, settings, Limits(timeout_s=0.2)):
                pass
        assert refused.value.category == "TIMEOUT_ERROR"
    released = threading.Event()

    def hold():
        with pool.connection(adapter, settings, Limits(timeout_s=1)):
            released.wait(1)
            time.sleep(0.1)

    holder = threading.Thread(target=hold)
    holder.start()
    released.set()
    with pool.connection(adapter, settings, Limits(timeout_s=2)) as waited:  # handed over on return
        assert waited is first
    holder.join()
    assert len(adapter.made) == 1


def test_unhealthy_idle_connections_are_replaced_and_broken_ones_dropped():
    pool, adapter = ConnectionPool(health_check_after_s=0), Counting()
    settings = _settings()
    with pool.connection(adapter, settings, Limits()) as first:
        first.healthy = False
    with pool.connection(adapter, settings, Limits()) as second:
        assert second is not first and first.closed
    with pytest.raises(NodeError):
        with pool.connection(adapter, settings, Limits()):
            raise NodeError("CONNECTION_ERROR", "reset by peer")
    assert pool.idle_count() == 0 and all(c.closed for c in adapter.made)


def test_rotation_and_close_all_close_every_connection():
    pool, adapter = ConnectionPool(), Counting()
    with pool.connection(adapter, _settings(), Limits()) as old:
        with pool.connection(adapter, _settings(password_rotated="new-secret-1"), Limits()) as new:
            assert new is not old
        assert not old.closed  # busy: closed when it comes back
    assert old.closed and not new.closed
    assert pool.close_all() == 1 and new.closed


def test_a_forked_worker_closes_its_pool_on_exit(tmp_path):
    # The child's pooled connection writes a marker when the exiting process closes it.
    marker = tmp_path / "closed"

    def child():
        from connectors.adapters import pool as pool_module

        class Marking(Counting):
            def close(self, connection):
                marker.write_text("closed")

        pool_module.close_when_worker_exits()
        with pool_module.pool.connection(Marking(), _settings(), Limits()):
            pass

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(10)
    assert process.exitcode == 0 and marker.read_text() == "closed"
