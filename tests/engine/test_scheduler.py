"""The execution semantics of SPEC §4/§5, one test per rule, on the in-memory store."""

from __future__ import annotations

import threading
import time

from workflows.engine.policy import retry_delay_s
from workflows.engine.store import NodeState

from .engine_helpers import (
    Engine,
    FakeServices,
    chain,
    edge,
    node,
    start,
    transform,
    workflow,
)


def peak_concurrency(calls) -> int:
    """The most test.sleep executions that were in progress at the same moment."""
    events = sorted([(s, 1) for _, _, s, _ in calls.log] + [(e, -1) for _, _, _, e in calls.log])
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def sleep(node_id, ms, **extra):
    cfg = {"ms": ms}
    if "set" in extra:
        cfg["set"] = extra.pop("set")
    return node(node_id, "test.sleep", cfg, **extra)


# -- inputs and outputs ------------------------------------------------------------------------
def test_trigger_input_and_output_are_the_trigger_payload(engine):
    res = engine.run(workflow([start()], []), {"k": 1})
    assert res.node("start").input == {"k": 1}
    assert res.node("start").output == {"k": 1}
    assert res.status == "completed" and res.output == {"k": 1}


def test_input_is_shallow_merge_of_active_edges_in_declaration_order(engine):
    # `slow` is declared first but finishes last: declaration order, not arrival, decides.
    doc = workflow(
        [
            start(),
            sleep("slow", 150, set={"who": "slow", "a": 1}),
            sleep("fast", 1, set={"who": "fast", "b": 2}),
            node("join", "logic.merge"),
        ],
        [edge("start", "slow"), edge("start", "fast"), edge("fast", "join"), edge("slow", "join")],
    )
    # edge order into join: fast (index 2) then slow (index 3) -> slow's keys win.
    res = engine.run(doc, {"x": 0})
    assert res.node("join").input == {"x": 0, "who": "slow", "a": 1, "b": 2}


def test_edge_mapping_replaces_payload_with_fields_rendered_from_source(engine):
    doc = workflow(
        [start(), transform("a", {"v": 41}), transform("b", {"w": "{{ input.got + 1 }}"}, keep_input=False)],
        [edge("start", "a"), edge("a", "b", mapping={"got": "{{ source.v }}"})],
    )
    res = engine.run(doc, {"ignored": True})
    assert res.node("b").input == {"got": 41}
    assert res.node("b").output == {"w": 42}


def test_outputs_are_kept_per_node_and_reachable_as_nodes_id(engine):
    doc = workflow(
        [
            start(),
            transform("a", {"x": 1}, keep_input=False),
            transform("b", {"y": 2}, keep_input=False),
            transform(
                "c", {"both": "{{ nodes.a.x + nodes.b.y }}", "trig": "{{ nodes.start.k }}"}, keep_input=False
            ),
        ],
        chain("start", "a", "b", "c"),
    )
    res = engine.run(doc, {"k": "t"})
    assert res.node("c").output == {"both": 3, "trig": "t"}
    assert res.node("b").output == {"y": 2}  # not flat-merged with a's output


def test_mapping_template_error_fails_the_target_node(engine):
    doc = workflow(
        [start(), transform("a"), transform("b")],
        [edge("start", "a"), edge("a", "b", mapping={"x": "{{ source.nope }}"})],
    )
    res = engine.run(doc, {})
    assert res.node("b").status == "failed"
    assert res.node("b").error["category"] == "TEMPLATE_ERROR"
    assert res.status == "failed"


# -- dead-path elimination ---------------------------------------------------------------------
def _if_doc(join_mode="wait_all"):
    return workflow(
        [
            start(),
            node("check", "logic.if", {"condition": "{{ input.go }}"}),
            transform("yes", {"path": "yes"}),
            transform("no", {"path": "no"}),
            transform("no2", {"deeper": True}),
            node("join", "logic.merge", {"mode": join_mode}),
            transform("after", {"seen": "{{ input.path }}"}),
        ],
        [
            edge("start", "check"),
            edge("check", "yes", "true"),
            edge("check", "no", "false"),
            edge("no", "no2"),
            edge("yes", "join"),
            edge("no2", "join"),
            edge("join", "after"),
        ],
    )


def test_join_runs_when_other_branch_was_not_taken(engine):
    res = engine.run(_if_doc(), {"go": True})
    assert res.statuses == {
        "start": "succeeded",
        "check": "succeeded",
        "yes": "succeeded",
        "no": "skipped",
        "no2": "skipped",
        "join": "succeeded",
        "after": "succeeded",
    }
    assert res.node("after").output["seen"] == "yes"
    assert res.status == "completed"


def test_skip_propagates_to_nodes_whose_inputs_are_all_inactive(engine):
    doc = workflow(
        [
            start(),
            node("check", "logic.if", {"condition": False}),
            transform("a"),
            transform("b"),
            transform("c"),
        ],
        [edge("start", "check"), edge("check", "a", "true"), *chain("a", "b", "c")],
    )
    res = engine.run(doc, {})
    assert [res.node(n).status for n in "abc"] == ["skipped"] * 3
    assert res.status == "completed"


