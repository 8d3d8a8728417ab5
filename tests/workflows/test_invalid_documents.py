"""Every invalid-document rule of SPEC §2 is a 400 naming the node/edge and field, and
nothing is stored — on create, update and import."""

import copy

import pytest

pytestmark = pytest.mark.django_db

BASE = {
    "schema": "switchyard.workflow/1",
    "nodes": [
        {"id": "start", "type": "trigger.manual"},
        {"id": "t", "type": "data.transform", "config": {"set": {"a": 1}}},
    ],
    "edges": [{"source": "start", "target": "t"}],
}


def doc_with(mutate):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    return doc


CASES = {
    "wrong schema": (lambda d: d.update(schema="other/1"), {"field": "schema"}),
    "nodes not a list": (lambda d: d.update(nodes={}), {"field": "nodes"}),
    "missing type": (lambda d: d["nodes"][1].pop("type"), {"node": "t", "field": "type"}),
    "unknown type": (lambda d: d["nodes"][1].update(type="x.y"), {"node": "t", "field": "type"}),
    "duplicate id": (
        lambda d: d["nodes"].append({"id": "t", "type": "data.transform"}),
        {"node": "t", "field": "id"},
    ),
    "bad id": (lambda d: d["nodes"].append({"id": "9x", "type": "data.transform"}), {"field": "id"}),
    "dangling source": (
        lambda d: d["edges"].append({"source": "ghost", "target": "t"}),
        {"edge": 1, "field": "source"},
    ),
    "dangling target": (
        lambda d: d["edges"].append({"source": "t", "target": "ghost"}),
        {"edge": 1, "field": "target"},
    ),
    "cycle": (
        lambda d: (
            d["nodes"].append({"id": "u", "type": "data.transform"}),
            d["edges"].extend([{"source": "t", "target": "u"}, {"source": "u", "target": "t"}]),
        ),
        {"node": "u", "field": "edges"},
    ),
    "bad config for the type": (
        lambda d: d["nodes"][1]["config"].update(keep_input="yes"),
        {"node": "t", "field": "config.keep_input"},
    ),
    "bad template syntax": (
        lambda d: d["nodes"][1]["config"]["set"].update(b="{{ input. }}"),
        {"node": "t", "field": "config.set.b"},
    ),
    "bad mapping template": (
        lambda d: d["edges"][0].update(mapping={"x": "{{ source.a +* 2 }}"}),
        {"edge": 0, "field": "mapping.x"},
    ),
    "unknown handle": (
        lambda d: d["edges"][0].update(source_handle="nope"),
        {"edge": 0, "field": "source_handle"},
    ),
    "bad retry backoff": (
        lambda d: d["nodes"][1].update(retry={"max_attempts": 2, "backoff": "sometimes"}),
        {"node": "t", "field": "retry.backoff"},
    ),
    "bad on_error": (lambda d: d["nodes"][1].update(on_error="explode"), {"node": "t", "field": "on_error"}),
    "bad condition op": (
        lambda d: d["nodes"].append(
            {"id": "c", "type": "logic.if", "config": {"condition": {"left": 1, "op": "bigger", "right": 2}}}
        ),
        {"node": "c", "field": "config.condition.op"},
    ),
    "python syntax error in code": (
        lambda d: d["nodes"].append({"id": "py", "type": "data.code", "config": {"code": "result = (1"}}),
        {"node": "py", "field": "config.code"},
    ),
}


def matches(expected, errors):
    return any(all(e.get(k) == v for k, v in expected.items()) for e in errors)


@pytest.mark.parametrize("name", list(CASES))
def test_create_refuses_invalid_document_naming_node_and_field(api, name):
    mutate, expected = CASES[name]
    res = api.post("/api/v1/workflows/", doc_with(mutate), format="json")
    assert res.status_code == 400, res.content
    body = res.json()["error"]
    assert body["code"] == "VALIDATION_ERROR"
    assert matches(expected, body["details"]["errors"]), body["details"]["errors"]
    assert all(set(e) == {"node", "edge", "field", "message"} for e in body["details"]["errors"])
    assert api.get("/api/v1/workflows/").json()["count"] == 0


@pytest.mark.parametrize("name", ["unknown type", "cycle", "bad template syntax"])
def test_import_and_update_refuse_the_same_documents(api, name):
    mutate, expected = CASES[name]
    assert api.post("/api/v1/workflows/import", doc_with(mutate), format="json").status_code == 400
    wid = api.post("/api/v1/workflows/", BASE, format="json").json()["id"]
    res = api.put(f"/api/v1/workflows/{wid}", doc_with(mutate), format="json")
    assert res.status_code == 400 and matches(expected, res.json()["error"]["details"]["errors"])
    assert api.get(f"/api/v1/workflows/{wid}").json()["version"] == 1


def test_all_problems_are_reported_at_once(api):
    doc = doc_with(
        lambda d: (
            d["nodes"].append({"id": "x", "type": "no.type"}),
            d["edges"].append({"source": "t", "target": "ghost"}),
        )
    )
    errors = api.post("/api/v1/workflows/", doc, format="json").json()["error"]["details"]["errors"]
    assert matches({"node": "x", "field": "type"}, errors) and matches({"edge": 1, "field": "target"}, errors)
