"""The step debugger: one node tested alone, pinned outputs, and runs from a node that
reuse what is upstream instead of executing it again."""

import pytest

from runs.models import NodeExecution, PinnedOutput, WorkflowRun
from tests.connectors.api_server import ApiServer
from tests.connectors.factories import make_credential
from workflows.models import Membership, Workspace

pytestmark = pytest.mark.usefixtures("inline_queue")

START = {"id": "start", "type": "trigger.manual"}


@pytest.fixture
def server():
    srv = ApiServer()
    yield srv
    srv.close()


def workflow(api, nodes, edges, **extra):
    doc = {"schema": "switchyard.workflow/1", "name": "dbg", "nodes": nodes, "edges": edges, **extra}
    res = api.post("/api/v1/workflows/", doc, format="json")
    assert res.status_code == 201, res.content
    return res.json()["id"]


def run(api, wid, input=None):
    res = api.post(f"/api/v1/workflows/{wid}/execute", {"input": input or {}, "wait": True}, format="json")
    assert res.status_code == 200, res.content
    return res.json()


def chain(server):
    """start -> fetch (HTTP to the local server) -> shape (transform of fetch's body)."""
    server.route("GET", "/price", lambda seen: (200, {"price": 10 * int(seen.query["n"][0])}))
    nodes = [
        START,
        {"id": "fetch", "type": "http.request", "config": {"url": server.url("/price?n={{ input.n }}")}},
        {
            "id": "shape",
            "type": "data.transform",
            "config": {"set": {"total": "{{ input.body.price + 1 }}"}, "keep_input": False},
        },
    ]
    edges = [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "shape"}]
    return nodes, edges


# -- one node alone --------------------------------------------------------------------------


def test_a_node_runs_alone_with_sample_input(api, server):
    wid = workflow(api, *chain(server))
    res = api.post(
        f"/api/v1/workflows/{wid}/nodes/shape/test", {"input": {"body": {"price": 41}}}, format="json"
    )
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["status"] == "succeeded" and body["output"] == {"total": 42}
    assert body["handles"] == ["main"] and body["duration_ms"] >= 0
    assert WorkflowRun.objects.count() == 0  # nothing of the run kind is stored


def test_a_node_runs_alone_with_the_input_it_got_in_an_earlier_run(api, server):
    wid = workflow(api, *chain(server))
    first = run(api, wid, {"n": 3})
    assert first["output"] == {"total": 31}
    res = api.post(f"/api/v1/workflows/{wid}/nodes/fetch/test", {"run_id": first["id"]}, format="json")
    body = res.json()
    assert body["status"] == "succeeded" and body["output"]["body"] == {"price": 30}
    assert body["input"] == {"n": 3}
    assert len(server.requests_to("/price")) == 2  # really executed, through the outbound client


def test_a_tested_node_reports_its_error_with_category(api, server):
    wid = workflow(api, *chain(server))
    body = api.post(f"/api/v1/workflows/{wid}/nodes/shape/test", {"input": {}}, format="json").json()
    assert body["status"] == "failed" and body["error"]["category"] == "TEMPLATE_ERROR"
    assert body["output"] is None


def test_a_tested_node_obeys_the_outbound_rules(api, server, settings):
    settings.ALLOW_PRIVATE_OUTBOUND = False
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    wid = workflow(api, *chain(server))
    body = api.post(f"/api/v1/workflows/{wid}/nodes/fetch/test", {"input": {"n": 1}}, format="json").json()
    assert body["status"] == "failed" and body["error"]["category"] == "CONNECTION_ERROR"
    assert server.requests_to("/price") == []


def test_a_tested_node_masks_workspace_secrets(api, server):
    server.route("GET", "/echo", lambda seen: (200, {"auth": seen.headers.get("authorization")}))
    wid = workflow(
        api,
        [
            START,
            {
                "id": "call",
                "type": "http.request",
                "config": {
                    "url": server.url("/echo"),
                    "headers": {"Authorization": "Bearer {{ workspace.api }}"},
                },
            },
        ],
        [{"source": "start", "target": "call"}],
    )
    make_credential(Workspace.objects.get(workflows__pk=wid), "api", {"token": "s3cr3t-value"})
    body = api.post(f"/api/v1/workflows/{wid}/nodes/call/test", {"input": {}}, format="json").json()
    assert body["status"] == "succeeded", body
    assert server.requests_to("/echo")[0].headers["authorization"] == "Bearer s3cr3t-value"
    assert "s3cr3t-value" not in str(body) and body["output"]["body"]["auth"] == "Bearer ***"


def test_the_editors_version_of_the_node_is_tested(api, server):
    wid = workflow(api, *chain(server))
    node = {
        "id": "shape",
        "type": "data.transform",
        "config": {"set": {"total": "{{ input.body.price * 3 }}"}},
    }
    body = api.post(
        f"/api/v1/workflows/{wid}/nodes/shape/test",
        {"input": {"body": {"price": 2}}, "node": node},
        format="json",
    ).json()
    assert body["output"]["total"] == 6
    bad = {"id": "shape", "type": "data.transform", "config": {"set": "not an object"}}
    res = api.post(f"/api/v1/workflows/{wid}/nodes/shape/test", {"node": bad}, format="json")
    assert res.status_code == 400 and res.json()["error"]["details"]["errors"][0]["node"] == "shape"


def test_nodes_that_need_a_run_say_so(api):
    wid = workflow(
        api,
        [START, {"id": "hold", "type": "flow.callback", "config": {"expires_in_s": 60}}],
        [{"source": "start", "target": "hold"}],
    )
    body = api.post(f"/api/v1/workflows/{wid}/nodes/hold/test", {}, format="json").json()
    assert body["status"] == "failed" and "needs a run" in body["error"]["message"]


