"""Ids, filters and dates that are malformed answer a JSON 4xx naming the field, never a 500.

Found by schemathesis over /api/schema/: a 36-character id made of hex digits and dashes that
is not a UUID, an invalid `workspace`, `?workspace=`/`?workflow=` filters that are not UUIDs,
and impossible dates in `since`/`until`."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application

NOT_UUIDS = ["0" * 36, "-" * 36, "abcdef12-3456-7890-abcd-ef12345678901"[:36].replace("-", "a")]
ID_ROUTES = [
    ("get", "/api/v1/workflows/{}/"),
    ("put", "/api/v1/workflows/{}/"),
    ("patch", "/api/v1/workflows/{}/"),
    ("delete", "/api/v1/workflows/{}/"),
    ("get", "/api/v1/workflows/{}/export/"),
    ("post", "/api/v1/workflows/{}/activate/"),
    ("post", "/api/v1/workflows/{}/deactivate/"),
    ("post", "/api/v1/workflows/{}/validate/"),
    ("post", "/api/v1/workflows/{}/execute"),
    ("get", "/api/v1/workflows/{}/runs"),
    ("get", "/api/v1/runs/{}"),
    ("get", "/api/v1/runs/{}/logs"),
    ("post", "/api/v1/runs/{}/retry"),
    ("post", "/api/v1/runs/{}/cancel"),
    ("get", "/api/v1/connectors/{}/"),
    ("patch", "/api/v1/connectors/{}/"),
    ("delete", "/api/v1/connectors/{}/"),
    ("post", "/api/v1/connectors/{}/execute/"),
    ("get", "/api/v1/connectors/{}/executions/"),
    ("get", "/api/v1/connectors/executions/{}"),
    ("get", "/api/v1/credentials/{}/"),
    ("delete", "/api/v1/credentials/{}/"),
    ("get", "/api/v1/contacts/{}/"),
    ("delete", "/api/v1/contacts/{}/"),
    ("get", "/api/v1/providers/connections/{}/"),
    ("put", "/api/v1/providers/connections/{}/"),
    ("delete", "/api/v1/providers/connections/{}/"),
    ("post", "/api/v1/providers/connections/{}/test/"),
]


def assert_error(res, status, field=None):
    assert res.status_code == status, (res.status_code, res.content[:300])
    body = res.json()
    assert set(body["error"]) == {"code", "message", "details"}
    if field:
        assert field in body["error"]["details"], body
        assert field in body["error"]["message"], body


@pytest.mark.parametrize("bad_id", NOT_UUIDS)
@pytest.mark.parametrize(("method", "route"), ID_ROUTES)
def test_an_id_that_is_not_a_uuid_is_404_json(api, method, route, bad_id):
    res = getattr(api, method)(route.format(bad_id), {}, format="json")
    assert_error(res, 404)


def test_workflow_create_with_an_invalid_workspace_names_the_field(api, sample_document):
    for bad in ["not-a-uuid", "0" * 36, 12, ["x"], {"a": 1}]:
        assert_error(
            api.post("/api/v1/workflows/", {**sample_document, "workspace": bad}, format="json"),
            400,
            "workspace",
        )
    # a well-formed id of a workspace the caller is not in stays a 400 too
    res = api.post(
        "/api/v1/workflows/",
        {**sample_document, "workspace": "6f1c1c1e-1111-4111-8111-111111111111"},
        format="json",
    )
    assert_error(res, 400, "workspace")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/workflows/?workspace={}", "workspace"),
        ("/api/v1/connectors/?workspace={}", "workspace"),
        ("/api/v1/credentials/?workspace={}", "workspace"),
        ("/api/v1/contacts/?workspace={}", "workspace"),
        ("/api/v1/runs?workflow={}", "workflow"),
        ("/api/v1/providers/connections/?workspace={}", "workspace"),
    ],
)
@pytest.mark.parametrize("bad", ["nope", "0" * 36, "1"])
def test_a_filter_that_is_not_a_uuid_is_400_naming_it(api, path, field, bad):
    assert_error(api.get(path.format(bad)), 400, field)


@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize(
    "bad", ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00", "2026-01-01T25:00:00", "yesterday"]
)
def test_an_impossible_or_unreadable_date_is_400_naming_it(api, sample_document, param, bad):
    wid = api.post("/api/v1/workflows/", sample_document, format="json").json()["id"]
    assert_error(api.get(f"/api/v1/runs?{param}={bad}"), 400, param)
    assert_error(api.get(f"/api/v1/workflows/{wid}/runs?{param}={bad}"), 400, param)


def test_good_filters_still_filter(api, sample_document):
    wid = api.post("/api/v1/workflows/", sample_document, format="json").json()["id"]
    ws = api.get("/api/v1/workflows/").json()["results"][0]["workspace"]
    assert api.get(f"/api/v1/workflows/?workspace={ws}").json()["count"] == 1
    assert api.get(f"/api/v1/workflows/?workspace={ws.upper()}").json()["count"] == 1
    assert api.get("/api/v1/runs?since=2020-01-01&until=2999-01-01T00:00:00Z").status_code == 200
    assert api.get(f"/api/v1/runs?workflow={wid}").status_code == 200


@pytest.mark.parametrize("run_id", ["À", "0" * 36, 7])
def test_pinning_from_a_run_id_that_is_not_a_uuid_names_the_field(api, sample_document, run_id):
    wid = api.post("/api/v1/workflows/", sample_document, format="json").json()["id"]
    res = api.put(f"/api/v1/workflows/{wid}/pins/start/", {"run_id": run_id}, format="json")
    assert_error(res, 400, "run_id")


@pytest.mark.parametrize("path", ["/ws/runs/{}/", "/ws/workflows/{}/", "/ws/nothing-here/{}/"])
@pytest.mark.parametrize("bad_id", NOT_UUIDS[:2])
def test_a_websocket_to_a_non_uuid_id_closes_cleanly(alice, path, bad_id):
    token = Token.objects.create(user=alice).key

    async def scenario():
        comm = WebsocketCommunicator(
            application,
            path.format(bad_id) + f"?token={token}",
            headers=[(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")],
        )
        connected, code = await comm.connect(timeout=5)
        assert not connected
        assert code == 4404
        await comm.wait(timeout=1)

    async_to_sync(scenario)()
