"""Structured logs: with `LOG_FORMAT=json` every line is one JSON object carrying the run and
node ids when there are any (from the record's `extra`, or the run being advanced on this
thread: `bind_run`)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
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


_HOOK_TOKEN = re.compile(r"(/hooks/)([^/?#\s\"'<>]+)")


def mask_hook_tokens(text: str) -> str:
    """`text` with each trigger URL token (`/hooks/<token>`: whoever holds it can start runs)
    cut to its first four characters and `***`, enough to tell endpoints apart in a log."""
    if "/hooks/" not in text:
        return text
    return _HOOK_TOKEN.sub(lambda m: m[1] + m[2][:4] + "***", text)


class MaskHookTokens(logging.Filter):
    """Every log line (Django's "Unauthorized: /hooks/…" warnings included) written with the
    trigger URL tokens in it masked (`mask_hook_tokens`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it as it always did
            return True
        if "/hooks/" in message:
            record.msg, record.args = mask_hook_tokens(message), ()
        path = getattr(record, "path", None)
        if isinstance(path, str):
            record.path = mask_hook_tokens(path)
        return True


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
