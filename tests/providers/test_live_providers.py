"""The whole product on real processes (`serve` on a free port): one workflow runs an n8n
workflow (real n8n), a Make scenario and a Zapier hook (fake servers following their docs)
in one run, waits for each in its mode, and the run detail shows results and callbacks.
And a provider node's wait survives every process being killed."""

import os
import signal
import time

import pytest

from tests.e2e.server import drop_server, make_server

from .fakes import FakeMake, FakeZapier, post_json

pytestmark = pytest.mark.slow


@pytest.fixture
def fakes():
    make, zapier = FakeMake(), FakeZapier()
    yield make, zapier
    make.close()
    zapier.close()


def setup_connections(srv, make, zapier, n8n=None):
    def ok(code_body, code=201):
        assert code_body[0] == code, code_body
        return code_body[1]

    ok(
        srv.call(
            "POST",
            "/api/v1/credentials/",
            {"name": "make_token", "kind": "custom", "data": {"token": FakeMake.TOKEN}},
        )
    )
    ok(
        srv.call(
            "POST",
            "/api/v1/providers/connections/",
            {
                "name": "Make",
                "provider": "make",
                "base_url": make.base,
                "credential": "make_token",
                "settings": {"team_id": FakeMake.TEAM},
            },
        )
    )
    ok(
        srv.call(
            "POST",
            "/api/v1/providers/connections/",
            {"name": "Zapier", "provider": "zapier", "base_url": zapier.hook_url()},
        )
    )
    if n8n is not None:
        ok(
            srv.call(
                "POST",
                "/api/v1/credentials/",
                {"name": "n8n_key", "kind": "custom", "data": {"api_key": n8n.api_key}},
            )
        )
        ok(
            srv.call(
                "POST",
                "/api/v1/providers/connections/",
                {"name": "n8n", "provider": "n8n", "base_url": n8n.url, "credential": "n8n_key"},
            )
        )


@pytest.mark.n8n
def test_one_run_waits_for_n8n_make_and_zapier_each_in_its_mode(tmp_path, n8n, fakes):
    make, zapier = fakes
    srv = make_server(tmp_path)
    srv.start(timeout_s=180)  # a busy machine starts slowly
    try:
        setup_connections(srv, make, zapier, n8n)
        polled, called_back = n8n.import_workflow("async"), n8n.import_workflow("callback")
        nodes = [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "n8n_poll",
                "type": "provider.n8n",
                "config": {
                    "connection": "n8n",
                    "workflow": polled["id"],
                    "data": {"name": "{{ input.name }}", "amount": 5},
                    "wait": "poll",
                    "poll": {"interval_s": 0.5},
                },
            },
            {
                "id": "n8n_callback",
                "type": "provider.n8n",
                "config": {
                    "connection": "n8n",
                    "workflow": called_back["id"],
                    "data": {"amount": 7},
                    "wait": "callback",
                },
            },
            {
                "id": "make",
                "type": "provider.make",
                "config": {
                    "connection": "Make",
                    "workflow": "101",
                    "data": {"order": "{{ input.name }}"},
                    "poll": {"interval_s": 0.3},
                },
            },
            {
                "id": "zap",
                "type": "provider.zapier",
                "config": {"connection": "Zapier", "data": {"sku": "S-1"}},
            },
            {"id": "join", "type": "logic.merge", "config": {}},
        ]
        edges = [{"source": "start", "target": n} for n in ("n8n_poll", "n8n_callback", "make", "zap")]
        edges += [{"source": n, "target": "join"} for n in ("n8n_poll", "n8n_callback", "make", "zap")]
        wid = srv.create_workflow(nodes, edges)
        run_id = srv.execute(wid, {"name": "ada"})
        run = srv.wait_for(lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, 90)
        by_id = {n["node_id"]: n for n in run["nodes"]}
        assert run["status"] == "completed", {k: v["error"] for k, v in by_id.items()}
        assert by_id["n8n_poll"]["output"]["data"] == {"enriched": "ada-enriched", "score": 10}
        assert by_id["n8n_callback"]["output"]["data"] == {"from": "n8n", "doubled": 14}
        assert by_id["make"]["output"]["data"] == {"total": 42, "echo": {"order": "ada"}}
        assert by_id["zap"]["output"]["data"] == {"zap": "orders", "received": {"sku": "S-1"}}
        assert all(
            by_id[n]["output"]["status"] == "succeeded" for n in ("n8n_poll", "n8n_callback", "make", "zap")
        )
        received = {c["node_id"]: c for c in run["callbacks"]}
        assert set(received) == {"n8n_callback", "zap"}
        assert all(c["outcome"] in ("accepted", "early") for c in received.values())
        assert received["n8n_callback"]["payload"] == {"from": "n8n", "doubled": 14}
        # Callback URLs point at the port this server answers on, not a default one.
        sent = next(r for r in zapier.requests if r["path"].startswith("/hooks/"))["body"]["callback_url"]
        assert sent.startswith(f"{srv.base}/api/v1/callbacks/") and srv.port != 8000
        logs = srv.call("GET", f"/api/v1/runs/{run_id}/logs?node=make")[1]
        assert [e["message"] for e in logs if e["message"].startswith("poll ")]
    finally:
        drop_server(srv)


def test_provider_waits_survive_every_process_being_killed(tmp_path, fakes):
    make, zapier = fakes
    make.scenarios["101"]["polls"] = 6
    zapier.hooks["orders"]["delay_s"] = 3600  # the Zap answers below, after the restart
    srv = make_server(tmp_path, RUN_LEASE_SECONDS=2, WAIT_INLINE_MAX_S=0.5)
    srv.start(timeout_s=180)  # a busy machine starts slowly
    try:
        setup_connections(srv, make, zapier)
        wid = srv.create_workflow(
            [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "make",
                    "type": "provider.make",
                    "config": {
                        "connection": "Make",
                        "workflow": "101",
                        "data": {},
                        "poll": {"interval_s": 1},
                    },
                },
                {
                    "id": "zap",
                    "type": "provider.zapier",
                    "config": {"connection": "Zapier", "data": {"n": 1}},
                },
            ],
            [{"source": "start", "target": "make"}, {"source": "start", "target": "zap"}],
        )
        run_id = srv.execute(wid)
        srv.wait_for(
            lambda: {n["node_id"]: n["status"] for n in srv.run(run_id)["nodes"]}.get("zap") == "waiting"
        )
        assert srv.run(run_id)["status"] in ("waiting", "running")
        os.killpg(srv.proc.pid, signal.SIGKILL)  # web, workers, timekeeper: gone mid-wait
        srv.proc.wait()
        srv.proc = None
        time.sleep(1)
        srv.start(timeout_s=180)  # a busy machine starts slowly
        token = srv.sql("SELECT token FROM runs_correlationtoken")[0][0]
        assert post_json(f"{srv.base}/api/v1/callbacks/{token}", {"zap": "late", "ok": True}) == 202
        run = srv.wait_for(lambda: (r := srv.run(run_id))["status"] in ("completed", "failed") and r, 60)
        by_id = {n["node_id"]: n for n in run["nodes"]}
        assert run["status"] == "completed", {k: v["error"] for k, v in by_id.items()}
        assert by_id["make"]["output"]["status"] == "succeeded"
        assert by_id["zap"]["output"]["data"] == {"zap": "late", "ok": True}
        runs_started = [r for r in make.requests if r["path"].endswith("/run")]
        assert len(runs_started) == 1  # the remote scenario was not started again
        assert len([r for r in zapier.requests if r["path"].startswith("/hooks/")]) == 1
    finally:
        drop_server(srv)
