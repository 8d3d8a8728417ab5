"""trigger.contact and /api/v1/contacts/: a contact created or updated (by any path) starts
the workspace's matching active workflows, with what changed."""

import pytest
from django.db import transaction

from connectors.models import Contact
from runs.models import WorkflowRun
from tests.triggers.helpers import activate_ok, trigger_workflow
from workflows.services import ensure_personal_workspace

pytestmark = pytest.mark.usefixtures("inline_queue")


def contact_workflow(client, config=None, activate=True):
    wid = trigger_workflow(
        client,
        {"id": "crm", "type": "trigger.contact", "config": config or {}},
        {"hello": "{{ input.contact.name }}", "event": "{{ input.event }}"},
        name="crm",
    )
    if activate:
        assert activate_ok(client, wid)["triggers"] == []  # no URL: events come from inside
    return wid


def runs_of(wid):
    return list(WorkflowRun.objects.filter(workflow_id=wid).order_by("created_at"))


def create(api, **fields):
    res = api.post("/api/v1/contacts/", fields, format="json")
    assert res.status_code == 201, res.content
    return res.json()


def test_creating_a_contact_through_the_api_starts_a_run_with_the_contact(api):
    wid = contact_workflow(api)
    contact = create(api, name="Ann Lee", email="ann@example.com", tags=["lead"], data={"stage": "new"})
    assert (
        contact["name"] == "Ann Lee" and contact["tags"] == ["lead"] and contact["data"] == {"stage": "new"}
    )
    [run] = runs_of(wid)
    assert run.mode == "live" and run.trigger_type == "trigger.contact" and run.status == "completed"
    assert run.input == {
        "event": "created",
        "contact": contact,
        "changed": ["name", "email", "tags", "data"],
        "previous": {},
    }
    assert run.output == {"hello": "Ann Lee", "event": "created"}


def test_an_update_lists_the_changed_fields_and_their_previous_values(api):
    contact = create(api, name="Ann", email="ann@example.com", data={"stage": "new", "score": 3})
    wid = contact_workflow(api)
    res = api.patch(
        f"/api/v1/contacts/{contact['id']}",
        {"email": "ann@lee.example", "data": {"stage": "won"}},
        format="json",
    )
    assert res.status_code == 200, res.content
    assert res.json()["data"] == {"stage": "won", "score": 3}  # PATCH merges data
    [run] = runs_of(wid)
    assert run.input["event"] == "updated"
    assert run.input["changed"] == ["email", "data", "data.stage"]
    assert run.input["previous"] == {
        "email": "ann@example.com",
        "data": {"stage": "new", "score": 3},
        "data.stage": "new",
    }
    assert run.input["contact"]["email"] == "ann@lee.example"


def test_saving_without_a_change_starts_nothing(api):
    contact = create(api, name="Ann")
    wid = contact_workflow(api)
    assert api.patch(f"/api/v1/contacts/{contact['id']}", {"name": "Ann"}, format="json").status_code == 200
    Contact.objects.get(pk=contact["id"]).save()
    assert runs_of(wid) == []


def test_tag_filter_matches_any_listed_tag(api):
    wid = contact_workflow(api, {"tags": ["VIP", "partner"]})
    create(api, name="Plain", tags=["lead"])
    create(api, name="Big", tags=["vip"])
    plain = Contact.objects.get(name="Plain")
    api.patch(f"/api/v1/contacts/{plain.pk}", {"tags": ["lead", "partner"]}, format="json")
    assert [(r.input["event"], r.input["contact"]["name"]) for r in runs_of(wid)] == [
        ("created", "Big"),
        ("updated", "Plain"),
    ]


def test_changed_fields_filter_applies_to_updates(api):
    wid = contact_workflow(api, {"events": ["updated"], "fields": ["email", "data.stage"]})
    contact = create(api, name="Ann", email="a@example.com", data={"stage": "new", "notes": ""})
    path = f"/api/v1/contacts/{contact['id']}"
    api.patch(path, {"name": "Ann Lee"}, format="json")  # not a listed field
    api.patch(path, {"data": {"notes": "called"}}, format="json")  # another data key
    api.patch(path, {"data": {"stage": "qualified"}}, format="json")
    api.patch(path, {"email": "ann@example.com"}, format="json")
    assert [r.input["changed"] for r in runs_of(wid)] == [["data", "data.stage"], ["email"]]


