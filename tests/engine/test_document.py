"""The interchange document: defaults, round-trip and every validation rule (SPEC §2)."""

from __future__ import annotations

import copy

import pytest

from tests.documents import SPEC_EXAMPLE
from workflows.engine.document import normalize, validate, validate_or_raise
from workflows.engine.errors import WorkflowInvalid

from .engine_helpers import chain, edge, node, start, transform, workflow


def issues_of(doc, registry):
    return [i.as_dict() for i in validate(doc, registry)]


def has(issues, **want):
    return any(all(i.get(k) == v for k, v in want.items()) for i in issues)


# -- normalize --------------------------------------------------------------------------------
def test_normalize_fills_every_default():
    doc = normalize(
        {
            "schema": "switchyard.workflow/1",
            "nodes": [{"id": "a", "type": "trigger.manual"}],
            "edges": [{"source": "a", "target": "a"}],
        }
    )
    assert doc["name"] == "" and doc["description"] == "" and doc["variables"] == {}
    assert doc["settings"] == {"timeout_s": 300, "max_runs_per_day": None}
    assert doc["nodes"][0] == {
        "id": "a",
        "type": "trigger.manual",
        "name": "",
        "description": "",
        "config": {},
        "position": [0, 0],
        "retry": {
            "max_attempts": 1,
            "backoff": "exponential",
            "initial_delay_ms": 1000,
            "max_delay_ms": 60000,
            "jitter": True,
        },
        "timeout_ms": None,
        "on_error": "fail",
        "on_timeout": "fail",
        "default_output": None,
    }
    assert doc["edges"][0] == {
        "source": "a",
        "target": "a",
        "source_handle": "main",
        "target_handle": "main",
        "mapping": {},
    }


def test_normalize_is_idempotent_and_keeps_given_values():
    once = normalize(SPEC_EXAMPLE)
    assert normalize(once) == once
    check = once["nodes"][1]
    assert check["retry"]["max_attempts"] == 1 and check["retry"]["backoff"] == "exponential"
    assert check["timeout_ms"] == 30000
    assert once["nodes"][0]["name"] == "Start"
    assert once["settings"] == {"timeout_s": 300, "max_runs_per_day": None}


def test_normalize_merges_partial_settings_and_retry():
    doc = normalize(
        {
            "schema": "switchyard.workflow/1",
            "settings": {"timeout_s": 10},
            "nodes": [{"id": "a", "type": "x", "retry": {"max_attempts": 3, "jitter": False}}],
            "edges": [],
        }
    )
    assert doc["settings"] == {"timeout_s": 10, "max_runs_per_day": None}
    assert doc["nodes"][0]["retry"] == {
        "max_attempts": 3,
        "backoff": "exponential",
        "initial_delay_ms": 1000,
        "max_delay_ms": 60000,
        "jitter": False,
    }


def test_normalize_does_not_touch_its_input_and_drops_unknown_keys():
    raw = copy.deepcopy(SPEC_EXAMPLE)
    raw["nodes"][0]["ui_color"] = "red"
    raw["extra"] = 1
    before = copy.deepcopy(raw)
    doc = normalize(raw)
    assert raw == before
    assert "extra" not in doc and "ui_color" not in doc["nodes"][0]
    doc["nodes"][1]["config"]["condition"]["op"] = "lt"
    assert raw["nodes"][1]["config"]["condition"]["op"] == "gt"  # deep copies


def test_export_of_import_round_trips_after_defaults(registry):
    imported = validate_or_raise(SPEC_EXAMPLE, registry)
    assert validate_or_raise(imported, registry) == imported == normalize(SPEC_EXAMPLE)


# -- validate: the whole document ---------------------------------------------------------------
def test_spec_example_is_valid(registry):
    assert issues_of(SPEC_EXAMPLE, registry) == []


def test_document_must_be_an_object(registry):
    assert issues_of([], registry)[0]["message"] == "the document must be a JSON object"


def test_schema_must_be_switchyard_workflow_1(registry):
    assert has(issues_of({**SPEC_EXAMPLE, "schema": "other/2"}, registry), field="schema")


def test_nodes_and_edges_must_be_lists(registry):
    issues = issues_of({"schema": "switchyard.workflow/1", "nodes": {}, "edges": None}, registry)
    assert has(issues, field="nodes") and has(issues, field="edges")


def test_settings_are_checked(registry):
    issues = issues_of({**SPEC_EXAMPLE, "settings": {"timeout_s": -1, "max_runs_per_day": "x"}}, registry)
    assert has(issues, field="settings.timeout_s") and has(issues, field="settings.max_runs_per_day")


