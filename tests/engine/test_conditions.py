"""Conditions (SPEC §3): template strings, structured comparisons, combinators, validation."""

from __future__ import annotations

import pytest

from workflows.engine.conditions import OPERATORS, check_condition, evaluate_condition
from workflows.engine.errors import ErrorCategory, TemplateError


@pytest.fixture
def scope():
    return {
        "input": {
            "country": "FR",
            "spend": 10,
            "email": "kim@corp.example",
            "n": 5,
            "tags": ["vip", "eu"],
            "meta": {"source": "web"},
            "nothing": None,
            "blank": "",
            "empty_list": [],
            "empty_obj": {},
            "zero": 0,
            "flag": False,
        },
        "item": {"total": 150},
        "variables": {"threshold": 100},
    }


def cond(left, op, right=None, **extra):
    condition = {"left": left, "op": op, **extra}
    if right is not None:
        condition["right"] = right
    return condition


def paths(problems):
    return [path for path, _ in problems]


# --- template strings and booleans --------------------------------------------------------


def test_operators_constant_lists_every_spec_operator():
    assert OPERATORS == frozenset(
        "eq ne gt lt gte lte in contains starts_with ends_with exists is_empty matches".split()
    )


def test_bare_booleans_are_conditions(scope):
    assert evaluate_condition(True, scope) is True
    assert evaluate_condition(False, scope) is False


def test_template_string_evaluating_to_a_boolean(scope):
    assert evaluate_condition("{{ input.n > 3 }}", scope) is True
    assert evaluate_condition("{{ input.n > 30 }}", scope) is False


def test_string_without_braces_is_a_bare_expression(scope):
    assert evaluate_condition("input.n > 3 and input.country == 'FR'", scope) is True


def test_non_boolean_template_results_use_truthiness(scope):
    assert evaluate_condition("{{ input.tags }}", scope) is True
    assert evaluate_condition("{{ input.empty_list }}", scope) is False
    assert evaluate_condition("{{ input.nothing }}", scope) is False
    assert evaluate_condition("{{ input.zero }}", scope) is False


def test_interpolated_true_and_false_text_count_as_booleans(scope):
    assert evaluate_condition("{{ input.flag }} ", scope) is False
    assert evaluate_condition("x{{ input.flag }}", scope) is True  # non-empty text


def test_template_condition_with_missing_path_fails_naming_it(scope):
    with pytest.raises(TemplateError, match="input.missing"):
        evaluate_condition("{{ input.missing > 1 }}", scope)


# --- eq / ne ------------------------------------------------------------------------------


def test_eq_compares_rendered_left_with_literal_right(scope):
    assert evaluate_condition(cond("{{ input.country }}", "eq", "FR"), scope) is True


def test_eq_does_not_coerce_types(scope):
    assert evaluate_condition(cond("{{ input.n }}", "eq", "5"), scope) is False
    assert evaluate_condition(cond("1", "eq", 1), scope) is False


def test_eq_treats_int_and_float_as_the_same_number(scope):
    assert evaluate_condition(cond(1, "eq", 1.0), scope) is True


def test_eq_treats_booleans_and_numbers_as_different_types(scope):
    assert evaluate_condition(cond(True, "eq", 1), scope) is False
    assert evaluate_condition(cond("{{ input.zero }}", "eq", False), scope) is False


def test_eq_compares_lists_and_objects_deeply_without_coercion(scope):
    assert evaluate_condition(cond("{{ input.tags }}", "eq", ["vip", "eu"]), scope) is True
    assert evaluate_condition(cond([1, True], "eq", [1, 1]), scope) is False
    assert evaluate_condition(cond({"a": [1]}, "eq", {"a": [1.0]}), scope) is True


def test_eq_compares_null_with_null_only(scope):
    assert evaluate_condition({"left": "{{ input.nothing }}", "op": "eq", "right": None}, scope) is True
    assert evaluate_condition({"left": "{{ input.blank }}", "op": "eq", "right": None}, scope) is False


def test_ne_is_the_negation_of_eq(scope):
    assert evaluate_condition(cond("{{ input.n }}", "ne", "5"), scope) is True
    assert evaluate_condition(cond("{{ input.n }}", "ne", 5), scope) is False


def test_right_side_templates_are_rendered(scope):
    assert evaluate_condition(cond("{{ item.total }}", "gt", "{{ variables.threshold }}"), scope) is True


