"""Templates (SPEC §3): rendering, native values, missing paths, the sandbox, syntax checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workflows.engine import templates
from workflows.engine.errors import ErrorCategory, TemplateError
from workflows.engine.templates import MissingPathError, check_syntax, evaluate, render

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scope():
    return {
        "trigger": {"target": "http://example.test"},
        "input": {
            "qty": 3,
            "unit": 2.5,
            "name": "ada",
            "customer": {},
            "orders": [{"id": 1, "total": 50}, {"id": 2, "total": 150}],
            "tags": ["a", "b"],
            "nothing": None,
            "flag": True,
            "items": "the items value",
            "_id": "abc",
        },
        "nodes": {"fetch_user": {"body": {"email": "kim@example.test"}}},
        "variables": {"threshold": 100},
        "item": "ann",
        "index": 0,
    }


def fails_with(value, scope, match=None):
    with pytest.raises(TemplateError, match=match) as info:
        render(value, scope)
    return info.value


# --- plain strings and the fast path ------------------------------------------------------


def test_string_without_braces_is_returned_unchanged_and_identical(scope):
    text = "no templates here {single} braces"
    assert render(text, scope) is text


def test_non_string_scalars_are_returned_unchanged(scope):
    assert render(5, scope) == 5
    assert render(None, scope) is None
    assert render(True, scope) is True


# --- native values ------------------------------------------------------------------------


def test_single_expression_yields_native_number(scope):
    assert render("{{ input.qty * input.unit }}", scope) == 7.5


def test_single_expression_yields_native_list(scope):
    assert render("{{ input.tags }}", scope) == ["a", "b"]


def test_single_expression_yields_native_object(scope):
    assert render("{{ input.orders[0] }}", scope) == {"id": 1, "total": 50}


def test_single_expression_yields_native_bool_and_null(scope):
    assert render("{{ input.flag }}", scope) is True
    assert render("{{ input.nothing }}", scope) is None


def test_single_expression_with_surrounding_whitespace_is_native(scope):
    assert render("  {{ input.qty }}\n", scope) == 3


def test_list_and_tuple_literals_yield_lists(scope):
    assert render("{{ [input.qty, 'x'] }}", scope) == [3, "x"]
    assert render("{{ (1, 2) }}", scope) == [1, 2]


def test_dict_literal_with_nested_braces_is_one_expression(scope):
    assert render('{{ {"a": {"b": input.qty}} }}', scope) == {"a": {"b": 3}}


def test_closing_braces_inside_a_string_literal_do_not_end_the_expression(scope):
    assert render("{{ '}}' }}", scope) == "}}"


# --- interpolation ------------------------------------------------------------------------


def test_interpolation_writes_strings_verbatim(scope):
    assert render("hello {{ item }} #{{ index }}", scope) == "hello ann #0"


def test_interpolation_writes_non_strings_as_compact_json(scope):
    rendered = render("{{ input.flag }} {{ input.nothing }} {{ input.tags }} {{ input.orders[0] }}", scope)
    assert rendered == 'true null ["a","b"] {"id":1,"total":50}'


def test_interpolation_writes_numbers_as_json(scope):
    assert render("total={{ input.qty * input.unit }} n={{ input.qty }}", scope) == "total=7.5 n=3"


def test_two_adjacent_expressions_interpolate_rather_than_yield_native(scope):
    assert render("{{ input.qty }}{{ input.qty }}", scope) == "33"


def test_interpolation_keeps_non_ascii_text_readable(scope):
    assert render("{{ ['Zoë'] }}!", scope) == '["Zoë"]!'


def test_tilde_concatenation_uses_the_same_text_rules(scope):
    assert render("{{ 'a' ~ true ~ null ~ 1.5 }}", scope) == "atruenull1.5"


# --- recursion through structures ---------------------------------------------------------


def test_render_recurses_through_dict_values_and_lists(scope):
    config = {"url": "{{ trigger.target }}/x", "body": {"n": "{{ input.qty }}", "tags": ["{{ item }}", 1]}}
    assert render(config, scope) == {
        "url": "http://example.test/x",
        "body": {"n": 3, "tags": ["ann", 1]},
    }


def test_render_leaves_dict_keys_alone(scope):
    assert render({"{{ item }}": "{{ item }}"}, scope) == {"{{ item }}": "ann"}


def test_render_returns_new_containers(scope):
    config = {"a": [1]}
    rendered = render(config, scope)
    assert rendered == config
    assert rendered is not config and rendered["a"] is not config["a"]


# --- paths --------------------------------------------------------------------------------


def test_attribute_access_on_a_dict_is_key_lookup(scope):
    assert render("{{ variables.threshold }}", scope) == 100


def test_index_and_quoted_key_paths(scope):
    assert render("{{ input.orders[1].total }}", scope) == 150
    assert render('{{ input["orders"][0]["id"] }}', scope) == 1
    assert render("{{ input.orders.1.id }}", scope) == 2


def test_node_ids_with_underscores_resolve(scope):
    assert render("{{ nodes.fetch_user.body.email }}", scope) == "kim@example.test"


def test_dynamic_index_uses_the_runtime_value(scope):
    assert render("{{ input.tags[index] }}", scope) == "a"


def test_dict_key_named_items_wins_over_method(scope):
    assert render("{{ input.items }}", scope) == "the items value"


@pytest.mark.parametrize("name", ["keys", "values", "get", "update", "count", "pop", "copy"])
def test_dict_keys_named_like_methods_yield_their_values(name):
    assert render("{{ data." + name + " }}", {"data": {name: 42}}) == 42


def test_methods_are_not_reachable_on_any_value(scope):
    fails_with("{{ input.name.upper() }}", scope, match="input.name.upper")
    fails_with("{{ input.tags.append }}", scope, match="input.tags.append")


def test_slicing_a_list(scope):
    assert render("{{ input.tags[1:] }}", scope) == ["b"]


def test_names_come_from_the_caller_scope_not_a_fixed_list():
    assert render("{{ steps.lookup.id }}", {"steps": {"lookup": {"id": 9}}}) == 9


# --- missing paths ------------------------------------------------------------------------


def test_missing_path_error_names_the_full_path(scope):
    error = fails_with("{{ input.customer.email }}", scope)
    assert "input.customer.email" in error.message
    assert error.category == ErrorCategory.TEMPLATE_ERROR


def test_missing_path_error_is_a_template_error_subclass_with_the_path_in_details(scope):
    error = fails_with("{{ input.customer.email }}", scope)
    assert isinstance(error, MissingPathError)
    assert error.details == {"path": "input.customer.email"}


def test_missing_path_inside_interpolation_fails(scope):
    fails_with("Hi {{ input.customer.name }}!", scope, match="input.customer.name")


def test_missing_path_below_a_missing_parent_names_the_full_path(scope):
    error = fails_with("{{ input.a.b.c }}", scope)
    assert "input.a.b.c" in error.message
    assert "input.a" in error.message


def test_path_through_null_names_the_null_parent(scope):
    error = fails_with("{{ input.nothing.x }}", scope)
    assert "input.nothing.x" in error.message and "null" in error.message


def test_index_out_of_range_is_a_missing_path(scope):
    error = fails_with("{{ input.tags[5] }}", scope)
    assert "input.tags[5]" in error.message


def test_quoted_key_path_is_named_as_written(scope):
    error = fails_with('{{ input["customer"]["email"] }}', scope)
    assert 'input["customer"]["email"]' in error.message


def test_unknown_top_level_name_is_a_missing_path(scope):
    fails_with("{{ workspace.token }}", scope, match="workspace")


def test_missing_path_in_arithmetic_fails_naming_the_path(scope):
    fails_with("{{ input.missing + 1 }}", scope, match="input.missing")


def test_missing_path_in_comparison_fails_naming_the_path(scope):
    fails_with("{{ input.missing == 1 }}", scope, match="input.missing")


def test_missing_path_in_a_truth_test_fails(scope):
    fails_with("{{ input.missing or 'x' }}", scope, match="input.missing")


def test_missing_path_inside_a_list_literal_fails(scope):
    fails_with("{{ [input.missing, 1] }}", scope, match="input.missing")


def test_missing_path_is_not_defined(scope):
    assert render("{{ input.a.b is defined }}", scope) is False
    assert render("{{ input.customer is defined }}", scope) is True
    assert render("{{ input.a.b is not defined }}", scope) is True


def test_untaken_branch_with_missing_path_does_not_fail(scope):
    assert render("{{ input.missing if false else 3 }}", scope) == 3


# --- default ------------------------------------------------------------------------------


def test_default_replaces_a_missing_path(scope):
    assert render("{{ input.missing | default('none') }}", scope) == "none"


def test_default_replaces_null(scope):
    assert render("{{ input.nothing | default(7) }}", scope) == 7


def test_default_guards_a_deep_path_below_a_missing_parent(scope):
    assert render("{{ input.a.b.c | default(0) }}", scope) == 0


def test_default_guards_a_path_through_null(scope):
    assert render("{{ input.nothing.x | default('n/a') }}", scope) == "n/a"


def test_default_keeps_present_falsy_values(scope):
    assert render("{{ input.flag | default(false) }}", scope) is True
    assert render("{{ values.zero | default(5) }}", {"values": {"zero": 0}}) == 0
    assert render("{{ values.empty | default('x') }}", {"values": {"empty": ""}}) == ""


def test_filter_binds_tighter_than_operators(scope):
    assert render("{{ input.missing | default(0) + input.qty }}", scope) == 3


# --- literals -----------------------------------------------------------------------------


def test_true_false_null_are_literals(scope):
    assert render("{{ true }}", scope) is True
    assert render("{{ false }}", scope) is False
    assert render("{{ null }}", scope) is None


def test_jinja_spellings_of_literals_are_accepted(scope):
    assert render("{{ True }}", scope) is True
    assert render("{{ False }}", scope) is False
    assert render("{{ none }}", scope) is None


def test_string_literals_take_single_or_double_quotes(scope):
    assert render("{{ 'a' ~ \"b\" }}", scope) == "ab"


# --- operators ----------------------------------------------------------------------------


def test_arithmetic(scope):
    assert render("{{ input.qty + 1 }}", scope) == 4
    assert render("{{ input.qty - 1 }}", scope) == 2
    assert render("{{ input.qty / 2 }}", scope) == 1.5
    assert render("{{ input.qty // 2 }}", scope) == 1
    assert render("{{ input.qty % 2 }}", scope) == 1
    assert render("{{ 2 ** 3 }}", scope) == 8


def test_comparison_and_boolean_operators(scope):
    assert render("{{ input.qty > 2 and not (input.qty >= 4) }}", scope) is True
    assert render("{{ input.qty == 3 or false }}", scope) is True


def test_in_operator_on_lists_and_strings(scope):
    assert render("{{ 'a' in input.tags }}", scope) is True
    assert render("{{ 'd' in input.name }}", scope) is True
    assert render("{{ 'z' in input.tags }}", scope) is False


def test_division_by_zero_is_a_template_error(scope):
    fails_with("{{ input.qty / 0 }}", scope, match="division by zero")


def test_type_error_is_a_template_error_with_the_expression(scope):
    error = fails_with("{{ 1 + 'a' }}", scope)
    assert "1 + 'a'" in error.message


def test_comparing_null_with_a_number_is_a_template_error(scope):
    fails_with("{{ input.nothing > 1 }}", scope)


def test_calling_a_non_callable_is_a_template_error(scope):
    fails_with("{{ input.qty() }}", scope)


# --- filters ------------------------------------------------------------------------------


def test_length_filter(scope):
    assert render("{{ input.tags | length }}", scope) == 2
    assert render("{{ input.name | length }}", scope) == 3
    assert render("{{ input.orders[0] | length }}", scope) == 2


def test_length_of_a_number_is_a_template_error(scope):
    fails_with("{{ input.qty | length }}", scope, match="length")


def test_length_of_a_missing_path_fails_naming_the_path(scope):
    fails_with("{{ input.missing | length }}", scope, match="input.missing")


def test_lower_and_upper_filters(scope):
    assert render("{{ input.name | upper }}", scope) == "ADA"
    assert render("{{ 'ABC' | lower }}", scope) == "abc"


def test_upper_of_null_is_a_template_error(scope):
    fails_with("{{ input.nothing | upper }}", scope, match="upper")


def test_int_filter_converts_numbers_and_numeric_strings(scope):
    assert render("{{ '42' | int }}", scope) == 42
    assert render("{{ ' 3.7 ' | int }}", scope) == 3
    assert render("{{ 2.9 | int }}", scope) == 2


def test_int_filter_fails_on_non_numeric_text(scope):
    fails_with("{{ 'abc' | int }}", scope, match="int")


def test_int_filter_with_explicit_fallback_uses_it(scope):
    assert render("{{ 'abc' | int(0) }}", scope) == 0


def test_float_filter(scope):
    assert render("{{ '2.5' | float }}", scope) == 2.5
    assert render("{{ input.qty | float }}", scope) == 3.0
    fails_with("{{ 'x' | float }}", scope, match="float")


def test_string_filter_writes_the_interpolation_text(scope):
    assert render("{{ input.qty | string }}", scope) == "3"
    assert render("{{ input.nothing | string }}", scope) == "null"
    assert render("{{ input.flag | string }}", scope) == "true"
    assert render("{{ input.tags | string }}", scope) == '["a","b"]'


def test_json_filter_writes_compact_json(scope):
    assert render("{{ input.orders[0] | json }}", scope) == '{"id":1,"total":50}'
    assert render("{{ input.name | json }}", scope) == '"ada"'


def test_extra_filters_round_abs_trim_join(scope):
    assert render("{{ 2.567 | round(2) }}", scope) == 2.57
    assert render("{{ -3 | abs }}", scope) == 3
    assert render("{{ '  x ' | trim }}", scope) == "x"
    assert render("{{ input.tags | join(', ') }}", scope) == "a, b"


# --- sandbox ------------------------------------------------------------------------------


def test_underscore_attribute_fails_with_template_error(scope):
    error = fails_with("{{ input.__class__ }}", scope, match="__class__")
    assert error.category == ErrorCategory.TEMPLATE_ERROR


def test_underscore_name_fails_with_template_error(scope):
    fails_with("{{ _secret }}", scope, match="_secret")


def test_underscore_attribute_on_a_dict_fails_even_when_the_key_exists(scope):
    fails_with("{{ input._id }}", scope, match="_id")


def test_underscore_key_in_subscript_on_a_dict_is_data(scope):
    assert render('{{ input["_id"] }}', scope) == "abc"


def test_underscore_subscript_on_a_non_object_fails(scope):
    fails_with("{{ input.name['__class__'] }}", scope, match="__class__")


def test_underscore_names_are_not_syntax_errors():
    assert check_syntax("{{ input.__class__ }}") == []
    assert check_syntax("{{ _x }}") == []


def test_python_and_jinja_globals_are_not_available(scope):
    for name in ("lipsum", "dict", "cycler", "namespace", "joiner"):
        fails_with("{{ " + name + " }}", scope, match=name)


def test_string_repetition_over_the_size_bound_fails(scope):
    fails_with("{{ 'x' * 2000000 }}", scope, match="too large")


def test_repeated_concatenation_over_the_size_bound_fails(scope):
    fails_with("{{ ('x' * 600000) ~ ('y' * 600000) }}", scope, match="too large")


def test_rendered_text_over_the_size_bound_fails():
    big = "x" * 600_000
    with pytest.raises(TemplateError, match="too large"):
        render("{{ a }}{{ a }}", {"a": big})


def test_huge_integer_power_fails(scope):
    fails_with("{{ 2 ** 100000 }}", scope, match="too large")


def test_large_range_fails(scope):
    fails_with("{{ range(1000000) }}", scope, match="range")


def test_small_range_yields_a_list(scope):
    assert render("{{ range(3) }}", scope) == [0, 1, 2]


def test_percent_string_formatting_is_refused(scope):
    fails_with("{{ '%999999999s' % 1 }}", scope, match="formatting")


def test_complex_results_are_refused(scope):
    fails_with("{{ (-8) ** 0.5 }}", scope, match="complex")


def test_render_never_leaks_non_template_errors(scope):
    for expression in (
        "{{ input.tags + 1 }}",
        "{{ input.qty[0] }}",
        "{{ input.name | join }}",
        "{{ {[1]: 2} }}",
    ):
        with pytest.raises(TemplateError):
            render(expression, scope)


# --- syntax -------------------------------------------------------------------------------


def test_check_syntax_accepts_valid_templates():
    assert check_syntax({"a": "{{ input.x | default(0) + 1 }}", "b": ["plain", "x {{ y }}"], "c": 5}) == []


def test_check_syntax_reports_dotted_paths_for_dicts_and_lists():
    problems = check_syntax({"set": {"x": "{{ a + }}"}, "items": ["ok", "{{ ) }}"]})
    assert [path for path, _ in problems] == ["set.x", "items.1"]


def test_check_syntax_uses_the_given_path_prefix():
    assert [path for path, _ in check_syntax({"x": "{{ ( }}"}, "config")] == ["config.x"]


def test_check_syntax_reports_bare_string_with_empty_path():
    problems = check_syntax("{{ a b }}")
    assert len(problems) == 1 and problems[0][0] == ""


def test_check_syntax_reports_unclosed_braces():
    [(path, message)] = check_syntax("hello {{ name")
    assert "never closed" in message


def test_check_syntax_reports_unknown_filters_even_inside_conditionals():
    assert "unknown filter 'nope'" in check_syntax("{{ a | nope }}")[0][1]
    assert "unknown filter 'nope'" in check_syntax("{{ a | nope if b else 1 }}")[0][1]


def test_check_syntax_reports_empty_expression():
    assert check_syntax("{{ }}")


def test_check_syntax_does_not_evaluate():
    assert check_syntax("{{ 1 / 0 }}") == []
    assert check_syntax("{{ 'x' * 100000000 }}") == []


def test_syntax_error_at_run_time_is_a_template_error(scope):
    fails_with("{{ a + }}", scope, match="syntax")


def test_block_and_comment_tags_are_plain_text(scope):
    assert render("{% if x %}{# c #} {{ item }}", scope) == "{% if x %}{# c #} ann"


# --- evaluate -----------------------------------------------------------------------------


def test_evaluate_returns_native_values(scope):
    assert evaluate("input.qty > 2", scope) is True
    assert evaluate("input.tags", scope) == ["a", "b"]


def test_evaluate_missing_path_names_the_path(scope):
    with pytest.raises(MissingPathError, match="input.nope.x"):
        evaluate("input.nope.x", scope)


def test_evaluate_syntax_error_is_a_template_error(scope):
    with pytest.raises(TemplateError, match="syntax"):
        evaluate("input.qty >", scope)


def test_compiled_expressions_are_cached():
    templates._compile_template_cached.cache_clear()
    render("{{ a }} cached", {"a": 1})
    render("{{ a }} cached", {"a": 2})
    info = templates._compile_template_cached.cache_info()
    assert info.hits == 1 and info.misses == 1


def test_engine_templates_and_conditions_do_not_import_django():
    code = (
        "import sys, workflows.engine.templates, workflows.engine.conditions;"
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.parametrize(
    "source",
    [
        '{{ "{0.__globals__}".format(input) }}',
        '{{ "{}".format_map(input) }}',
        '{{ ("{0." ~ "__class__}").format(1) }}',
    ],
)
def test_templates_have_no_string_format(source):
    with pytest.raises(TemplateError):
        render(source, {"input": {"a": 1}})


@pytest.mark.parametrize(
    "source",
    [
        '{{ ([0] * 1000) | join("x" * 999000) }}',
        '{{ ([0] * 10000) | join("y" * 200) }}',
        '{{ ["a" * 600000, "b" * 600000] | join }}',
        "{{ ([[0] * 100000] * 9) | json }}",
        "{{ ([[0] * 100000] * 9) | string }}",
        "{{ input.big | upper }}",
        "{{ input.big | string }}",
        "{{ input.big | json }}",
        "{{ input.bigs | join }}",
        '{{ ("ab" * 400000) | lower ~ ("ab" * 400000) | upper }}',
        '{{ "x" * 10 ** 12 }}',
        "{{ [1] * 10 ** 9 }}",
    ],
)
def test_every_filter_and_repetition_is_bounded_without_building_the_value(source):
    import tracemalloc

    scope = {"input": {"big": "z" * 1_200_000, "bigs": ["z" * 400_000] * 3}}
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as caught:
            render(source, scope)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "1000000" in caught.value.message.replace(",", "") or "too large" in caught.value.message
    assert peak < 64 * 1024 * 1024, f"{peak} bytes allocated"  # never the ~1 GB value


def test_bounded_filters_still_work_below_the_limit():
    assert render("{{ [1, 'a', null] | join('-') }}", {}) == "1-a-null"
    assert render("{{ {'a': [1]} | json }}", {}) == '{"a":[1]}'
    assert render("{{ 5 | string }}", {}) == "5"
    assert render("{{ ' Hi ' | trim | upper }}", {}) == "HI"
    assert render("{{ [0, 1, 2] | join(', ') }}", {}) == "0, 1, 2"
