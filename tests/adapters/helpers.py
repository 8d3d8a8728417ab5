"""Run adapter node types inside real workflows through the API."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    """A name no parallel test run uses (tables, queues, topics, buckets)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def make_credential(api, name: str, data: dict) -> dict:
    res = api.post("/api/v1/credentials/", {"name": name, "kind": "custom", "data": data}, format="json")
    assert res.status_code == 201, res.content
    return res.json()


def run_nodes(api, nodes: list[dict], input=None, *, chain: bool = True) -> dict:
    """Create a workflow trigger → nodes (in a chain) and execute it, waiting for the end."""
    doc = {
        "schema": "switchyard.workflow/1",
        "name": unique("adapter"),
        "nodes": [{"id": "start", "type": "trigger.manual"}, *nodes],
        "edges": [],
    }
    previous = "start"
    for node in nodes:
        doc["edges"].append({"source": previous if chain else "start", "target": node["id"]})
        previous = node["id"]
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    res = api.post(
        f"/api/v1/workflows/{res.json()['id']}/execute",
        {"input": input or {}, "wait": True, "timeout_s": 60},
        format="json",
    )
    assert res.status_code == 200, res.content
    return res.json()


def node_of(run: dict, node_id: str) -> dict:
    return next(n for n in run["nodes"] if n["node_id"] == node_id)


def logs_of(api, run: dict, node_id: str) -> list[dict]:
    res = api.get(f"/api/v1/runs/{run['id']}/logs?node={node_id}")
    assert res.status_code == 200, res.content
    body = res.json()
    return body["results"] if isinstance(body, dict) else body
