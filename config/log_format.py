"""Structured logs: with `LOG_FORMAT=json` every line is one JSON object carrying the run and
node ids when there are any (from the record's `extra`, or the run being advanced on this
thread: `bind_run`)."""

from __future__ import annotations

import contextvars
import json
import logging
from contextlib import contextmanager
from datetime import UTC, datetime

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("switchyard_run_id", default=None)


@contextmanager
def bind_run(run_id):
    """Log lines written inside (on this thread) carry `run_id`."""
    token = _run_id.set(str(run_id))
    try:
        yield
    finally:
        _run_id.reset(token)


class JsonFormatter(logging.Formatter):
    FIELDS = ("run_id", "node_id", "workflow_id", "iteration", "status_code", "method", "path")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if "run_id" not in entry and (bound := _run_id.get()):
            entry["run_id"] = bound
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
