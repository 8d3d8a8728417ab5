"""Shared by the trigger tests: a two-node workflow (a trigger, then a transform) and its
activation through the API."""

from __future__ import annotations


def trigger_workflow(
    api, trigger: dict, transform: dict, *, settings=None, variables=None, name="flow", extra_nodes=()
) -> str:
    """Create `trigger` → `shape` (a data.transform setting `transform`, input dropped); its id."""
    doc = {
        "schema": "switchyard.workflow/1",
        "name": name,
        "settings": settings or {},
        "variables": variables or {},
        "nodes": [
            trigger,
            {"id": "shape", "type": "data.transform", "config": {"set": transform, "keep_input": False}},
            *extra_nodes,
        ],
        "edges": [{"source": trigger["id"], "target": "shape"}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def activate_ok(api, wid) -> dict:
    """Activate through the API and return the workflow as it answers (status active)."""
    res = api.post(f"/api/v1/workflows/{wid}/activate", {}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "active"
    return body


def hook_path(body: dict, node_type: str) -> str:
    """The path of the first trigger of `node_type` in an activated workflow's `triggers`."""
    trigger = next(t for t in body["triggers"] if t["type"] == node_type)
    assert trigger["url"].startswith("http://testserver/hooks/")
    return trigger["url"].split("testserver", 1)[1]
