"""Start a real `manage.py serve` (daphne + Django-Q + timekeeper) on its own database.

The harness lives in `bench/_harness.py` (the benchmarks use it too); this module re-exports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._harness import Server, drop_server, free_port, make_server  # noqa: E402

__all__ = ["ROOT", "Server", "drop_server", "free_port", "make_server"]
