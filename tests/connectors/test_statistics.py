"""Connector statistics stay exact when many executions finish at the same time."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from connectors.models import Connector, ConnectorExecution
from connectors.services import execute_connector

from .factories import make_connector, workspace_of

PARALLEL = 20


@pytest.mark.usefixtures("private_outbound")
def test_statistics_are_exact_under_20_parallel_executions(transactional_db, api_server):
    from tests.conftest import make_user

    api_server.route("GET", "/ok", (200, {"ok": True}))
    api_server.route("GET", "/fail", (400, {"ok": False}))
    connector = make_connector(workspace_of(make_user("carol")), {"url": api_server.url("/{{ input.path }}")})
    start = threading.Barrier(PARALLEL)
    problems: list[BaseException] = []

    def execute(index: int) -> None:
        try:
            start.wait()
            execute_connector(connector=connector, input={"path": "fail" if index % 4 == 0 else "ok"})
        except BaseException as exc:  # reported below: a thread's assertion would vanish
            problems.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=execute, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not problems, problems
    connector = Connector.objects.get(pk=connector.pk)
    executions = list(ConnectorExecution.objects.filter(connector=connector))
    failures = PARALLEL // 4
    assert len(executions) == PARALLEL
    assert connector.total_executions == PARALLEL
    assert connector.successful_executions == PARALLEL - failures
    assert connector.failed_executions == failures
    assert connector.total_duration_ms == sum(e.execution_time_ms for e in executions)
    assert connector.last_executed_at is not None
    assert (
        sorted(e.status for e in executions) == ["completed"] * (PARALLEL - failures) + ["failed"] * failures
    )
