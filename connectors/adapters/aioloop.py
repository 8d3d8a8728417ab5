"""One background asyncio loop per process for the adapters whose clients are async (NATS,
SFTP): worker threads submit coroutines and wait for them, bounded by the operation's time."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from workflows.engine.errors import ErrorCategory, NodeError

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="switchyard-adapters-aio", daemon=True).start()
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
    """Run `coro` on the adapters' loop and wait at most `timeout_s` (TIMEOUT_ERROR after)."""
    future = asyncio.run_coroutine_threadsafe(coro, loop())
    try:
        return future.result(timeout=max(0.001, timeout_s))
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise NodeError(ErrorCategory.TIMEOUT_ERROR, f"no answer within {timeout_s:g} s") from None