def test_switch_without_match_and_without_default_skips_all_successors(engine):
    doc = workflow(
        [
            start(),
            node("route", "logic.switch", {"cases": [{"handle": "x", "condition": False}]}),
            transform("x"),
        ],
        [edge("start", "route"), edge("route", "x", "x")],
    )
    res = engine.run(doc, {})
    assert res.node("route").status == "succeeded" and res.node("route").handles == []
    assert res.node("x").status == "skipped"


def test_merge_first_runs_on_first_arrival_and_ignores_later_ones(engine, calls):
    doc = workflow(
        [
            start(),
            sleep("fast", 1, set={"by": "fast"}),
            sleep("slow", 300, set={"by": "slow"}),
            node("first", "logic.merge", {"mode": "first"}),
            node("after", "test.echo"),
        ],
        [
            edge("start", "slow"),
            edge("start", "fast"),
            edge("slow", "first"),
            edge("fast", "first"),
            edge("first", "after"),
        ],
    )
    res = engine.run(doc, {})
    assert res.node("first").output == {"by": "fast"}
    assert calls.calls("after") == 1
    assert res.node("slow").status == "succeeded"  # still runs to its end
    assert res.status == "completed"


def test_merge_first_is_skipped_when_no_branch_arrives(engine):
    doc = workflow(
        [
            start(),
            node("check", "logic.if", {"condition": False}),
            transform("a"),
            node("first", "logic.merge", {"mode": "first"}),
        ],
        [edge("start", "check"), edge("check", "a", "true"), edge("a", "first")],
    )
    assert engine.run(doc, {}).node("first").status == "skipped"


# -- failures --------------------------------------------------------------------------------
def test_failed_node_skips_downstream_join_but_independent_branch_finishes(engine):
    doc = workflow(
        [
            start(),
            node("bad", "test.boom"),
            sleep("other", 100, set={"o": 1}),
            transform("after_bad"),
            node("join", "logic.merge"),
            sleep("independent", 200, set={"i": 1}),
        ],
        [
            edge("start", "bad"),
            edge("start", "other"),
            edge("start", "independent"),
            edge("bad", "after_bad"),
            edge("after_bad", "join"),
            edge("other", "join"),
        ],
    )
    res = engine.run(doc, {})
    assert res.node("bad").status == "failed"
    assert res.node("after_bad").status == "skipped"
    assert res.node("join").status == "skipped"  # even though `other` is active
    assert res.node("independent").status == "succeeded"
    assert res.status == "failed"
    assert res.outcome.error["node"] == "bad"


def test_on_error_skip_continues_on_main_with_error_merged_and_run_is_partial(engine):
    doc = workflow(
        [
            start(),
            node("bad", "test.fail_n_times", {"n": 5, "category": "HTTP_ERROR"}, on_error="skip"),
            transform("next", {"done": True}),
        ],
        chain("start", "bad", "next"),
    )
    res = engine.run(doc, {"k": 1})
    assert res.node("bad").status == "failed"
    out = res.node("next").output
    assert out["done"] is True and out["k"] == 1
    assert (
        out["error"]["category"] == "HTTP_ERROR" and "message" in out["error"] and "details" in out["error"]
    )
    assert res.status == "partial"


def test_on_error_route_fires_error_handle_instead_of_main(engine):
    doc = workflow(
        [
            start(),
            node("bad", "test.fail_n_times", {"n": 5, "category": "HTTP_ERROR"}, on_error="route"),
            transform("ok_path", {"p": "ok"}),
            transform("err_path", {"code": "{{ input.error.category }}"}),
        ],
        [edge("start", "bad"), edge("bad", "ok_path"), edge("bad", "err_path", "error")],
    )
    res = engine.run(doc, {})
    assert res.node("ok_path").status == "skipped"
    assert res.node("err_path").output["code"] == "HTTP_ERROR"
    assert res.status == "partial"


def test_unexpected_executor_exception_fails_node_with_integration_error(engine):
    res = engine.run(workflow([start(), node("bad", "test.boom")], chain("start", "bad")), {})
    assert res.node("bad").error["category"] == "INTEGRATION_ERROR"
    assert "kaput" in res.node("bad").error["message"]


def test_run_error_is_the_first_failing_nodes_error_plus_node_id(engine):
    doc = workflow(
        [start(), transform("bad", {"x": "{{ input.a.b }}"}), sleep("slow", 150), node("late", "test.boom")],
        [edge("start", "bad"), edge("start", "slow"), edge("slow", "late")],
    )
    res = engine.run(doc, {})
    assert res.outcome.error["node"] == "bad"
    assert res.outcome.error["category"] == "TEMPLATE_ERROR"
    assert res.store.run(res.run_id).error["node"] == "bad"


# -- retries ---------------------------------------------------------------------------------
def _flaky(n, max_attempts, **retry):
    return node(
        "call",
        "test.fail_n_times",
        {"n": n},
        retry={
            "max_attempts": max_attempts,
            "backoff": "fixed",
            "initial_delay_ms": 10,
            "jitter": False,
            **retry,
        },
    )


