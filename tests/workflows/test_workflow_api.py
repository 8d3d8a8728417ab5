"""Workflow CRUD in the interchange format, import/export round-trip, JSON errors."""

import copy

import pytest

from workflows.engine.document import normalize
from workflows.models import Edge, Node, WorkflowVersion

pytestmark = pytest.mark.django_db


def create(api, doc):
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()


def test_create_returns_201_with_id_status_and_document(api, sample_document):
    body = create(api, sample_document)
    assert body["id"] and body["status"] == "inactive" and body["triggers"] == []
    assert [n["id"] for n in body["nodes"]] == ["start", "check", "big", "small"]
    assert body["settings"] == {"timeout_s": 300, "max_runs_per_day": None}


def test_create_writes_node_edge_rows_and_a_first_version(api, sample_document):
    body = create(api, sample_document)
    assert Node.objects.filter(workflow_id=body["id"]).count() == 4
    assert list(Edge.objects.filter(workflow_id=body["id"]).values_list("source", "target")) == [
        ("start", "check"),
        ("check", "big"),
        ("check", "small"),
    ]
    assert WorkflowVersion.objects.filter(workflow_id=body["id"]).count() == 1


def test_export_of_import_round_trips_to_equal_document(api, sample_document):
    res = api.post("/api/v1/workflows/import", sample_document, format="json")
    assert res.status_code == 201
    exported = api.get(f"/api/v1/workflows/{res.json()['id']}/export").json()
    assert exported == normalize(sample_document)
    again = api.post("/api/v1/workflows/import", exported, format="json").json()
    assert api.get(f"/api/v1/workflows/{again['id']}/export").json() == exported


def test_minimal_document_gets_defaults_written_out(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "nodes": [{"id": "start", "type": "trigger.manual"}],
        "edges": [],
    }
    exported = api.get(f"/api/v1/workflows/{create(api, doc)['id']}/export").json()
    assert exported["name"] == "" and exported["description"] == "" and exported["variables"] == {}
    assert exported["settings"] == {"timeout_s": 300, "max_runs_per_day": None}
    assert exported["nodes"][0]["config"] == {}
    assert exported["nodes"][0]["retry"]["max_attempts"] == 1


def test_every_path_works_with_and_without_trailing_slash(api, sample_document):
    wid = create(api, sample_document)["id"]
    for path in (
        f"/api/v1/workflows/{wid}",
        f"/api/v1/workflows/{wid}/",
        "/api/v1/workflows",
        f"/api/v1/workflows/{wid}/export/",
        "/api/v1/node-types/",
        "/api/v1/node-types",
    ):
        assert api.get(path).status_code == 200, path


def test_put_replaces_document_and_adds_a_version(api, sample_document):
    wid = create(api, sample_document)["id"]
    doc = copy.deepcopy(sample_document)
    doc["name"] = "Renamed"
    doc["nodes"] = doc["nodes"][:2]
    doc["edges"] = doc["edges"][:1]
    res = api.put(f"/api/v1/workflows/{wid}/", doc, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["name"] == "Renamed" and res.json()["version"] == 2
    assert Node.objects.filter(workflow_id=wid).count() == 2
    assert WorkflowVersion.objects.get(workflow_id=wid, number=1).document["name"] == "Order triage"


def test_put_of_unchanged_document_adds_no_version(api, sample_document):
    wid = create(api, sample_document)["id"]
    api.put(f"/api/v1/workflows/{wid}/", sample_document, format="json")
    assert WorkflowVersion.objects.filter(workflow_id=wid).count() == 1


def test_patch_changes_only_given_fields(api, sample_document):
    wid = create(api, sample_document)["id"]
    res = api.patch(f"/api/v1/workflows/{wid}", {"variables": {"threshold": 5}}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["variables"] == {"threshold": 5} and len(res.json()["nodes"]) == 4


def test_delete_removes_workflow(api, sample_document):
    wid = create(api, sample_document)["id"]
    assert api.delete(f"/api/v1/workflows/{wid}/").status_code == 204
    assert api.get(f"/api/v1/workflows/{wid}/").status_code == 404


@pytest.mark.usefixtures("inline_queue")
def test_delete_of_a_workflow_that_has_run_removes_it_with_its_history(api, sample_document):
    from runs.models import NodeExecution, WorkflowRun

    wid = create(api, sample_document)["id"]
    res = api.post(f"/api/v1/workflows/{wid}/execute", {"input": {"amount": 5}, "wait": True}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "completed", res.content
    assert api.delete(f"/api/v1/workflows/{wid}/").status_code == 204
    assert api.get(f"/api/v1/workflows/{wid}/").status_code == 404
    assert not WorkflowRun.objects.filter(workflow_id=wid).exists()
    assert not NodeExecution.objects.exists() and not WorkflowVersion.objects.filter(workflow_id=wid).exists()


def test_version_a_run_pins_cannot_be_deleted_on_its_own(api, sample_document):
    from django.db.models import RestrictedError

    from runs.services import start_run
    from workflows.models import Workflow

    wid = create(api, sample_document)["id"]
    run = start_run(workflow=Workflow.objects.get(pk=wid), input={}, enqueue=False)
    with pytest.raises(RestrictedError):
        run.version.delete()


def test_list_paginates_with_count_next_results(api, sample_document):
    for i in range(3):
        create(api, dict(sample_document, name=f"wf {i}"))
    body = api.get("/api/v1/workflows/?page=1").json()
    assert body["count"] == 3 and "next" in body and len(body["results"]) == 3


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["nodes"].append({"id": "x", "type": "no.such"}), {"node": "x", "field": "type"}),
        (
            lambda d: d["nodes"].append({"id": "big", "type": "data.transform"}),
            {"node": "big", "field": "id"},
        ),
        (lambda d: d["nodes"].append({"id": "Bad-Id", "type": "data.transform"}), {"field": "id"}),
        (lambda d: d["edges"].append({"source": "big", "target": "ghost"}), {"edge": 3, "field": "target"}),
        (
            lambda d: d["edges"].append({"source": "big", "target": "check"}),
            {"node": "check", "field": "edges"},
        ),
        (
            lambda d: d["nodes"][2]["config"]["set"].update(x="{{ input.a + }}"),
            {"node": "big", "field": "config.set.x"},
        ),
    ],
)
def test_invalid_document_is_refused_whole_with_400_naming_the_problem(
    api, sample_document, mutate, expected
):
    mutate(sample_document)
    res = api.post("/api/v1/workflows/", sample_document, format="json")
    assert res.status_code == 400, res.content
    body = res.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    errors = body["error"]["details"]["errors"]
    assert any(all(e.get(k) == v for k, v in expected.items()) for e in errors), errors
    assert api.get("/api/v1/workflows/").json()["count"] == 0


