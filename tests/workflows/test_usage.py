"""Daily usage in the workflow representation, and the run list's mode filter."""

import pytest

from runs.models import WorkflowRun

pytestmark = pytest.mark.usefixtures("inline_queue")


def create(api, document, **settings):
    document["settings"] = {**document.get("settings", {}), **settings}
    res = api.post("/api/v1/workflows/", document, format="json")
    assert res.status_code == 201, res.content
    return res.json()


def execute(api, wid, mode, **input):
    res = api.post(f"/api/v1/workflows/{wid}/execute", {"input": input, "mode": mode}, format="json")
    assert res.status_code == 202, res.content
    return res.json()["run_id"]


def test_usage_counts_todays_runs_against_the_daily_limit(api, sample_document):
    body = create(api, sample_document, max_runs_per_day=10)
    assert body["usage"] == {"runs_today": 0, "max_runs_per_day": 10}
    wid = body["id"]
    api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    execute(api, wid, "test", amount=5)
    execute(api, wid, "live", amount=500)
    assert api.get(f"/api/v1/workflows/{wid}").json()["usage"] == {"runs_today": 2, "max_runs_per_day": 10}
    listed = api.get("/api/v1/workflows/").json()["results"]
    assert [w["usage"] for w in listed if w["id"] == wid] == [{"runs_today": 2, "max_runs_per_day": 10}]


def test_usage_without_a_limit_says_null(api, sample_document):
    body = create(api, sample_document)
    assert body["usage"] == {"runs_today": 0, "max_runs_per_day": None}


def test_run_list_filters_by_mode(api, sample_document):
    wid = create(api, sample_document)["id"]
    api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    test_ids = {execute(api, wid, "test", amount=1), execute(api, wid, "test", amount=2)}
    live_id = execute(api, wid, "live", amount=300)
    tests = api.get(f"/api/v1/workflows/{wid}/runs?mode=test").json()
    live = api.get(f"/api/v1/workflows/{wid}/runs?mode=live").json()
    assert tests["count"] == 2 and {r["id"] for r in tests["results"]} == test_ids
    assert all(r["mode"] == "test" for r in tests["results"])
    assert live["count"] == 1 and live["results"][0]["id"] == live_id
    assert api.get(f"/api/v1/workflows/{wid}/runs").json()["count"] == 3
    assert WorkflowRun.objects.filter(workflow_id=wid, mode="test").count() == 2


def test_an_unknown_mode_is_a_clear_400(api, sample_document):
    wid = create(api, sample_document)["id"]
    res = api.get(f"/api/v1/workflows/{wid}/runs?mode=dry")
    assert res.status_code == 400
    error = res.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and "mode" in error["details"]