def test_retryable_error_is_retried_until_success_and_attempts_counted(engine, calls):
    res = engine.run(workflow([start(), _flaky(2, 3)], chain("start", "call")), {})
    assert res.node("call").status == "succeeded"
    assert res.node("call").attempts == 3
    assert res.node("call").output == {"calls": 3}
    assert ("call", None, "retrying") in res.store.run(res.run_id).saves


def test_retry_gives_up_after_max_attempts(engine, calls):
    res = engine.run(workflow([start(), _flaky(5, 3)], chain("start", "call")), {})
    assert res.node("call").status == "failed" and res.node("call").attempts == 3
    assert calls.calls("call") == 3


def test_non_retryable_error_is_not_retried(engine, calls):
    doc = workflow(
        [
            start(),
            node(
                "call",
                "test.fail_n_times",
                {"n": 1, "category": "HTTP_ERROR"},
                retry={"max_attempts": 3, "initial_delay_ms": 10},
            ),
        ],
        chain("start", "call"),
    )
    res = engine.run(doc, {})
    assert res.node("call").status == "failed" and res.node("call").attempts == 1


def test_retry_honours_retry_after(engine):
    doc = workflow(
        [
            start(),
            node(
                "call",
                "test.fail_n_times",
                {"n": 1, "retry_after_s": 0.4},
                retry={"max_attempts": 2, "initial_delay_ms": 10, "jitter": False},
            ),
        ],
        chain("start", "call"),
    )
    res = engine.run(doc, {})
    assert res.node("call").status == "succeeded"
    assert 0.35 <= res.elapsed_s < 1.5


def test_retry_delay_follows_backoff_with_cap_and_jitter():
    base = {"initial_delay_ms": 100, "max_delay_ms": 1000, "jitter": False}
    assert [retry_delay_s({**base, "backoff": "exponential"}, n) for n in (1, 2, 3, 5)] == [
        0.1,
        0.2,
        0.4,
        1.0,
    ]
    assert [retry_delay_s({**base, "backoff": "linear"}, n) for n in (1, 2, 3)] == [0.1, 0.2, 0.3]
    assert [retry_delay_s({**base, "backoff": "fixed"}, n) for n in (1, 4)] == [0.1, 0.1]
    jittered = [retry_delay_s({**base, "backoff": "fixed", "jitter": True}, 1) for _ in range(200)]
    assert all(0.05 <= d <= 0.1 for d in jittered) and len(set(jittered)) > 1
    assert retry_delay_s(base, 1, retry_after_s=7) == 7


def test_long_retry_delay_parks_run_as_retrying_and_resume_continues(registry):
    engine = Engine(registry, FakeServices(inline_wait_max_s=0.2))
    doc = workflow(
        [
            start(),
            node(
                "call",
                "test.fail_n_times",
                {"n": 1},
                retry={"max_attempts": 2, "backoff": "fixed", "initial_delay_ms": 500, "jitter": False},
            ),
        ],
        chain("start", "call"),
    )
    first = engine.run(doc, {})
    assert first.status == "waiting" and first.elapsed_s < 0.4
    assert first.node("call").status == "retrying"
    assert first.outcome.resume_at == first.node("call").resume_at
    assert first.store.run(first.run_id).status == "waiting"
    time.sleep(0.55)
    second = engine.advance(first.run_id)
    assert second.status == "completed" and second.node("call").attempts == 2


# -- timeouts --------------------------------------------------------------------------------
def test_node_timeout_fails_attempt_from_outside_and_ignores_its_late_result(engine):
    doc = workflow(
        [start(), node("slow", "test.hang", {"ms": 1500}, timeout_ms=100), transform("after")],
        chain("start", "slow", "after"),
    )
    res = engine.run(doc, {})
    assert res.elapsed_s < 1.0
    assert res.node("slow").status == "failed"
    assert res.node("slow").error["category"] == "TIMEOUT_ERROR"
    assert res.node("after").status == "skipped"
    assert res.status == "failed"


def test_executor_gets_the_attempt_deadline(engine, calls):
    doc = workflow([start(), node("s", "test.sleep", {"ms": 5000}, timeout_ms=200)], chain("start", "s"))
    res = engine.run(doc, {})
    # the cooperative sleeper saw the deadline: it was cancelled when the attempt timed out
    ctx = calls.contexts[0]
    assert ctx.deadline is not None and ctx.cancelled.is_set()
    assert res.node("s").error["category"] == "TIMEOUT_ERROR" and res.elapsed_s < 1.5


def test_timed_out_attempt_is_retried(engine, calls):
    doc = workflow(
        [
            start(),
            node(
                "slow",
                "test.sleep",
                {"ms": 2000},
                timeout_ms=100,
                retry={"max_attempts": 2, "initial_delay_ms": 10},
            ),
        ],
        chain("start", "slow"),
    )
    res = engine.run(doc, {})
    assert res.node("slow").attempts == 2 and calls.calls("slow") == 2


def test_on_timeout_continue_acts_as_skip(engine):
    doc = workflow(
        [
            start(),
            node("slow", "test.sleep", {"ms": 2000}, timeout_ms=100, on_timeout="continue"),
            transform("after", {"ok": True}),
        ],
        chain("start", "slow", "after"),
    )
    res = engine.run(doc, {})
    assert res.node("slow").status == "failed"
    assert res.node("after").output["error"]["category"] == "TIMEOUT_ERROR"
    assert res.status == "partial"


