"""The shared conformance suite, played against a real `serve` (daphne + Django-Q)."""

import subprocess
import sys

import pytest

from .server import ROOT

pytestmark = pytest.mark.slow

# The shared suite sits beside the checkout (`../shared`), or beside the directory of
# checkouts when this one is a worktree (`../../shared`).
RUNNER = next(
    (
        p / "shared" / "conformance" / "run.py"
        for p in ROOT.parents
        if (p / "shared" / "conformance").is_dir()
    ),
    ROOT.parent / "shared" / "conformance" / "run.py",
)


def test_conformance_suite_passes_against_serve(server):
    assert RUNNER.exists(), f"conformance runner not found at {RUNNER}"
    out = subprocess.run(
        [sys.executable, str(RUNNER), "--base", server.base, "--token", server.token],
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}\n--- server log ---\n{server.logs()}"
    assert " 0 failed" in out.stdout.strip().splitlines()[-1]
