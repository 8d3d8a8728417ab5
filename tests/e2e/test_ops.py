"""Operations endpoints and logs against a real `serve`: /healthz, /readyz (503 naming what is
down), Prometheus /metrics summed over the web and worker processes, LOG_FORMAT=json."""

import json
import re
import urllib.error
import urllib.request

import pytest

from .server import drop_server, free_port, make_server

pytestmark = pytest.mark.slow


def get(url: str, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory):
    srv = make_server(tmp_path_factory.mktemp("ops"), LOG_FORMAT="json", LOG_LEVEL="INFO")
    srv.start()
    yield srv
    drop_server(srv)


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_healthz_and_readyz(ops_server):
    code, ctype, body = get(ops_server.base + "/healthz")
    assert (code, json.loads(body)) == (200, {"status": "ok"}) and ctype.startswith("application/json")
    code, _, body = get(ops_server.base + "/readyz")
    answer = json.loads(body)
    assert code == 200, answer
    assert answer["status"] == "ready"
    assert {name for name, check in answer["checks"].items() if check["ok"]} == {
        "database",
        "broker",
        "channel_layer",
    }


def test_metrics_count_runs_nodes_and_webhook_answers_across_processes(ops_server):
    srv = ops_server
    wid = srv.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": "immediately"}},
            {"id": "shape", "type": "data.transform", "config": {"set": {"ok": True}}},
        ],
        [{"source": "hook", "target": "shape"}],
    )
    code, body = srv.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    url = body["triggers"][0]["url"]
    run_ids = []
    for _ in range(3):  # answered by the web process, executed by the workers
        req = urllib.request.Request(
            url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 202
            run_ids.append(json.loads(resp.read())["run_id"])
    bad = urllib.request.Request(url, data=b"{", method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad, timeout=30)
    assert err.value.code == 400
    for run_id in run_ids:
        srv.wait_for(lambda r=run_id: srv.run(r)["status"] == "completed")
    code, ctype, text = get(srv.base + "/metrics")
    assert code == 200 and ctype.startswith("text/plain"), text[:300]
    assert sample(text, "switchyard_runs_started_total", trigger_type="trigger.webhook", mode="live") >= 3
    assert sample(text, "switchyard_runs_finished_total", status="completed") >= 3
    assert sample(text, "switchyard_node_duration_seconds_count", node_type="data.transform") >= 3
    assert sample(text, "switchyard_webhook_responses_total", code="202") >= 3
    assert sample(text, "switchyard_webhook_responses_total", code="400") >= 1
    assert "switchyard_queue_depth{" in text and "switchyard_runs_active{" in text
    assert "switchyard_lease_takeovers_total" in text


def test_json_logs_carry_run_and_node_ids(ops_server):
    srv = ops_server
    wid = srv.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "talk", "type": "data.code", "config": {"code": "print('hello')\nresult = {'ok': True}"}},
        ],
        [{"source": "start", "target": "talk"}],
    )
    run_id = srv.execute(wid)
    srv.wait_for(lambda: srv.run(run_id)["status"] == "completed")
    logs = srv.call("GET", f"/api/v1/runs/{run_id}/logs")[1]
    assert logs, "the run wrote no log entries"
    lines = []
    for line in srv.log_path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    assert lines, "no JSON log lines"
    assert all({"ts", "level", "logger", "message"} <= set(entry) for entry in lines)
    mine = [entry for entry in lines if entry.get("run_id") == run_id]
    assert mine, f"no log line carries run {run_id}"
    assert any(entry.get("node_id") == "talk" for entry in mine), mine


def test_readyz_names_what_is_down(tmp_path):
    srv = make_server(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/4")
    try:
        srv.start(serve_args=["--no-workers", "--web", "1"])
        code, ctype, body = get(srv.base + "/readyz")
        answer = json.loads(body)
        assert code == 503 and ctype.startswith("application/json"), answer
        error = answer["error"]
        assert error["code"] == "NOT_READY"
        assert "broker" in error["message"] and "channel_layer" in error["message"]
        checks = error["details"]["checks"]
        assert checks["database"]["ok"] and not checks["broker"]["ok"] and not checks["channel_layer"]["ok"]
        assert get(srv.base + "/healthz")[0] == 200
    finally:
        drop_server(srv)
