"""Schemathesis over `/api/schema/` against a real `manage.py serve` (SQLite, fresh state).

Every operation, `not_a_server_error` and response-schema conformance, a fixed number of
examples per operation and a fixed seed, so a run is repeatable. Exits non-zero on any failure.

    python tools/fuzz_api.py [--max-examples 30] [--seed 1] [extra `st run` arguments...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import drop_server, make_server  # noqa: E402

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    args, extra = parser.parse_known_args()
    base_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    with tempfile.TemporaryDirectory(prefix="switchyard-fuzz-") as tmp:
        server = make_server(Path(tmp), base_env=base_env, LOG_LEVEL="ERROR")
        server.start(serve_args=["--web", "1", "--workers", "1"])
        try:
            command = [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{server.base}/api/schema/",
                "--checks",
                CHECKS,
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--phases",
                args.phases,
                # One worker: with two, schemathesis parses sources in two threads at once, which
                # CPython 3.11.7 can fail with "AST constructor recursion depth mismatch" (a crash of
                # the fuzzer, not a finding about the API).
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--suppress-health-check",
                "all",
                "-H",
                f"Authorization: Token {server.token}",
                *extra,
            ]
            result = subprocess.run(command, cwd=tmp, env={**base_env, "SCHEMATHESIS_HOOKS": ""})
            errors = [line for line in server.logs().splitlines() if "Traceback" in line or " ERROR " in line]
            if errors:
                print(f"server log ({len(errors)} error lines):\n{server.logs()}")
            return result.returncode
        finally:
            drop_server(server)


if __name__ == "__main__":
    sys.exit(main())