def test_on_timeout_default_succeeds_with_default_output_and_warns(engine):
    doc = workflow(
        [
            start(),
            node(
                "slow",
                "test.sleep",
                {"ms": 2000},
                timeout_ms=100,
                on_timeout="default",
                default_output={"body": {"fallback": True}},
            ),
            transform("use", {"fb": "{{ input.body.fallback }}"}),
        ],
        chain("start", "slow", "use"),
    )
    res = engine.run(doc, {})
    assert res.node("slow").status == "succeeded"
    assert res.node("slow").warnings
    assert res.node("use").output == {"body": {"fallback": True}, "fb": True}
    assert res.status == "completed"
    assert any(e.level == "warning" and e.node_id == "slow" for e in res.store.logs(res.run_id))


def test_run_timeout_fails_running_nodes_and_the_run(engine):
    doc = workflow(
        [start(), sleep("slow", 3000), transform("after")],
        chain("start", "slow", "after"),
        settings={"timeout_s": 0.3},
    )
    res = engine.run(doc, {})
    assert res.elapsed_s < 1.5
    assert res.status == "failed"
    assert res.node("slow").status == "failed" and res.node("slow").error["category"] == "TIMEOUT_ERROR"
    assert res.node("after").status == "skipped"
    assert res.outcome.error["category"] == "TIMEOUT_ERROR"


# -- concurrency and persistence -------------------------------------------------------------
def test_independent_ready_nodes_run_concurrently(engine):
    doc = workflow(
        [start(), sleep("a", 300), sleep("b", 300), sleep("c", 300)],
        [edge("start", "a"), edge("start", "b"), edge("start", "c")],
    )
    res = engine.run(doc, {})
    assert res.status == "completed" and res.elapsed_s < 0.6


def test_max_workers_bounds_concurrency(registry, calls):
    engine = Engine(registry, max_workers=2)
    doc = workflow(
        [start(), *[sleep(f"s{i}", 100) for i in range(4)]], [edge("start", f"s{i}") for i in range(4)]
    )
    res = engine.run(doc, {})
    assert res.status == "completed" and res.elapsed_s >= 0.2
    assert peak_concurrency(calls) == 2


def test_store_is_only_called_from_the_advancing_thread(registry):
    engine = Engine(registry)
    threads = set()
    for name in ("load_run", "save_nodes", "save_run", "append_logs", "cancel_requested"):
        original = getattr(engine.store, name)

        def spy(*args, _original=original, **kwargs):
            threads.add(threading.get_ident())
            return _original(*args, **kwargs)

        setattr(engine.store, name, spy)
    doc = workflow(
        [start(), sleep("a", 50), sleep("b", 50), node("j", "logic.merge")],
        [edge("start", "a"), edge("start", "b"), edge("a", "j"), edge("b", "j")],
    )
    engine.run(doc, {})
    assert threads == {threading.get_ident()}


def test_each_node_state_change_is_persisted_in_order(engine):
    res = engine.run(workflow([start(), sleep("a", 20)], chain("start", "a")), {})
    saves = [s for n, _, s in res.store.run(res.run_id).saves if n == "a"]
    assert saves == ["running", "succeeded"]
    assert res.store.run(res.run_id).statuses == ["running", "completed"]
    assert res.node("a").started_at and res.node("a").completed_at and res.node("a").duration_ms >= 15


def test_pure_nodes_run_on_the_advancing_thread_and_keep_every_transition_in_order(engine):
    """Triggers, transforms and branches are computed without a pool hand-off and saved in
    one flush, yet each still passes through `running`, in the order things happened: a
    successor starts only after its predecessor succeeded."""
    doc = workflow(
        [
            start(),
            transform("a", {"n": "{{ input.n + 1 }}"}),
            node(
                "check",
                "logic.if",
                {"condition": {"left": "{{ input.n }}", "op": "gt", "right": 1}},
            ),
            transform("big", {"size": "big"}),
            transform("small", {"size": "small"}),
        ],
        [
            edge("start", "a"),
            edge("a", "check"),
            edge("check", "big", "true"),
            edge("check", "small", "false"),
        ],
    )
    flushes = []
    original = engine.store.save_nodes

    def counting(run_id, states):
        flushes.append([(s.node_id, s.status) for s in states])
        return original(run_id, states)

    engine.store.save_nodes = counting
    res = engine.run(doc, {"n": 1})
    assert res.status == "completed" and res.output == {"n": 2, "size": "big"}
    saves = [(n, s) for n, _, s in res.store.run(res.run_id).saves if s in ("running", "succeeded")]
    assert saves == [
        ("start", "running"),
        ("start", "succeeded"),
        ("a", "running"),
        ("a", "succeeded"),
        ("check", "running"),
        ("check", "succeeded"),
        ("big", "running"),
        ("big", "succeeded"),
    ]
    assert res.node("small").status == "skipped"
    assert len(flushes) == 1  # the whole pure chain is stored in one batch