def test_node_test_refusals(api, bob, bob_api, server):
    wid = workflow(api, *chain(server))
    assert api.post(f"/api/v1/workflows/{wid}/nodes/nope/test", {}, format="json").status_code == 404
    res = api.post(
        f"/api/v1/workflows/{wid}/nodes/shape/test",
        {"run_id": "00000000-0000-0000-0000-000000000000"},
        format="json",
    )
    assert res.status_code == 400 and "run_id" in res.json()["error"]["details"]
    assert api.post(f"/api/v1/workflows/{wid}/nodes/shape/test", [1], format="json").status_code == 400
    assert bob_api.post(f"/api/v1/workflows/{wid}/nodes/shape/test", {}, format="json").status_code == 404
    Membership.objects.create(workspace=Workspace.objects.get(workflows__pk=wid), user=bob, role="viewer")
    assert bob_api.post(f"/api/v1/workflows/{wid}/nodes/shape/test", {}, format="json").status_code == 403


# -- pins and run from node -------------------------------------------------------------------


def test_pins_typed_and_from_a_run(api, server):
    wid = workflow(api, *chain(server))
    first = run(api, wid, {"n": 2})
    res = api.put(f"/api/v1/workflows/{wid}/pins/fetch", {"run_id": first["id"]}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["source"] == "run" and res.json()["output"]["body"] == {"price": 20}
    res = api.put(f"/api/v1/workflows/{wid}/pins/shape", {"output": {"total": 0}}, format="json")
    assert res.json()["source"] == "typed"
    pins = api.get(f"/api/v1/workflows/{wid}/pins").json()["pins"]
    assert set(pins) == {"fetch", "shape"} and pins["shape"]["output"] == {"total": 0}
    assert api.delete(f"/api/v1/workflows/{wid}/pins/shape").status_code == 204
    assert api.delete(f"/api/v1/workflows/{wid}/pins/shape").status_code == 404
    assert set(api.get(f"/api/v1/workflows/{wid}/pins").json()["pins"]) == {"fetch"}


@pytest.mark.parametrize("body", [{}, {"output": 1, "run_id": "x"}, {"output": 1, "handles": "main"}])
def test_pin_bodies_are_checked(api, server, body):
    wid = workflow(api, *chain(server))
    res = api.put(f"/api/v1/workflows/{wid}/pins/fetch", body, format="json")
    assert res.status_code == 400 and res.json()["error"]["code"] == "VALIDATION_ERROR"


def test_run_from_a_node_reuses_upstream_outputs(api, server):
    wid = workflow(api, *chain(server))
    first = run(api, wid, {"n": 4})
    assert len(server.requests_to("/price")) == 1
    res = api.post(f"/api/v1/workflows/{wid}/nodes/shape/run-from", {"run_id": first["id"]}, format="json")
    assert res.status_code == 202, res.content
    again = api.get(f"/api/v1/runs/{res.json()['run_id']}").json()
    assert again["status"] == "completed" and again["output"] == {"total": 41}
    assert again["mode"] == "test" and again["start_node"] == "shape" and again["retry_of"] == first["id"]
    assert len(server.requests_to("/price")) == 1  # fetch was not executed again


def test_run_from_a_node_prefers_pinned_outputs_which_live_runs_ignore(api, server):
    wid = workflow(api, *chain(server))
    run(api, wid, {"n": 1})
    api.put(f"/api/v1/workflows/{wid}/pins/fetch", {"output": {"body": {"price": 99}}}, format="json")
    res = api.post(f"/api/v1/workflows/{wid}/nodes/shape/run-from", {}, format="json")
    debugged = api.get(f"/api/v1/runs/{res.json()['run_id']}").json()
    assert debugged["output"] == {"total": 100}
    fetch = next(n for n in debugged["nodes"] if n["node_id"] == "fetch")
    assert fetch["output"] == {"body": {"price": 99}}
    # An ordinary run executes the node for real, pin or no pin.
    assert run(api, wid, {"n": 5})["output"] == {"total": 51}
    assert PinnedOutput.objects.filter(workflow_id=wid).count() == 1


def test_run_from_a_middle_node_executes_it_and_what_follows(api, server):
    wid = workflow(api, *chain(server))
    first = run(api, wid, {"n": 1})
    res = api.post(f"/api/v1/workflows/{wid}/nodes/fetch/run-from", {"run_id": first["id"]}, format="json")
    again = api.get(f"/api/v1/runs/{res.json()['run_id']}").json()
    assert again["output"] == {"total": 11} and len(server.requests_to("/price")) == 2
    start = NodeExecution.objects.get(run_id=again["id"], node_id="start")
    assert start.attempts == 1  # copied from the source run, not executed again


def test_run_from_refusals(api, server):
    wid = workflow(api, *chain(server))
    assert api.post(f"/api/v1/workflows/{wid}/nodes/ghost/run-from", {}, format="json").status_code == 404
    loop_wid = workflow(
        api,
        [
            START,
            {"id": "each", "type": "logic.loop", "config": {"items": "{{ input.items }}"}},
            {"id": "body", "type": "data.transform", "config": {"set": {"v": "{{ item }}"}}},
        ],
        [
            {"source": "start", "target": "each"},
            {"source": "each", "source_handle": "each", "target": "body"},
        ],
    )
    res = api.post(f"/api/v1/workflows/{loop_wid}/nodes/body/run-from", {}, format="json")
    assert res.status_code == 400 and "loop" in res.json()["error"]["message"]
