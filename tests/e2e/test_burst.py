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


def test_concurrent_burst_loses_nothing(server):
    wid = server.create_workflow(
        [{"id": "start", "type": "trigger.manual"},
         {"id": "a", "type": "data.transform", "config": {"set": {"a": "{{ input.i + 1 }}"}}},
         {"id": "b", "type": "data.transform", "config": {"set": {"b": "{{ input.a * 2 }}"}}}],
        [{"source": "start", "target": "a"}, {"source": "a", "target": "b"}])
    codes, lock, todo = [], threading.Lock(), list(range(BURST))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            req = urllib.request.Request(f"{server.base}/api/v1/workflows/{wid}/execute", method="POST",
                                         data=json.dumps({"input": {"i": i}}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Token {server.token}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    code = resp.status
            except urllib.error.HTTPError as err:
                code = err.code
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(202) == BURST, {c: codes.count(c) for c in set(codes)}

    def all_done():
        _, body = server.call("GET", f"/api/v1/workflows/{wid}/runs?status=completed")
        return body["count"] == BURST
    server.wait_for(all_done, timeout_s=120, interval_s=0.5)
    _, failed = server.call("GET", f"/api/v1/workflows/{wid}/runs?status=failed,cancelled")
    assert failed["count"] == 0
