"""A concurrent burst against a real `serve`: every accepted request becomes a stored run
and every run completes (nothing lost, no 500s, no stuck workers)."""

import json
import threading
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow

BURST = 240
CLIENTS = 16


def burst(url: str, body_of, headers: dict) -> list[tuple[int, int, object]]:
    """POST `body_of(i)` for i in range(BURST) from CLIENTS threads; [(i, status, JSON answer)]."""
    answers, lock, todo = [], threading.Lock(), list(range(BURST))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            req = urllib.request.Request(
                url,
                method="POST",
                data=json.dumps(body_of(i)).encode(),
                headers={"Content-Type": "application/json", **headers},
            )
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    answer = (i, resp.status, json.loads(resp.read()))
            except urllib.error.HTTPError as err:
                answer = (i, err.code, None)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def wait_all_completed(server, wid) -> None:
    def all_done():
        _, body = server.call("GET", f"/api/v1/workflows/{wid}/runs?status=completed")
        return body["count"] == BURST

    server.wait_for(all_done, timeout_s=120, interval_s=0.5)


def test_concurrent_burst_loses_nothing(server):
    wid = server.create_workflow(
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "a", "type": "data.transform", "config": {"set": {"a": "{{ input.i + 1 }}"}}},
            {"id": "b", "type": "data.transform", "config": {"set": {"b": "{{ input.a * 2 }}"}}},
        ],
        [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}],
    )
    answers = burst(
        f"{server.base}/api/v1/workflows/{wid}/execute",
        lambda i: {"input": {"i": i}},
        {"Authorization": f"Token {server.token}"},
    )
    codes = [code for _, code, _ in answers]
    assert codes.count(202) == BURST, {c: codes.count(c) for c in set(codes)}
    wait_all_completed(server, wid)
    _, failed = server.call("GET", f"/api/v1/workflows/{wid}/runs?status=failed,cancelled")
    assert failed["count"] == 0


@pytest.mark.parametrize("respond", ["on_completion", "immediately"])
def test_webhook_burst_every_2xx_is_a_stored_run(server, respond):
    """Concurrent webhooks: on_completion runs execute in the web processes, immediately
    runs go to the queue; either way every 2xx answer is a stored run that completes, and
    on_completion answers carry each request's own output."""
    wid = server.create_workflow(
        [
            {"id": "hook", "type": "trigger.webhook", "config": {"respond": respond}},
            {
                "id": "a",
                "type": "data.transform",
                "config": {"set": {"a": "{{ input.body.i + 1 }}"}, "keep_input": False},
            },
            {"id": "b", "type": "data.transform", "config": {"set": {"b": "{{ input.a * 2 }}"}}},
        ],
        [{"source": "hook", "target": "a"}, {"source": "a", "target": "b"}],
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    answers = burst(body["triggers"][0]["url"], lambda i: {"i": i}, {})
    expected = 200 if respond == "on_completion" else 202
    assert [code for _, code, _ in answers].count(expected) == BURST, {c for _, c, _ in answers}
    if respond == "on_completion":
        assert all(out == {"a": i + 1, "b": 2 * (i + 1)} for i, _, out in answers)
    _, runs = server.call("GET", f"/api/v1/workflows/{wid}/runs")
    assert runs["count"] == BURST  # every 2xx is a stored run, and nothing else was stored
    wait_all_completed(server, wid)
