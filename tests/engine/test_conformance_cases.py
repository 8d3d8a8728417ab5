"""The conformance cases that need no network, played in-process on the in-memory store.

The JSON files are copies of `../shared/conformance/cases/` (so a fresh clone has them);
the checks mirror the conformance runner's: subset matching, booleans are not numbers.
Case 16's 2 s wait is shortened to keep the suite fast (its minimum duration with it).
"""

from __future__ import annotations

import json
import pathlib

import pytest

from workflows.engine.document import validate

CASES = sorted((pathlib.Path(__file__).parent / "conformance_cases").glob("*.json"))
SHORT_WAIT_S = 0.3


def subset(expected, actual, where):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r:.120}"]
        out = []
        for key, value in expected.items():
            out += (
                [f"{where}.{key}: missing"]
                if key not in actual
                else subset(value, actual[key], f"{where}.{key}")
            )
        return out
    same = expected == actual
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = same and type(expected) is type(actual)
    return [] if same else [f"{where}: expected {expected!r:.120}, got {actual!r:.120}"]


def node_entries(states):
    """One entry per node id: the non-iteration entry, else the first iteration's."""
    out = {}
    for st in sorted(states, key=lambda s: -1 if s.iteration is None else s.iteration):
        out.setdefault(st.node_id, st)
    return out


def shorten_waits(case):
    for n in case["workflow"]["nodes"]:
        if n["type"] == "logic.wait" and "duration_s" in n.get("config", {}):
            n["config"]["duration_s"] = SHORT_WAIT_S
            case["expect"]["min_duration_ms"] = SHORT_WAIT_S * 1000 * 0.95
    return case


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_case(path, engine, registry):
    case = shorten_waits(json.loads(path.read_text()))
    issues = [i.as_dict() for i in validate(case["workflow"], registry)]
    if case.get("expect_invalid"):
        assert issues, "the document must be refused"
        for want in case.get("expect_errors", []):
            assert any(not subset(want, got, "") for got in issues), f"no issue matching {want} in {issues}"
        return
    assert issues == []
    res = engine.run(case["workflow"], dict(case.get("input", {})))
    assert check_expectations(case["expect"], res) == []


def check_expectations(exp, res) -> list[str]:
    """What of the case's `expect` the run `res` does not meet (empty: all of it)."""
    errs = []
    nodes = node_entries(res.store.states(res.run_id))
    if "status" in exp and res.status != exp["status"]:
        errs.append(f"run status {res.status} ({res.outcome.error})")
    for nid, status in exp.get("nodes", {}).items():
        if nodes[nid].status != status:
            errs.append(f"node {nid}: expected {status}, got {nodes[nid].status}")
    for nid, out in exp.get("outputs", {}).items():
        errs += subset(out, nodes[nid].output, f"nodes.{nid}.output")
    if "output" in exp:
        errs += subset(exp["output"], res.output, "run.output")
    for nid, category in exp.get("errors", {}).items():
        if (nodes[nid].error or {}).get("category") != category:
            errs.append(f"node {nid} error: expected {category}, got {nodes[nid].error}")
    for nid, text in exp.get("error_messages", {}).items():
        if text not in (nodes[nid].error or {}).get("message", ""):
            errs.append(f"node {nid} error message lacks {text!r}")
    for nid, n in exp.get("attempts", {}).items():
        if nodes[nid].attempts != n:
            errs.append(f"node {nid} attempts: expected {n}, got {nodes[nid].attempts}")
    if res.elapsed_s * 1000 < exp.get("min_duration_ms", 0):
        errs.append(f"took {res.elapsed_s * 1000:.0f} ms, expected at least {exp['min_duration_ms']}")
    return errs
