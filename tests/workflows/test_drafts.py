"""Drafts (SPEC §6 GET/PUT /workflows/{id}/draft) and the version history the builder shows."""

import copy

import pytest

from workflows.models import Membership, Role, WorkflowDraft

pytestmark = pytest.mark.django_db


@pytest.fixture
def wf(api, sample_document):
    res = api.post("/api/v1/workflows/", sample_document, format="json")
    assert res.status_code == 201
    return res.json()


def draft_url(wf):
    return f"/api/v1/workflows/{wf['id']}/draft"


def test_without_a_draft_get_answers_the_latest_version(api, wf):
    body = api.get(draft_url(wf)).json()
    assert body["updated_at"] is None and body["base_version"] == 1
    assert [n["id"] for n in body["document"]["nodes"]] == ["start", "check", "big", "small"]
    assert body["errors"] == []


def test_an_invalid_draft_is_stored_and_answered_with_its_errors(api, wf, sample_document):
    doc = copy.deepcopy(sample_document)
    doc["nodes"].append({"id": "bad", "type": "no.such.type"})
    doc["edges"].append({"source": "check", "target": "ghost"})
    res = api.put(draft_url(wf), {"document": doc, "base_version": 1}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["document"] == doc and body["base_version"] == 1 and body["updated_at"]
    fields = {(e["node"], e["field"]) for e in body["errors"]}
    assert ("bad", "type") in fields
    assert any(e["edge"] == 3 and e["field"] == "target" for e in body["errors"])
    again = api.get(draft_url(wf)).json()
    assert again["document"] == doc and again["errors"] == body["errors"]
    # the workflow itself is untouched
    assert len(api.get(f"/api/v1/workflows/{wf['id']}").json()["nodes"]) == 4


def test_the_document_itself_is_accepted_as_the_body(api, wf, sample_document):
    doc = dict(copy.deepcopy(sample_document), name="Renamed in a draft", base_version=1)
    body = api.put(draft_url(wf), doc, format="json").json()
    assert body["document"]["name"] == "Renamed in a draft" and "base_version" not in body["document"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"document": {"edges": []}}, "nodes"),
        ({"document": {"nodes": {}, "edges": []}}, "nodes"),
        ({"document": {"nodes": [], "edges": [], "variables": []}}, "variables"),
        ({"document": {"nodes": [], "edges": []}, "base_version": "one"}, "base_version"),
        ([1, 2], "non_field_errors"),
    ],
)
def test_a_body_without_the_document_shape_is_a_400_naming_the_field(api, wf, payload, field):
    res = api.put(draft_url(wf), payload, format="json")
    assert res.status_code == 400
    err = res.json()["error"]
    assert err["code"] == "VALIDATION_ERROR" and field in err["details"]
    assert not WorkflowDraft.objects.exists()


def test_a_draft_based_on_an_older_version_is_a_409_conflict(api, wf, sample_document):
    assert (
        api.put(draft_url(wf), {"document": sample_document, "base_version": 1}, format="json").status_code
        == 200
    )
    newer = dict(copy.deepcopy(sample_document), name="Saved elsewhere")
    assert api.put(f"/api/v1/workflows/{wf['id']}", newer, format="json").json()["version"] == 2
    stale = dict(copy.deepcopy(sample_document), name="Stale tab")
    res = api.put(draft_url(wf), {"document": stale, "base_version": 1}, format="json")
    assert res.status_code == 409
    err = res.json()["error"]
    assert err["code"] == "CONFLICT" and err["details"] == {"base_version": 1, "latest_version": 2}
    assert api.get(draft_url(wf)).json()["document"]["name"] == "Saved elsewhere"
    fresh = api.put(draft_url(wf), {"document": stale, "base_version": 2}, format="json")
    assert fresh.status_code == 200 and fresh.json()["base_version"] == 2


def test_a_valid_put_of_the_workflow_makes_a_version_and_clears_the_draft(api, wf, sample_document):
    doc = dict(copy.deepcopy(sample_document), name="Next")
    api.put(draft_url(wf), {"document": doc, "base_version": 1}, format="json")
    assert WorkflowDraft.objects.count() == 1
    res = api.put(f"/api/v1/workflows/{wf['id']}", doc, format="json")
    assert res.status_code == 200 and res.json()["version"] == 2
    assert WorkflowDraft.objects.count() == 0
    body = api.get(draft_url(wf)).json()
    assert body["updated_at"] is None and body["base_version"] == 2 and body["document"]["name"] == "Next"


def test_an_invalid_put_of_the_workflow_keeps_the_draft(api, wf, sample_document):
    doc = copy.deepcopy(sample_document)
    doc["nodes"][1]["type"] = "nope"
    api.put(draft_url(wf), {"document": doc, "base_version": 1}, format="json")
    assert api.put(f"/api/v1/workflows/{wf['id']}", doc, format="json").status_code == 400
    assert WorkflowDraft.objects.count() == 1


def test_drafts_follow_workspace_rules(api, bob, bob_api, alice, wf, sample_document):
    assert bob_api.get(draft_url(wf)).status_code == 404
    assert bob_api.put(draft_url(wf), {"document": sample_document}, format="json").status_code == 404
    Membership.objects.create(workspace_id=wf["workspace"], user=bob, role=Role.VIEWER)
    assert bob_api.get(draft_url(wf)).status_code == 200
    res = bob_api.put(draft_url(wf), {"document": sample_document}, format="json")
    assert res.status_code == 403 and not WorkflowDraft.objects.exists()


def test_version_list_says_who_when_and_what_changed(api, wf, sample_document, alice):
    doc = copy.deepcopy(sample_document)
    doc["nodes"].append({"id": "extra", "type": "data.transform", "config": {"set": {"x": 1}}})
    doc["edges"].append({"source": "big", "target": "extra"})
    api.put(f"/api/v1/workflows/{wf['id']}", doc, format="json")
    body = api.get(f"/api/v1/workflows/{wf['id']}/versions").json()
    assert [r["number"] for r in body["results"]] == [2, 1]
    latest, first = body["results"]
    assert latest["created_by"] == alice.username and latest["created_at"]
    assert "added extra" in latest["changes"] and "edges 3 → 4" in latest["changes"]
    assert first["changes"] == ["created with 4 nodes"]
    old = api.get(f"/api/v1/workflows/{wf['id']}/versions/1").json()
    assert old["number"] == 1 and len(old["document"]["nodes"]) == 4
    missing = api.get(f"/api/v1/workflows/{wf['id']}/versions/9")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