# -- scope -----------------------------------------------------------------------------------
def test_scope_has_trigger_variables_workspace_and_execution(engine):
    doc = workflow(
        [
            start(),
            transform(
                "t",
                {
                    "trig": "{{ trigger.k }}",
                    "var": "{{ variables.v }}",
                    "mode": "{{ execution.mode }}",
                    "id": "{{ execution.id }}",
                    "wf": "{{ execution.workflow_id }}",
                    "at": "{{ execution.started_at | length > 10 }}",
                },
                keep_input=False,
            ),
        ],
        chain("start", "t"),
        variables={"v": 5},
    )
    res = engine.run(doc, {"k": "x"}, workflow_id="wf-9", mode="live")
    assert res.node("t").output == {
        "trig": "x",
        "var": 5,
        "mode": "live",
        "id": res.run_id,
        "wf": "wf-9",
        "at": True,
    }


def test_config_strings_are_rendered_before_the_node_runs(engine, calls):
    doc = workflow(
        [start(), node("e", "test.echo", {"a": "{{ input.n * 2 }}", "b": ["x{{ input.n }}"], "c": "plain"})],
        chain("start", "e"),
    )
    res = engine.run(doc, {"n": 3})
    assert res.node("e").output["config"] == {"a": 6, "b": ["x3"], "c": "plain"}


# -- loops -----------------------------------------------------------------------------------
def _loop_doc(
    items_expr="{{ input.items }}",
    body=None,
    concurrency=1,
    max_iterations=100,
    extra_nodes=(),
    extra_edges=(),
):
    body = body or [transform("body", {"v": "{{ item }}", "i": "{{ index }}"}, keep_input=False)]
    return workflow(
        [
            start(),
            node(
                "loop",
                "logic.loop",
                {"items": items_expr, "concurrency": concurrency, "max_iterations": max_iterations},
            ),
            *body,
            transform("after", {"n": "{{ input.results | length }}"}),
            *extra_nodes,
        ],
        [
            edge("start", "loop"),
            edge("loop", body[0]["id"], "each"),
            *chain(*[b["id"] for b in body]),
            edge("loop", "after", "done"),
            *extra_edges,
        ],
    )


def test_loop_body_runs_once_per_item_with_item_and_index(engine):
    res = engine.run(_loop_doc(), {"items": ["a", "b", "c"]})
    assert res.status == "completed"
    assert [res.node("body", i).output for i in range(3)] == [
        {"v": "a", "i": 0},
        {"v": "b", "i": 1},
        {"v": "c", "i": 2},
    ]
    assert res.node("body", 0).input == {"item": "a", "index": 0}
    assert res.node("loop").output == {
        "results": [{"v": "a", "i": 0}, {"v": "b", "i": 1}, {"v": "c", "i": 2}]
    }
    assert res.node("after").output["n"] == 3


def test_loop_results_are_in_item_order_with_concurrency(engine):
    body = [node("work", "test.sleep", {"ms": "{{ item }}", "set": {"ms": "{{ item }}"}})]
    res = engine.run(_loop_doc(body=body, concurrency=4), {"items": [200, 10, 120, 1]})
    assert [r["ms"] for r in res.node("loop").output["results"]] == [200, 10, 120, 1]
    assert res.elapsed_s < 0.4  # the iterations overlapped


def test_loop_concurrency_bounds_parallel_iterations(engine, calls):
    body = [sleep("work", 60)]
    engine.run(_loop_doc(body=body, concurrency=2), {"items": list(range(6))})
    assert peak_concurrency(calls) == 2


def test_loop_body_nodes_see_their_own_iteration_outputs(engine):
    body = [
        transform("first", {"sq": "{{ item * item }}"}, keep_input=False),
        transform(
            "second", {"again": "{{ nodes.first.sq }}", "start": "{{ nodes.start.k }}"}, keep_input=False
        ),
    ]
    res = engine.run(_loop_doc(body=body, concurrency=3), {"items": [1, 2, 3], "k": "s"})
    assert res.node("loop").output["results"] == [
        {"again": 1, "start": "s"},
        {"again": 4, "start": "s"},
        {"again": 9, "start": "s"},
    ]


def test_loop_over_empty_list_fires_done_with_empty_results(engine):
    res = engine.run(_loop_doc(), {"items": []})
    assert res.node("loop").output == {"results": []}
    assert res.node("after").output["n"] == 0
    assert res.node("body").status == "skipped"  # never ran: one skipped entry
    assert res.status == "completed"


def test_loop_limit_fails_the_loop_and_runs_nothing_in_the_body(engine):
    res = engine.run(_loop_doc(max_iterations=2), {"items": [1, 2, 3]})
    assert res.node("loop").error["category"] == "LOOP_LIMIT"
    assert res.statuses["body"] == "skipped" and res.statuses["after"] == "skipped"
    assert res.status == "failed"


def test_loop_body_failure_fails_the_loop_and_the_run(engine):
    body = [transform("body", {"x": "{{ item.missing }}"})]
    res = engine.run(_loop_doc(body=body), {"items": [{"missing": 1}, {}, {"missing": 3}]})
    assert res.node("body", 0).status == "succeeded"
    assert res.node("body", 1).status == "failed"
    assert res.node("loop").status == "failed"
    assert res.node("loop").error["category"] == "TEMPLATE_ERROR"
    assert "iteration 1" in res.node("loop").error["message"]
    assert ("body", 2) not in {s.key for s in res.store.states(res.run_id)}  # no new iteration started
    assert res.node("after").status == "skipped"
    assert res.status == "failed" and res.outcome.error["node"] == "loop"