# --- ordering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "right", "expected"),
    [
        ("gt", 4, True),
        ("gt", 5, False),
        ("gte", 5, True),
        ("lt", 6, True),
        ("lt", 5, False),
        ("lte", 5, True),
    ],
)
def test_ordering_operators_on_numbers(scope, op, right, expected):
    assert evaluate_condition(cond("{{ input.n }}", op, right), scope) is expected


def test_ordering_operators_on_strings(scope):
    assert evaluate_condition(cond("2024-05-01", "gt", "2024-04-30"), scope) is True


def test_ordering_mixed_types_is_a_template_error_naming_op_and_types(scope):
    with pytest.raises(TemplateError) as info:
        evaluate_condition(cond("5", "gt", 1), scope)
    assert "'gt'" in info.value.message
    assert "string" in info.value.message and "number" in info.value.message
    assert info.value.category == ErrorCategory.TEMPLATE_ERROR


def test_ordering_with_null_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="null"):
        evaluate_condition(cond("{{ input.nothing }}", "lt", 1), scope)


def test_ordering_booleans_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="boolean"):
        evaluate_condition(cond(True, "gte", False), scope)


# --- in / contains ------------------------------------------------------------------------


def test_in_checks_element_of_a_list(scope):
    assert evaluate_condition(cond("{{ input.country }}", "in", ["DE", "FR"]), scope) is True
    assert evaluate_condition(cond("{{ input.country }}", "in", ["DE", "IT"]), scope) is False


def test_in_checks_substring(scope):
    assert evaluate_condition(cond("corp", "in", "{{ input.email }}"), scope) is True


def test_in_does_not_coerce_list_elements(scope):
    assert evaluate_condition(cond("{{ input.n }}", "in", ["5"]), scope) is False
    assert evaluate_condition(cond(1, "in", [True]), scope) is False


def test_in_with_a_number_on_the_right_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="'in'"):
        evaluate_condition(cond("a", "in", 5), scope)


def test_contains_checks_keys_elements_and_substrings(scope):
    assert evaluate_condition(cond("{{ input.tags }}", "contains", "vip"), scope) is True
    assert evaluate_condition(cond("{{ input.email }}", "contains", "@corp"), scope) is True
    assert evaluate_condition(cond("{{ input.meta }}", "contains", "source"), scope) is True
    assert evaluate_condition(cond("{{ input.meta }}", "contains", "web"), scope) is False
    assert evaluate_condition(cond("{{ input.tags }}", "contains", "gold"), scope) is False


def test_contains_non_string_in_a_string_is_false(scope):
    assert evaluate_condition(cond("abc 5", "contains", 5), scope) is False


def test_contains_on_null_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="contains"):
        evaluate_condition(cond("{{ input.nothing }}", "contains", "x"), scope)


# --- strings and regex --------------------------------------------------------------------


def test_starts_with_and_ends_with(scope):
    assert evaluate_condition(cond("{{ input.email }}", "starts_with", "kim@"), scope) is True
    assert evaluate_condition(cond("{{ input.email }}", "ends_with", "@corp.example"), scope) is True
    assert evaluate_condition(cond("{{ input.email }}", "ends_with", "@other.example"), scope) is False


def test_starts_with_on_a_non_string_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="starts_with"):
        evaluate_condition(cond("{{ input.n }}", "starts_with", "5"), scope)


def test_matches_uses_regex_search(scope):
    assert evaluate_condition(cond("{{ input.email }}", "matches", r"@corp\.example$"), scope) is True
    assert evaluate_condition(cond("{{ input.email }}", "matches", r"^corp"), scope) is False


def test_matches_with_an_invalid_pattern_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="regular expression"):
        evaluate_condition(cond("x", "matches", "("), scope)


def test_matches_refuses_an_oversized_pattern(scope):
    with pytest.raises(TemplateError, match="pattern is longer"):
        evaluate_condition(cond("x", "matches", "a" * 5000), scope)


def test_matches_refuses_an_oversized_subject(scope):
    with pytest.raises(TemplateError, match="text is longer"):
        evaluate_condition(cond("{{ big }}", "matches", "a"), {"big": "a" * 200_000})


def test_matches_on_a_non_string_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="matches"):
        evaluate_condition(cond("{{ input.n }}", "matches", "5"), scope)


# --- exists / is_empty --------------------------------------------------------------------


