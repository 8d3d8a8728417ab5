"""`trigger.queue` against real processes: the listener is killed with SIGKILL in the middle of
a burst, started again, and every message still ends up as exactly one run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis

from .server import ROOT, drop_server, make_server

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/6"
MESSAGES = 40


@pytest.fixture
def server(tmp_path):
    srv = make_server(tmp_path)
    srv.start(serve_args=["--no-queues"])
    yield srv
    drop_server(srv)


def _listener(srv) -> subprocess.Popen:
    log = open(srv.state_dir / f"queues-{time.time_ns()}.log", "w")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "queue_triggers", "--poll", "0.5"],
        env=srv.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_no_message_is_lost_or_run_twice_when_the_listener_is_killed(server):
    srv = server
    stream = f"orders_{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(REDIS_URL)
    code, body = srv.call(
        "POST", "/api/v1/credentials/", {"name": "broker", "kind": "custom", "data": {"url": REDIS_URL}}
    )
    assert code == 201, body
    workflow_id = srv.create_workflow(
        [
            {
                "id": "inbox",
                "type": "trigger.queue",
                "config": {"credential": "broker", "destination": stream},
            },
            {"id": "keep", "type": "data.transform", "config": {"set": {"n": "{{ input.message.n }}"}}},
        ],
        [{"source": "inbox", "target": "keep"}],
    )
    code, body = srv.call("POST", f"/api/v1/workflows/{workflow_id}/activate")
    assert code == 200, body
    for n in range(MESSAGES):
        client.xadd(stream, {"message": f'{{"n": {n}}}'})

    def stored() -> int:
        # SQLite keeps UUIDs as bare hex, PostgreSQL as uuid: match either spelling.
        query = "SELECT count(*) FROM runs_workflowrun WHERE CAST(workflow_id AS TEXT) IN (?, ?)"
        return srv.sql(query, (workflow_id, workflow_id.replace("-", "")))[0][0]

    first = _listener(srv)
    try:
        srv.wait_for(lambda: stored() >= 5, timeout_s=60, interval_s=0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = stored()
        assert at_kill < MESSAGES, "the burst finished before the kill; nothing was tested"
        second = _listener(srv)
        try:
            srv.wait_for(lambda: stored() >= MESSAGES, timeout_s=120, interval_s=0.2)
            time.sleep(2)  # anything still pending would show up as a duplicate now
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        client.delete(stream)
    assert stored() == MESSAGES
    seen = []
    page = 1
    while True:
        code, body = srv.call("GET", f"/api/v1/workflows/{workflow_id}/runs?page={page}")
        assert code == 200, body
        seen += [r["input"]["message"]["n"] for r in body["results"]]
        if not body.get("next"):
            break
        page += 1
    assert sorted(seen) == list(range(MESSAGES))