def test_invalid_update_keeps_the_stored_document(api, sample_document):
    wid = create(api, sample_document)["id"]
    bad = copy.deepcopy(sample_document)
    bad["edges"].append({"source": "big", "target": "ghost"})
    assert api.put(f"/api/v1/workflows/{wid}/", bad, format="json").status_code == 400
    assert api.get(f"/api/v1/workflows/{wid}/export").json() == normalize(sample_document)


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"a string"'])
def test_malformed_bodies_get_json_400_not_500(api, body):
    res = api.post("/api/v1/workflows/", body, content_type="application/json")
    assert res.status_code == 400
    assert "error" in res.json() and res.json()["error"]["code"] in ("VALIDATION_ERROR", "PARSE_ERROR")


def test_unknown_api_path_is_a_json_404(api):
    res = api.get("/api/v1/nothing-here/")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "NOT_FOUND"


def test_unauthenticated_request_gets_json_401(client):
    res = client.get("/api/v1/workflows/")
    assert res.status_code in (401, 403)
    assert res.json()["error"]["code"] in ("NOT_AUTHENTICATED", "AUTHENTICATION_FAILED")


def test_node_types_lists_the_palette_with_schemas(api):
    body = api.get("/api/v1/node-types").json()
    types = {t["type"]: t for t in body["results"]}
    for name in (
        "trigger.manual",
        "data.transform",
        "data.code",
        "logic.if",
        "logic.switch",
        "logic.split",
        "logic.merge",
        "logic.filter",
        "logic.loop",
        "logic.wait",
        "http.request",
        "flow.subworkflow",
    ):
        assert name in types, name
        assert types[name]["config_schema"]["type"] == "object"
    assert "true" in types["logic.if"]["handles"] and "false" in types["logic.if"]["handles"]


def test_openapi_schema_and_docs_are_served(api):
    assert api.get("/api/schema/").status_code == 200
    assert api.get("/api/docs/").status_code == 200


def test_node_types_describe_dynamic_handles_as_the_engine_reads_them(api):
    """The builder draws a switch's and a split's handles from `handles_from`, the rule the
    engine itself uses: the same names in the same order for any config."""
    from workflows.engine.registry import registry

    types = {t["type"]: t for t in api.get("/api/v1/node-types").json()["results"]}
    switch = types["logic.switch"]
    assert switch["dynamic_handles"] is True
    assert switch["handles_from"] == {
        "lists": [{"path": "cases", "key": "handle"}],
        "fields": ["default_handle"],
    }
    assert types["logic.split"]["handles_from"] == {
        "lists": [{"path": "branches", "key": "handle"}],
        "fields": [],
    }
    assert types["logic.if"]["handles_from"] is None

    def drawn(entry, config):  # what a client following handles_from draws
        names = [i.get(r["key"]) for r in entry["handles_from"]["lists"] for i in config.get(r["path"], [])]
        names += [config.get(f) for f in entry["handles_from"]["fields"]]
        return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))

    config = {"cases": [{"handle": "vip"}, {"handle": "eu"}, {"handle": "vip"}], "default_handle": "rest"}
    assert drawn(switch, config) == ["vip", "eu", "rest"]
    assert registry.get("logic.switch").output_handles(config) == ["vip", "eu", "rest", "error"]