def test_events_filter_can_take_only_creations(api):
    wid = contact_workflow(api, {"events": ["created"]})
    contact = create(api, name="Ann")
    api.patch(f"/api/v1/contacts/{contact['id']}", {"name": "Bo"}, format="json")
    assert [r.input["event"] for r in runs_of(wid)] == ["created"]


def test_inactive_workflows_and_other_workspaces_do_not_run(api, bob_api):
    inactive = contact_workflow(api, activate=False)
    deactivated = contact_workflow(api)
    api.post(f"/api/v1/workflows/{deactivated}/deactivate", {}, format="json")
    bobs = contact_workflow(bob_api)
    create(api, name="Ann")
    assert runs_of(inactive) == runs_of(deactivated) == runs_of(bobs) == []
    create(bob_api, name="Bob's contact")
    assert [r.input["contact"]["name"] for r in runs_of(bobs)] == ["Bob's contact"]


def test_any_save_path_counts_and_a_rolled_back_save_starts_nothing(api, alice):
    wid = contact_workflow(api)
    workspace = ensure_personal_workspace(user=alice)
    contact = Contact.objects.create(workspace=workspace, name="Direct", phone="+4912345")
    contact.tags = ["imported"]
    contact.save()
    assert [(r.input["event"], r.input["changed"]) for r in runs_of(wid)] == [
        ("created", ["name", "phone"]),
        ("updated", ["tags"]),
    ]
    with pytest.raises(RuntimeError), transaction.atomic():
        Contact.objects.create(workspace=workspace, name="Never")
        raise RuntimeError("the save is rolled back")
    assert len(runs_of(wid)) == 2 and not Contact.objects.filter(name="Never").exists()


def test_bad_trigger_config_is_rejected_on_save(api):
    doc = {
        "schema": "switchyard.workflow/1",
        "edges": [],
        "nodes": [{"id": "crm", "type": "trigger.contact", "config": {"fields": ["colour"], "events": []}}],
    }
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 400
    assert {e["field"] for e in res.json()["error"]["details"]["errors"]} == {"config.events"}
    doc["nodes"][0]["config"] = {"fields": ["colour"]}
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.json()["error"]["details"]["errors"][0]["field"] == "config.fields.0"


# -- the contacts API ---------------------------------------------------------------------


def test_contacts_api_crud_and_scoping(api, bob_api):
    contact = create(api, name="Ann", email="ann@example.com", phone="+49 1", tags=["lead", "lead", " vip "])
    assert contact["tags"] == ["lead", "vip"]
    path = f"/api/v1/contacts/{contact['id']}"
    assert api.get(path).json() == contact
    assert api.get("/api/v1/contacts").json()["count"] == 1
    assert api.get("/api/v1/contacts/?tag=vip").json()["count"] == 1
    assert api.get("/api/v1/contacts/?tag=other").json()["count"] == 0
    assert api.get("/api/v1/contacts/?email=ANN@example.com").json()["count"] == 1
    assert api.get("/api/v1/contacts/?q=nn").json()["count"] == 1
    replaced = api.put(path, {"name": "Ann Lee", "data": {"a": 1}}, format="json").json()
    assert (replaced["email"], replaced["tags"], replaced["data"]) == ("", [], {"a": 1})  # PUT replaces
    assert bob_api.get(path).status_code == 404
    assert bob_api.patch(path, {"name": "x"}, format="json").status_code == 404
    assert bob_api.get("/api/v1/contacts/").json()["count"] == 0
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_contacts_api_rejects_bad_fields_with_json_errors(api):
    res = api.post("/api/v1/contacts/", {"email": "not-an-email"}, format="json")
    assert res.status_code == 400 and "email" in res.json()["error"]["details"]
    res = api.post("/api/v1/contacts/", {"name": "A", "tags": "vip"}, format="json")
    assert res.status_code == 400 and "tags" in res.json()["error"]["details"]
    res = api.post("/api/v1/contacts/", {"tags": ["x"]}, format="json")
    assert (
        res.status_code == 400
        and res.json()["error"]["message"] == "A contact needs a name, an email or a phone."
    )
    res = api.post("/api/v1/contacts/", ["not", "an", "object"], format="json")
    assert res.status_code == 400 and res.json()["error"]["code"] == "VALIDATION_ERROR"
    assert Contact.objects.count() == 0