def test_exists_is_true_for_a_present_non_null_value(scope):
    assert evaluate_condition(cond("{{ input.country }}", "exists"), scope) is True
    assert evaluate_condition(cond("{{ input.zero }}", "exists"), scope) is True
    assert evaluate_condition(cond("{{ input.blank }}", "exists"), scope) is True


def test_exists_is_false_for_a_missing_path_instead_of_failing(scope):
    assert evaluate_condition(cond("{{ input.customer.email }}", "exists"), scope) is False


def test_exists_is_false_for_null(scope):
    assert evaluate_condition(cond("{{ input.nothing }}", "exists"), scope) is False


def test_unary_operators_ignore_right(scope):
    assert evaluate_condition(cond("{{ input.country }}", "exists", "ignored"), scope) is True


@pytest.mark.parametrize("path", ["nothing", "blank", "empty_list", "empty_obj", "missing", "missing.deeper"])
def test_is_empty_is_true_for_null_empty_and_missing(scope, path):
    assert evaluate_condition(cond("{{ input." + path + " }}", "is_empty"), scope) is True


@pytest.mark.parametrize("path", ["zero", "flag", "tags", "country", "meta"])
def test_is_empty_is_false_for_values(scope, path):
    assert evaluate_condition(cond("{{ input." + path + " }}", "is_empty"), scope) is False


def test_unary_operand_with_a_non_path_error_still_fails(scope):
    with pytest.raises(TemplateError, match="division by zero"):
        evaluate_condition(cond("{{ 1 / 0 }}", "exists"), scope)


def test_binary_operator_with_missing_path_fails_naming_it(scope):
    with pytest.raises(TemplateError, match="input.customer.email"):
        evaluate_condition(cond("{{ input.customer.email }}", "eq", "x"), scope)


# --- combinators --------------------------------------------------------------------------


def test_all_requires_every_condition(scope):
    assert evaluate_condition({"all": [True, cond("{{ input.n }}", "eq", 5)]}, scope) is True
    assert evaluate_condition({"all": [True, False]}, scope) is False


def test_any_requires_one_condition(scope):
    assert evaluate_condition({"any": [False, cond("{{ input.n }}", "eq", 5)]}, scope) is True
    assert evaluate_condition({"any": [False, False]}, scope) is False


def test_empty_all_is_true_and_empty_any_is_false(scope):
    assert evaluate_condition({"all": []}, scope) is True
    assert evaluate_condition({"any": []}, scope) is False


def test_not_negates(scope):
    assert evaluate_condition({"not": cond("{{ input.n }}", "eq", 5)}, scope) is False
    assert evaluate_condition({"not": False}, scope) is True


def test_all_and_any_short_circuit(scope):
    failing = cond("{{ input.missing }}", "eq", 1)
    assert evaluate_condition({"any": [True, failing]}, scope) is True
    assert evaluate_condition({"all": [False, failing]}, scope) is False


def test_nested_all_any_not_from_the_conformance_switch(scope):
    vip = {
        "all": [
            cond("{{ input.country }}", "in", ["DE", "FR"]),
            {
                "any": [
                    cond("{{ input.spend }}", "gte", 1000),
                    cond("{{ input.email }}", "ends_with", "@corp.example"),
                ]
            },
        ]
    }
    assert evaluate_condition(vip, scope) is True
    assert evaluate_condition({"not": vip}, scope) is False
    assert evaluate_condition(vip, {**scope, "input": {**scope["input"], "email": "a@b.c"}}) is False


def test_mixed_template_strings_and_structured_conditions_nest(scope):
    assert evaluate_condition({"all": ["{{ input.n > 1 }}", {"not": "{{ input.flag }}"}]}, scope) is True


def test_malformed_condition_at_run_time_is_a_template_error(scope):
    for bad in (
        {"all": "x"},
        {"op": "bogus", "left": 1, "right": 2},
        {"left": 1},
        5,
        None,
        {"op": "eq", "right": 1},
    ):
        with pytest.raises(TemplateError):
            evaluate_condition(bad, scope)


def test_binary_operator_without_right_is_a_template_error_at_run_time(scope):
    with pytest.raises(TemplateError, match="right"):
        evaluate_condition({"left": 1, "op": "eq"}, scope)


# --- check_condition ----------------------------------------------------------------------


def test_check_accepts_valid_conditions():
    condition = {
        "all": [
            cond("{{ input.country }}", "in", ["DE", "FR"]),
            {"any": [cond("{{ input.spend }}", "gte", 1000), "{{ input.vip }}"]},
            {"not": cond("{{ input.x }}", "exists")},
            cond("{{ input.email }}", "matches", r"^\w+@"),
            True,
        ]
    }
    assert check_condition(condition, "condition") == []


