"""Core node types (SPEC §5), each run in a small workflow on the in-memory engine."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from workflows.engine.document import validate
from workflows.engine.store import Services
from workflows.nodes import load as load_builtin_nodes
from workflows.nodes.triggers import check_cron

from .engine_helpers import Engine, chain, edge, node, start, transform, workflow

CORE_TYPES = [
    "trigger.manual",
    "trigger.webhook",
    "trigger.schedule",
    "trigger.form",
    "data.transform",
    "logic.if",
    "logic.switch",
    "logic.split",
    "logic.merge",
    "logic.filter",
    "logic.loop",
    "logic.wait",
    "flow.subworkflow",
    "flow.callback",
]


def one(engine, n, payload):
    """Run start -> n and return the result."""
    return engine.run(workflow([start(), n], chain("start", n["id"])), payload)


# -- palette -----------------------------------------------------------------------------------
@pytest.mark.parametrize("type_name", CORE_TYPES)
def test_core_type_is_registered_with_palette_metadata(type_name):
    entry = load_builtin_nodes().get(type_name).palette_entry()
    assert entry["label"] and entry["category"] and entry["description"] and entry["icon"]
    assert entry["config_schema"]["type"] == "object"
    assert entry["is_trigger"] == type_name.startswith("trigger.")


# -- data.transform ----------------------------------------------------------------------------
def test_transform_sets_dotted_paths_creating_nesting(engine):
    res = one(
        engine,
        transform("t", {"customer.name": "{{ input.name | upper }}", "total": "{{ input.q * 2 }}"}),
        {"name": "ada", "q": 3, "customer": {"id": 7}},
    )
    assert res.node("t").output == {"name": "ada", "q": 3, "total": 6, "customer": {"id": 7, "name": "ADA"}}


def test_transform_can_drop_the_input_and_remove_paths(engine):
    res = one(engine, transform("t", {"x": 1}, keep_input=False), {"a": 1})
    assert res.node("t").output == {"x": 1}
    res = one(
        engine,
        transform("t", {}, remove=["secret", "nested.pw", "not.there"]),
        {"secret": 1, "keep": 2, "nested": {"pw": "x", "user": "u"}},
    )
    assert res.node("t").output == {"keep": 2, "nested": {"user": "u"}}


def test_transform_does_not_mutate_upstream_outputs(engine):
    doc = workflow(
        [start(), transform("a", {"deep.x": 1}), transform("b", {"deep.y": 2}, remove=["deep.x"])],
        chain("start", "a", "b"),
    )
    res = engine.run(doc, {"deep": {"z": 0}})
    assert res.node("a").output == {"deep": {"z": 0, "x": 1}}
    assert res.node("b").output == {"deep": {"z": 0, "y": 2}}
    assert res.node("start").output == {"deep": {"z": 0}}


# -- logic.if / switch / split / merge ---------------------------------------------------------
@pytest.mark.parametrize(("amount", "handle"), [(150, "true"), (50, "false")])
def test_if_fires_true_or_false_and_passes_the_input_on(engine, amount, handle):
    cond = {"left": "{{ input.amount }}", "op": "gt", "right": "{{ variables.threshold }}"}
    doc = workflow(
        [start(), node("check", "logic.if", {"condition": cond})],
        chain("start", "check"),
        variables={"threshold": 100},
    )
    res = engine.run(doc, {"amount": amount})
    assert res.node("check").handles == [handle] and res.node("check").output == {"amount": amount}


def test_switch_fires_the_first_matching_case_else_the_default(engine):
    cfg = {
        "cases": [
            {"handle": "big", "condition": "{{ input.n > 10 }}"},
            {"handle": "bigger", "condition": "{{ input.n > 100 }}"},
        ],
        "default_handle": "small",
    }
    assert one(engine, node("s", "logic.switch", cfg), {"n": 500}).node("s").handles == ["big"]
    assert one(engine, node("s", "logic.switch", cfg), {"n": 1}).node("s").handles == ["small"]


def test_split_draws_one_handle_by_weight(engine):
    cfg = {
        "branches": [
            {"handle": "a", "weight": 3},
            {"handle": "b", "weight": 1},
            {"handle": "never", "weight": 0},
        ]
    }
    drawn = Counter(one(engine, node("s", "logic.split", cfg), {}).node("s").handles[0] for _ in range(200))
    assert drawn["never"] == 0 and drawn["a"] > drawn["b"] > 0


def test_merge_wait_all_outputs_the_shallow_merge_of_its_inputs(engine):
    doc = workflow(
        [
            start(),
            transform("a", {"a": 1}, keep_input=False),
            transform("b", {"b": 2}, keep_input=False),
            node("m", "logic.merge"),
        ],
        [edge("start", "a"), edge("start", "b"), edge("a", "m"), edge("b", "m")],
    )
    assert engine.run(doc, {}).node("m").output == {"a": 1, "b": 2}


# -- logic.filter ------------------------------------------------------------------------------
def test_filter_keeps_items_in_order_with_item_and_index_in_scope(engine):
    cfg = {"items": "{{ input.xs }}", "condition": "{{ item.v > 1 and index != 3 }}"}
    res = one(engine, node("f", "logic.filter", cfg), {"xs": [{"v": 5}, {"v": 0}, {"v": 2}, {"v": 9}]})
    assert res.node("f").output == {"items": [{"v": 5}, {"v": 2}], "dropped": 2}


def test_filter_items_must_be_a_list(engine):
    res = one(
        engine, node("f", "logic.filter", {"items": "{{ input.xs }}", "condition": True}), {"xs": {"a": 1}}
    )
    assert res.node("f").error["category"] == "VALIDATION_ERROR"


def test_loop_items_must_be_a_list(engine):
    doc = workflow(
        [start(), node("l", "logic.loop", {"items": "{{ input.xs }}"}), transform("b")],
        [edge("start", "l"), edge("l", "b", "each")],
    )
    assert engine.run(doc, {"xs": "abc"}).node("l").error["category"] == "VALIDATION_ERROR"


# -- logic.wait --------------------------------------------------------------------------------
def test_wait_until_a_past_moment_continues_at_once(engine):
    res = one(engine, node("w", "logic.wait", {"until": "{{ input.at }}"}), {"at": "2001-01-01T00:00:00Z"})
    assert res.node("w").status == "succeeded" and res.elapsed_s < 0.5


def test_wait_until_a_near_moment_waits_for_it(engine):
    at = (datetime.now(UTC) + timedelta(seconds=0.4)).isoformat()
    res = one(engine, node("w", "logic.wait", {"until": at}), {"k": 1})
    assert res.node("w").output == {"k": 1} and res.elapsed_s >= 0.3


def test_wait_rejects_a_bad_until_or_duration(engine):
    assert (
        one(engine, node("w", "logic.wait", {"until": "soon"}), {}).node("w").error["category"]
        == "VALIDATION_ERROR"
    )
    res = one(engine, node("w", "logic.wait", {"duration_s": "{{ input.d }}"}), {"d": "x"})
    assert res.node("w").error["category"] == "VALIDATION_ERROR"


def test_wait_duration_may_be_a_template(engine):
    res = one(engine, node("w", "logic.wait", {"duration_s": "{{ input.d }}"}), {"d": 0.2})
    assert res.status == "completed" and res.elapsed_s >= 0.18


# -- flow.subworkflow / flow.callback ----------------------------------------------------------
def test_subworkflow_waits_for_the_child_and_outputs_its_output(engine, services):
    res = one(
        engine,
        node("sub", "flow.subworkflow", {"workflow": "wf-2", "input": {"n": "{{ input.n }}"}}),
        {"n": 4},
    )
    assert res.status == "waiting"
    assert services.children == [
        {
            "parent_run_id": res.run_id,
            "parent_node_id": "sub",
            "workflow_id": "wf-2",
            "input": {"n": 4},
            "wait": True,
        }
    ]
    assert res.node("sub").wait == {"kind": "child", "data": {"child_run_id": "child-1"}}
    engine.store.deliver(
        res.run_id, "sub", {"run_id": "child-1", "status": "completed", "output": {"sq": 16}, "error": None}
    )
    done = engine.advance(res.run_id)
    assert done.status == "completed" and done.node("sub").output == {"sq": 16}


def test_subworkflow_fails_with_the_childs_error_category(engine):
    res = one(engine, node("sub", "flow.subworkflow", {"workflow": "wf-2"}), {})
    engine.store.deliver(
        res.run_id,
        "sub",
        {
            "run_id": "child-1",
            "status": "failed",
            "output": None,
            "error": {"category": "HTTP_ERROR", "message": "404"},
        },
    )
    done = engine.advance(res.run_id)
    assert done.node("sub").error["category"] == "HTTP_ERROR" and "404" in done.node("sub").error["message"]


def test_subworkflow_without_wait_outputs_the_child_run_id(engine, services):
    res = one(engine, node("sub", "flow.subworkflow", {"workflow": "wf-2", "wait": False}), {"x": 1})
    assert res.node("sub").output == {"run_id": "child-1"} and services.children[0]["input"] == {"x": 1}


def test_flow_nodes_without_a_host_fail_with_integration_error(registry):
    engine = Engine(registry, Services())
    res = one(engine, node("cb", "flow.callback"), {})
    assert res.node("cb").error["category"] == "INTEGRATION_ERROR"


def test_callback_inside_a_loop_is_registered_per_iteration(engine, services):
    doc = workflow(
        [
            start(),
            node("l", "logic.loop", {"items": [1, 2], "concurrency": 2}),
            node("cb", "flow.callback", {"expires_in_s": 3600}),
        ],
        [edge("start", "l"), edge("l", "cb", "each")],
    )
    res = engine.run(doc, {})
    assert res.status == "waiting"
    assert sorted(c["iteration"] for c in services.callbacks) == [0, 1]
    for i in (0, 1):
        engine.store.deliver(res.run_id, "cb", {"i": i}, iteration=i)
    done = engine.advance(res.run_id)
    assert done.node("l").output == {"results": [{"i": 0}, {"i": 1}]}


# -- triggers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config",
    [
        {"method": "POST", "auth": {"type": "none"}, "respond": "immediately"},
        {
            "method": "GET",
            "auth": {"type": "header", "name": "X-Token", "token": "{{ workspace.hook }}"},
            "respond": "on_completion",
        },
        {"auth": {"type": "hmac_sha256", "secret": "s3cret"}},
    ],
)
def test_webhook_trigger_configs_validate_and_pass_the_request_on(engine, registry, config):
    doc = workflow([node("hook", "trigger.webhook", config)], [])
    assert validate(doc, registry) == []
    payload = {"body": {"a": 1}, "query": {}, "headers": {}, "method": "POST"}
    assert engine.run(doc, payload).output == payload


def test_webhook_trigger_rejects_unknown_auth(registry):
    doc = workflow([node("hook", "trigger.webhook", {"auth": {"type": "magic"}})], [])
    assert any(i.field.startswith("config.auth") for i in validate(doc, registry))


@pytest.mark.parametrize(
    ("cron", "ok"),
    [
        ("0 9 * * 1-5", True),
        ("*/15 * * * *", True),
        ("@daily", True),
        ("0 9 * *", False),
        ("99 * * * *", False),
        ("a b c d e", False),
    ],
)
def test_schedule_cron_is_checked(cron, ok):
    assert (check_cron(cron) is None) is ok


def test_form_trigger_checks_its_fields(registry):
    good = {"fields": [{"name": "email", "label": "E-mail", "type": "email", "required": True}]}
    bad = {"fields": [{"name": "a", "type": "select"}, {"name": "a", "type": "rainbow"}]}
    assert validate(workflow([node("f", "trigger.form", good)], []), registry) == []
    fields = {i.field for i in validate(workflow([node("f", "trigger.form", bad)], []), registry)}
    assert "config.fields.1.type" in fields