def test_loop_result_is_the_output_of_the_body_end_that_ran(engine):
    body_nodes = [
        node("check", "logic.if", {"condition": "{{ item > 1 }}"}),
        transform("big", {"size": "big"}, keep_input=False),
        transform("small", {"size": "small"}, keep_input=False),
    ]
    doc = workflow(
        [start(), node("loop", "logic.loop", {"items": "{{ input.items }}"}), *body_nodes],
        [
            edge("start", "loop"),
            edge("loop", "check", "each"),
            edge("check", "big", "true"),
            edge("check", "small", "false"),
        ],
    )
    res = engine.run(doc, {"items": [1, 2]})
    assert res.node("loop").output["results"] == [{"size": "small"}, {"size": "big"}]
    assert res.node("big", 0).status == "skipped"
    # the loop is the only sink outside the body: its results are the run's output
    assert res.output == {"results": [{"size": "small"}, {"size": "big"}]}


def test_resumed_loop_does_not_rerun_finished_iterations(engine, calls):
    body = [node("work", "test.echo")]
    doc = _loop_doc(body=body)
    states = [
        NodeState("start", status="succeeded", output={"items": [1, 2, 3]}, handles=["main"]),
        NodeState(
            "loop",
            status="running",
            input={"items": [1, 2, 3]},
            wait={"kind": "loop", "items": [1, 2, 3]},
            attempts=1,
        ),
        NodeState("work", 0, status="succeeded", output={"from": "before"}, handles=["main"]),
        NodeState("work", 1, status="running", input={"item": 2, "index": 1}, attempts=1),
    ]
    res = engine.run(doc, {"items": [1, 2, 3]}, states=states)
    assert res.status == "completed"
    assert calls.calls("work") == 2  # iterations 1 (re-run) and 2, not 0
    assert res.node("work", 1).attempts == 2
    results = res.node("loop").output["results"]
    assert results[0] == {"from": "before"} and results[2]["input"] == {"item": 3, "index": 2}


# -- waits -----------------------------------------------------------------------------------
def test_short_wait_is_slept_through_in_the_worker(engine):
    doc = workflow(
        [start(), node("pause", "logic.wait", {"duration_s": 0.3}), transform("after", {"woke": True})],
        chain("start", "pause", "after"),
    )
    res = engine.run(doc, {"k": 1})
    assert res.status == "completed" and 0.28 <= res.elapsed_s < 1.2
    assert res.node("after").output == {"k": 1, "woke": True}
    assert ("pause", None, "waiting") in res.store.run(res.run_id).saves


def test_long_wait_parks_run_and_resume_continues(registry):
    engine = Engine(registry, FakeServices(inline_wait_max_s=0.2))
    doc = workflow(
        [start(), node("pause", "logic.wait", {"duration_s": 0.5}), transform("after", {"woke": True})],
        chain("start", "pause", "after"),
    )
    first = engine.run(doc, {"k": 1})
    assert first.status == "waiting" and first.elapsed_s < 0.3
    assert first.node("pause").status == "waiting" and first.node("pause").wait["kind"] == "timer"
    assert first.outcome.resume_at == first.node("pause").resume_at
    early = engine.advance(first.run_id)  # too early: parks again, runs nothing
    assert early.status == "waiting" and "after" not in early.statuses
    time.sleep(0.5)
    done = engine.advance(first.run_id)
    assert done.status == "completed"
    assert done.node("after").output == {"k": 1, "woke": True}


def test_callback_wait_parks_without_resume_at_until_the_host_delivers(engine, services):
    doc = workflow(
        [start(), node("cb", "flow.callback"), transform("after", {"got": "{{ input.answer }}"})],
        chain("start", "cb", "after"),
    )
    first = engine.run(doc, {})
    assert first.status == "waiting" and first.outcome.resume_at is None
    data = first.node("cb").wait["data"]
    assert data["callback_url"].endswith(data["token"]) and data["expires_at"] is None
    engine.store.deliver(first.run_id, "cb", {"answer": 42})
    done = engine.advance(first.run_id)
    assert done.status == "completed"
    assert done.node("cb").output == {"answer": 42} and done.node("cb").attempts == 1
    assert done.node("after").output["got"] == 42
    assert len(services.callbacks) == 1


def test_callback_expiry_fails_the_node_with_timeout_error(engine):
    doc = workflow([start(), node("cb", "flow.callback", {"expires_in_s": 0.2})], chain("start", "cb"))
    first = engine.run(doc, {})
    assert first.status == "waiting" and first.outcome.resume_at is not None
    time.sleep(0.25)
    done = engine.advance(first.run_id)
    assert done.node("cb").status == "failed" and done.node("cb").error["category"] == "TIMEOUT_ERROR"
    assert done.status == "failed"