def test_every_issue_is_reported_not_only_the_first(registry):
    doc = workflow(
        [
            start(),
            node("Bad", "data.transform"),
            node("ghost_type", "no.such"),
            transform("t", {"x": "{{ input. }}"}),
        ],
        [edge("start", "nowhere"), edge("start", "t", mapping={"m": "{{ ) }}"})],
    )
    issues = issues_of(doc, registry)
    assert has(issues, node="Bad", field="id")
    assert has(issues, node="ghost_type", field="type")
    assert has(issues, node="t", field="config.set.x")
    assert has(issues, edge=0, field="target")
    assert has(issues, edge=1, field="mapping.m")


# -- validate: nodes ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad_id", ["A", "1a", "a-b", "", "a" * 64, 7])
def test_node_id_must_match_the_pattern(registry, bad_id):
    doc = workflow([start(), node(bad_id, "data.transform")], [])
    assert has(issues_of(doc, registry), field="id")


def test_node_ids_must_be_unique(registry):
    doc = workflow([start(), transform("a"), transform("a")], [])
    issues = issues_of(doc, registry)
    assert has(issues, node="a", field="id") and "duplicate" in issues[0]["message"]


def test_unknown_type_is_reported_on_field_type(registry):
    assert has(
        issues_of(workflow([start(), node("a", "no.such.type")], []), registry), node="a", field="type"
    )


def test_config_is_checked_against_the_type_schema_with_dotted_fields(registry):
    doc = workflow(
        [
            start(),
            node("t", "data.transform", {"set": [], "keep_input": "yes", "bogus": 1}),
            node("i", "logic.if", {}),
            node("w", "trigger.webhook", {"auth": {"type": "header"}}),
        ],
        [],
    )
    issues = issues_of(doc, registry)
    assert has(issues, node="t", field="config.set")
    assert has(issues, node="t", field="config.keep_input")
    assert has(issues, node="t", field="config.bogus")
    assert has(issues, node="i", field="config.condition")
    assert has(issues, node="w", field="config.auth.token")


def test_type_specific_checks_are_prefixed_with_config(registry):
    doc = workflow(
        [
            start(),
            node(
                "sw",
                "logic.switch",
                {"cases": [{"handle": "a", "condition": True}, {"handle": "a", "condition": True}]},
            ),
            node("sch", "trigger.schedule", {"cron": "61 * * *", "timezone": "Mars/Base"}),
        ],
        [],
    )
    issues = issues_of(doc, registry)
    assert has(issues, node="sw", field="config.cases.1.handle")
    assert has(issues, node="sch", field="config.cron")
    assert has(issues, node="sch", field="config.timezone")


def test_template_syntax_errors_in_config_name_the_path(registry):
    doc = workflow(
        [start(), transform("t", {"customer.name": "{{ input.name | }}", "ok": "{{ input.x }}"})], []
    )
    issues = issues_of(doc, registry)
    assert has(issues, node="t", field="config.set.customer.name")
    assert not has(issues, field="config.set.ok")


def test_conditions_are_checked_structurally(registry):
    doc = workflow(
        [
            start(),
            node("i", "logic.if", {"condition": {"left": "{{ input.a }}", "op": "bigger", "right": 1}}),
            node("f", "logic.filter", {"items": "{{ input.xs }}", "condition": {"all": "nope"}}),
        ],
        [],
    )
    issues = issues_of(doc, registry)
    assert has(issues, node="i", field="config.condition.op")
    assert has(issues, node="f", field="config.condition.all")


def test_retry_and_error_policies_are_checked(registry):
    doc = workflow(
        [
            start(),
            node(
                "a",
                "data.transform",
                retry={"max_attempts": 0, "backoff": "random", "jitter": "yes", "tries": 3},
                timeout_ms=-5,
                on_error="ignore",
                on_timeout="retry",
            ),
        ],
        [],
    )
    issues = issues_of(doc, registry)
    for field in (
        "retry.max_attempts",
        "retry.backoff",
        "retry.jitter",
        "retry.tries",
        "timeout_ms",
        "on_error",
        "on_timeout",
    ):
        assert has(issues, node="a", field=field), field


def test_position_must_be_two_numbers(registry):
    assert has(
        issues_of(workflow([start(), node("a", "data.transform", position=[1])], []), registry),
        node="a",
        field="position",
    )


# -- validate: edges ----------------------------------------------------------------------------
def test_dangling_edge_is_reported_with_edge_index_and_field(registry):
    doc = workflow([start(), transform("a")], [edge("start", "a"), edge("a", "ghost"), edge("phantom", "a")])
    issues = issues_of(doc, registry)
    assert has(issues, edge=1, field="target", node=None)
    assert has(issues, edge=2, field="source", node=None)


