"""A second user can neither see nor touch the first user's workspace objects."""

import pytest

from workflows.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_workflow(api, sample_document):
    return api.post("/api/v1/workflows/", sample_document, format="json").json()["id"]


def test_first_use_creates_a_personal_workspace_owned_by_the_user(api, alice):
    body = api.get("/api/v1/workspaces/").json()
    assert body["count"] == 1 and body["results"][0]["role"] == "owner"
    assert body["results"][0]["is_personal"] is True


@pytest.mark.parametrize(
    "method, suffix, payload",
    [
        ("get", "", None),
        ("put", "", "doc"),
        ("patch", "", {"name": "x"}),
        ("delete", "", None),
        ("get", "/export", None),
        ("post", "/validate", {}),
    ],
)
def test_other_user_gets_404_on_every_workflow_endpoint(
    bob_api, alices_workflow, sample_document, method, suffix, payload
):
    data = sample_document if payload == "doc" else payload
    res = getattr(bob_api, method)(f"/api/v1/workflows/{alices_workflow}{suffix}", data, format="json")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "NOT_FOUND"


def test_other_user_list_is_empty(bob_api, alices_workflow):
    assert bob_api.get("/api/v1/workflows/").json()["count"] == 0


def test_creating_into_someone_elses_workspace_is_refused(api, bob_api, alice, sample_document):
    api.get("/api/v1/workspaces/")  # alice's first use creates her workspace
    ws = Membership.objects.get(user=alice).workspace_id
    res = bob_api.post("/api/v1/workflows/", dict(sample_document, workspace=str(ws)), format="json")
    assert res.status_code == 400 and "workspace" in res.json()["error"]["details"]


def test_viewer_can_read_but_not_write(api, bob, bob_api, alice, alices_workflow, sample_document):
    ws = Workspace.objects.get(memberships__user=alice)
    Membership.objects.create(workspace=ws, user=bob, role=Role.VIEWER)
    assert bob_api.get(f"/api/v1/workflows/{alices_workflow}").status_code == 200
    res = bob_api.patch(f"/api/v1/workflows/{alices_workflow}", {"name": "mine"}, format="json")
    assert res.status_code == 403 and res.json()["error"]["code"] == "PERMISSION_DENIED"
    assert bob_api.delete(f"/api/v1/workflows/{alices_workflow}").status_code == 403


def test_editor_of_shared_workspace_can_write(api, bob, bob_api, alice, alices_workflow):
    ws = Workspace.objects.get(memberships__user=alice)
    Membership.objects.create(workspace=ws, user=bob, role=Role.EDITOR)
    assert (
        bob_api.patch(f"/api/v1/workflows/{alices_workflow}", {"name": "shared"}, format="json").status_code
        == 200
    )