# -- durability ------------------------------------------------------------------------------
def test_resume_after_crash_does_not_rerun_succeeded_nodes(engine, calls):
    doc = workflow(
        [start(), node("a", "test.echo"), node("b", "test.echo"), node("c", "test.echo")],
        chain("start", "a", "b", "c"),
    )
    states = [
        NodeState("start", status="succeeded", output={"k": 1}, handles=["main"], attempts=1),
        NodeState("a", status="succeeded", output={"from": "a"}, handles=["main"], attempts=1),
        NodeState("b", status="running", input={"from": "a"}, attempts=1),
    ]
    res = engine.run(doc, {"k": 1}, states=states)
    assert res.status == "completed"
    assert calls.calls("a") == 0 and calls.calls("b") == 1 and calls.calls("c") == 1
    assert res.node("b").attempts == 2  # attempts keep counting
    assert res.node("b").output["input"] == {"from": "a"}
    assert res.node("c").input["input"] == {"from": "a"}


def test_retry_from_a_failed_run_reuses_copied_succeeded_states(engine, calls):
    doc = workflow([start(), node("a", "test.echo"), node("b", "test.echo")], chain("start", "a", "b"))
    states = [
        NodeState("start", status="succeeded", output={}, handles=["main"]),
        NodeState("a", status="succeeded", output={"a": 1}, handles=["main"]),
    ]
    res = engine.run(doc, {}, states=states)
    assert calls.calls("a") == 0 and res.node("b").input == {"a": 1}


def test_advance_on_a_terminal_run_changes_nothing(engine, calls):
    res = engine.run(workflow([start(), node("a", "test.echo")], chain("start", "a")), {})
    again = engine.advance(res.run_id)
    assert again.status == "completed" and calls.calls("a") == 1


# -- cancellation ----------------------------------------------------------------------------
def test_cancel_fails_running_nodes_and_skips_pending_ones(engine):
    doc = workflow([start(), sleep("slow", 5000), transform("after")], chain("start", "slow", "after"))
    run_id = engine.create(doc, {})
    threading.Timer(0.2, engine.store.request_cancel, args=(run_id,)).start()
    res = engine.advance(run_id)
    assert res.elapsed_s < 1.0
    assert res.status == "cancelled"
    assert res.node("slow").status == "failed" and res.node("slow").error["category"] == "CANCELLED"
    assert res.node("after").status == "skipped"


def test_cancelling_a_parked_run_finalizes_it_on_advance(registry):
    engine = Engine(registry, FakeServices(inline_wait_max_s=0.1))
    doc = workflow(
        [start(), node("pause", "logic.wait", {"duration_s": 30}), transform("after")],
        chain("start", "pause", "after"),
    )
    first = engine.run(doc, {})
    assert first.status == "waiting"
    engine.store.request_cancel(first.run_id)
    res = engine.advance(first.run_id)
    assert res.status == "cancelled"
    assert res.node("pause").error["category"] == "CANCELLED" and res.node("after").status == "skipped"


# -- run result, triggers, logs, secrets -----------------------------------------------------
def test_run_output_is_the_last_finished_sink(engine):
    doc = workflow(
        [start(), sleep("quick", 1, set={"s": "quick"}), sleep("late", 150, set={"s": "late"})],
        [edge("start", "quick"), edge("start", "late")],
    )
    assert engine.run(doc, {}).output == {"s": "late"}


def test_every_node_has_a_state_when_the_run_ends(engine):
    doc = workflow(
        [start(), node("check", "logic.if", {"condition": True}), transform("a"), transform("b")],
        [edge("start", "check"), edge("check", "a", "true"), edge("check", "b", "false")],
    )
    res = engine.run(doc, {})
    assert set(res.statuses) == {"start", "check", "a", "b"}


def test_only_the_fired_trigger_runs_when_the_host_names_it(engine):
    doc = workflow(
        [
            start(),
            node("hook", "trigger.webhook", {"method": "POST"}),
            transform("from_start"),
            transform("from_hook"),
        ],
        [edge("start", "from_start"), edge("hook", "from_hook")],
    )
    res = engine.run(doc, {"via": "hook"}, trigger_node="hook")
    assert res.statuses == {
        "start": "skipped",
        "hook": "succeeded",
        "from_start": "skipped",
        "from_hook": "succeeded",
    }


def test_every_trigger_fires_when_none_is_named(engine):
    doc = workflow([start(), node("hook", "trigger.webhook")], [])
    res = engine.run(doc, {"p": 1})
    assert res.node("start").output == res.node("hook").output == {"p": 1}


def test_workflow_without_trigger_starts_its_roots_with_the_payload(engine):
    res = engine.run(workflow([transform("only", {"y": 2})], []), {"x": 1})
    assert res.output == {"x": 1, "y": 2}


def test_logs_record_run_and_node_events_and_executor_lines(engine):
    doc = workflow([start(), node("e", "test.echo", {"log": ["hello from e"]})], chain("start", "e"))
    res = engine.run(doc, {})
    logs = res.store.logs(res.run_id)
    messages = [(e.node_id, e.message) for e in logs]
    assert messages[0] == (None, "run started")
    assert ("e", "hello from e") in messages
    assert any(n == "e" and m.startswith("succeeded in") for n, m in messages)
    assert messages[-1][1].startswith("run completed")
    assert all(e.timestamp is not None for e in logs)