def test_source_handle_must_be_one_the_source_type_emits(registry):
    doc = workflow(
        [
            start(),
            node("i", "logic.if", {"condition": True}),
            transform("a"),
            transform("b"),
            node(
                "sw",
                "logic.switch",
                {"cases": [{"handle": "vip", "condition": True}], "default_handle": "rest"},
            ),
            transform("c"),
        ],
        [
            edge("start", "i"),
            edge("i", "a", "yes"),
            edge("i", "b", "error"),
            edge("start", "sw"),
            edge("sw", "c", "rest"),
        ],
    )
    issues = issues_of(doc, registry)
    assert has(issues, edge=1, field="source_handle")
    assert "true, false, error" in next(i for i in issues if i["edge"] == 1)["message"]
    assert not has(issues, edge=2) and not has(issues, edge=4)


def test_target_handle_must_be_main(registry):
    doc = workflow([start(), transform("a")], [{**edge("start", "a"), "target_handle": "side"}])
    assert has(issues_of(doc, registry), edge=0, field="target_handle")


def test_edges_into_a_trigger_are_refused(registry):
    doc = workflow([start(), transform("a")], [edge("start", "a"), edge("a", "start")])
    assert has(issues_of(doc, registry), edge=1, field="target")


def test_cycle_is_reported_once_per_node_on_it_not_downstream(registry):
    doc = workflow(
        [start(), transform("a"), transform("b"), transform("c")],
        [edge("start", "a"), edge("a", "b"), edge("b", "a"), edge("b", "c")],
    )
    issues = [i for i in issues_of(doc, registry) if i["field"] == "edges"]
    assert sorted(i["node"] for i in issues) == ["a", "b"]


def test_self_edge_is_a_cycle(registry):
    doc = workflow([start(), transform("a")], [edge("start", "a"), edge("a", "a")])
    assert has(issues_of(doc, registry), node="a", field="edges")


# -- validate: loops ----------------------------------------------------------------------------
def test_loop_body_cannot_be_entered_from_outside(registry):
    doc = workflow(
        [
            start(),
            node("loop", "logic.loop", {"items": "{{ input.xs }}"}),
            transform("body"),
            transform("outside"),
        ],
        [
            edge("start", "loop"),
            edge("loop", "body", "each"),
            edge("start", "outside"),
            edge("outside", "body"),
        ],
    )
    assert has(issues_of(doc, registry), edge=3, field="source")


def test_a_loop_inside_a_loop_body_is_accepted(registry):
    doc = workflow(
        [
            start(),
            node("outer", "logic.loop", {"items": "{{ input.xs }}"}),
            node("inner", "logic.loop", {"items": "{{ item }}"}),
            transform("body"),
            transform("after_inner"),
        ],
        [
            edge("start", "outer"),
            edge("outer", "inner", "each"),
            edge("inner", "body", "each"),
            edge("inner", "after_inner", "done"),
        ],
    )
    assert issues_of(doc, registry) == []


def test_inner_loop_body_cannot_be_entered_from_the_outer_body(registry):
    doc = workflow(
        [
            start(),
            node("outer", "logic.loop", {"items": "{{ input.xs }}"}),
            transform("prep"),
            node("inner", "logic.loop", {"items": "{{ item }}"}),
            transform("body"),
        ],
        [
            edge("start", "outer"),
            edge("outer", "prep", "each"),
            edge("prep", "inner"),
            edge("inner", "body", "each"),
            edge("prep", "body"),
        ],
    )
    assert has(issues_of(doc, registry), edge=4, field="source")


def test_loop_done_edge_into_its_own_body_is_refused(registry):
    doc = workflow(
        [start(), node("loop", "logic.loop", {"items": []}), transform("body")],
        [edge("start", "loop"), edge("loop", "body", "each"), edge("loop", "body", "done")],
    )
    assert has(issues_of(doc, registry), edge=2, field="source")


def test_workflow_without_trigger_is_allowed_at_save_time(registry):
    assert issues_of(workflow([transform("a")], []), registry) == []


# -- validate_or_raise ------------------------------------------------------------------------
def test_validate_or_raise_returns_the_normalized_document(registry):
    assert validate_or_raise(SPEC_EXAMPLE, registry) == normalize(SPEC_EXAMPLE)


def test_validate_or_raise_raises_with_every_issue(registry):
    with pytest.raises(WorkflowInvalid) as info:
        validate_or_raise(workflow([node("a", "nope"), node("a", "nope2")], chain("a", "zz")), registry)
    fields = {(i.node, i.edge, i.field) for i in info.value.issues}
    assert ("a", None, "type") in fields and ("a", None, "id") in fields and (None, 0, "target") in fields
