"""A schedule trigger firing by itself inside a real `serve` (timekeeper + workers)."""

from datetime import datetime

import pytest

pytestmark = pytest.mark.slow


def test_a_seconds_schedule_fires_repeatedly_and_its_runs_complete(server):
    wid = server.create_workflow(
        [
            {
                "id": "clock",
                "type": "trigger.schedule",
                "config": {"cron": "* * * * * */2", "timezone": "Asia/Kolkata"},
            },
            {
                "id": "stamp",
                "type": "data.transform",
                "config": {"set": {"fired_for": "{{ input.scheduled_at }}"}, "keep_input": False},
            },
        ],
        [{"source": "clock", "target": "stamp"}],
        name="every two seconds",
    )
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/activate", {})
    assert code == 200, body
    [trigger] = body["triggers"]
    assert len(trigger["next_runs"]) == 5 and all(r.endswith("+05:30") for r in trigger["next_runs"])

    def two_completed():
        runs = server.call("GET", f"/api/v1/workflows/{wid}/runs?status=completed")[1]["results"]
        return runs if len(runs) >= 2 else None

    runs = server.wait_for(two_completed, timeout_s=60, interval_s=0.5)
    code, body = server.call("POST", f"/api/v1/workflows/{wid}/deactivate", {})
    assert code == 200 and body["triggers"] == []

    slots = sorted(datetime.fromisoformat(r["input"]["scheduled_at"]) for r in runs)
    assert len(set(slots)) == len(slots)  # one run per slot
    assert all(
        s.second % 2 == 0 and s.microsecond == 0 and s.utcoffset().total_seconds() == 5.5 * 3600
        for s in slots
    )
    for r in runs:
        assert r["mode"] == "live" and r["trigger_type"] == "trigger.schedule"
        assert r["output"] == {"fired_for": r["input"]["scheduled_at"]}