def test_secrets_are_masked_where_persisted_but_not_in_values_passed_on(engine):
    doc = workflow(
        [
            start(),
            transform("use", {"auth": "Bearer {{ workspace.api_key }}"}),
            transform("check", {"same": "{{ input.auth == 'Bearer sk-12345' }}"}),
        ],
        chain("start", "use", "check"),
    )
    res = engine.run(doc, {}, secrets={"api_key": "sk-12345"})
    assert res.node("use").output["auth"] == "Bearer ***"
    assert res.node("check").output["same"] is True
    assert res.output["auth"] == "Bearer ***"
    assert not any("sk-12345" in repr(e) for e in res.store.logs(res.run_id))


def test_chain_overhead_is_small(engine):
    n = 60
    doc = workflow(
        [start(), *[transform(f"t{i}", {f"k{i}": i}) for i in range(n)]],
        chain("start", *[f"t{i}" for i in range(n)]),
    )
    res = engine.run(doc, {})
    assert res.status == "completed"
    assert res.elapsed_s / n < 0.01  # generous: the bench measures the real figure


# -- more resume, cancel and loop-failure rules ------------------------------------------------
def test_retrying_node_found_on_resume_waits_out_its_delay(engine, calls):
    from datetime import UTC, datetime, timedelta

    doc = workflow(
        [start(), node("call", "test.fail_n_times", {"n": 0}, retry={"max_attempts": 3})],
        chain("start", "call"),
    )
    due = datetime.now(UTC) + timedelta(seconds=0.3)
    states = [
        NodeState("start", status="succeeded", output={}, handles=["main"]),
        NodeState(
            "call",
            status="retrying",
            input={},
            attempts=1,
            resume_at=due,
            error={"category": "SERVICE_UNAVAILABLE", "message": "x", "details": {}},
        ),
    ]
    res = engine.run(doc, {}, states=states)
    assert res.status == "completed" and res.node("call").attempts == 2
    assert 0.25 <= res.elapsed_s < 1.0


def test_interrupted_timer_resume_is_not_waited_again(engine):
    doc = workflow(
        [start(), node("pause", "logic.wait", {"duration_s": 30}), transform("after", {"ok": True})],
        chain("start", "pause", "after"),
    )
    states = [
        NodeState("start", status="succeeded", output={"k": 1}, handles=["main"]),
        NodeState("pause", status="running", input={"k": 1}, attempts=1, wait={"kind": "timer", "data": {}}),
    ]
    res = engine.run(doc, {"k": 1}, states=states)
    assert res.status == "completed" and res.elapsed_s < 0.5
    assert res.node("pause").attempts == 1


def test_cancel_interrupts_an_inline_retry_delay(engine):
    doc = workflow(
        [
            start(),
            node(
                "call",
                "test.fail_n_times",
                {"n": 5},
                retry={"max_attempts": 3, "backoff": "fixed", "initial_delay_ms": 20000},
            ),
        ],
        chain("start", "call"),
    )
    run_id = engine.create(doc, {})
    threading.Timer(0.2, engine.store.request_cancel, args=(run_id,)).start()
    res = engine.advance(run_id)
    assert res.status == "cancelled" and res.elapsed_s < 1.0
    assert res.node("call").status == "failed" and res.node("call").error["category"] == "CANCELLED"


def test_loop_body_error_under_skip_keeps_the_loop_going_and_the_run_is_partial(engine):
    body = [node("work", "test.fail_n_times", {"n": 1, "category": "HTTP_ERROR"}, on_error="skip")]
    res = engine.run(_loop_doc(body=body), {"items": [1, 2]})
    results = res.node("loop").output["results"]
    assert results[0]["error"]["category"] == "HTTP_ERROR" and results[1] == {"calls": 2}
    assert res.status == "partial"


def test_loop_body_failure_lets_running_iterations_finish_but_starts_no_more(engine):
    body = [
        node("work", "test.sleep", {"ms": "{{ 300 if index == 1 else 1 }}"}),
        transform("check", {"x": "{{ input.missing }}"}),
    ]
    res = engine.run(_loop_doc(body=body, concurrency=2), {"items": [0, 1, 2, 3]})
    assert res.node("check", 0).status == "failed"
    assert res.node("work", 1).status == "succeeded"  # was already running: ran to its end
    assert ("work", 2) not in {s.key for s in res.store.states(res.run_id)}
    assert res.node("loop").status == "failed" and res.status == "failed"


def test_parked_run_resume_at_is_the_earliest_due_time(registry):
    engine = Engine(registry, FakeServices(inline_wait_max_s=0.1))
    doc = workflow(
        [
            start(),
            node("w1", "logic.wait", {"duration_s": 50}),
            node("w2", "logic.wait", {"duration_s": 5}),
            node("cb", "flow.callback"),
        ],
        [edge("start", "w1"), edge("start", "w2"), edge("start", "cb")],
    )
    res = engine.run(doc, {})
    assert res.status == "waiting"
    assert res.outcome.resume_at == res.node("w2").resume_at
    assert res.store.run(res.run_id).resume_at == res.node("w2").resume_at