def test_check_reports_unknown_operator_with_its_path():
    problems = check_condition({"all": [cond("a", "bogus", "b")]}, "condition")
    assert paths(problems) == ["condition.all.0.op"]
    assert "bogus" in problems[0][1]


def test_check_reports_missing_left_and_missing_right():
    assert paths(check_condition({"op": "eq", "right": 1})) == ["left"]
    assert paths(check_condition({"op": "eq", "left": 1})) == ["right"]


def test_check_does_not_require_right_for_unary_operators():
    assert check_condition({"op": "exists", "left": "{{ a }}"}) == []
    assert check_condition({"op": "is_empty", "left": "{{ a }}"}) == []


def test_check_reports_template_syntax_errors_inside_operands():
    problems = check_condition({"any": [cond("{{ a + }}", "eq", ["x", "{{ ) }}"])]}, "condition")
    assert paths(problems) == ["condition.any.0.left", "condition.any.0.right.1"]


def test_check_reports_syntax_errors_in_template_and_bare_string_conditions():
    assert paths(check_condition("{{ a b }}", "condition")) == ["condition"]
    assert paths(check_condition("a b", "condition")) == ["condition"]


def test_check_reports_non_list_all_and_any():
    assert paths(check_condition({"all": {"op": "eq"}}, "c")) == ["c.all"]
    assert paths(check_condition({"any": "x"}, "c")) == ["c.any"]


def test_check_reports_bad_not_shapes():
    assert paths(check_condition({"not": [True]}, "c")) == ["c.not"]
    assert paths(check_condition({"not": {"op": "nope", "left": 1, "right": 1}}, "c")) == ["c.not.op"]


def test_check_reports_objects_that_are_not_exactly_one_form():
    assert paths(check_condition({"left": 1, "right": 2}, "c")) == ["c"]
    assert paths(check_condition({"all": [], "any": []}, "c")) == ["c"]


def test_check_reports_values_that_are_not_conditions():
    assert paths(check_condition(None, "c")) == ["c"]
    assert paths(check_condition({"all": [5]}, "c")) == ["c.all.0"]


def test_check_reports_an_invalid_literal_regex():
    problems = check_condition(cond("{{ a }}", "matches", "(unclosed"), "c")
    assert paths(problems) == ["c.right"]
    assert "regular expression" in problems[0][1]


def test_check_does_not_compile_a_templated_regex():
    assert check_condition(cond("{{ a }}", "matches", "{{ variables.pattern }}")) == []


def test_check_paths_are_relative_without_a_prefix():
    assert paths(check_condition({"all": [{"op": "x", "left": 1, "right": 1}]})) == ["all.0.op"]


def test_check_never_evaluates():
    assert check_condition(cond("{{ 1 / 0 }}", "eq", "{{ missing.path }}")) == []


def test_a_catastrophic_matches_pattern_fails_with_a_timeout_instead_of_stalling():
    """`(a|aa)+$` on 40 `a`s and `!` backtracks for minutes with Python's `re`."""
    import threading
    import time

    from workflows.engine import conditions
    from workflows.engine.errors import NodeError

    ticks = []
    stop = threading.Event()

    def tick():  # another thread (a lease heartbeat, say) must keep running meanwhile
        while not stop.wait(0.05):
            ticks.append(time.monotonic())

    ticker = threading.Thread(target=tick)
    ticker.start()
    started = time.monotonic()
    try:
        with pytest.raises(NodeError) as caught:
            evaluate_condition({"left": "a" * 40 + "!", "op": "matches", "right": "(a|aa)+$"}, {})
    finally:
        stop.set()
        ticker.join()
    assert caught.value.category == ErrorCategory.TIMEOUT_ERROR
    assert f"took longer than {conditions.MATCH_TIMEOUT_S:g} s" in caught.value.message
    assert [t for t in ticks if t > started]  # the other thread ran while the pattern did


def test_matches_keeps_python_re_syntax():
    assert evaluate_condition({"left": "order-42", "op": "matches", "right": r"^order-\d+$"}, {}) is True
    assert evaluate_condition({"left": "A", "op": "matches", "right": "(?i)a"}, {}) is True
    with pytest.raises(TemplateError):
        evaluate_condition({"left": "x", "op": "matches", "right": "("}, {})
