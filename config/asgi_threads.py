"""ASGI middleware: each HTTP request's synchronous work (Django's middleware and views) runs
on a request thread kept for the next request, instead of a thread started for the request
and joined by another thread after it (asgiref's default per-request context).

A kept thread also keeps its database connection (see settings: CONN_MAX_AGE), which for
SQLite saves Django's connection set-up (~2 ms of CPU) on every request. A thread goes back
to the free list only once it is idle (a view still running after its client left delays
nobody), and at most `keep` threads wait there; the others end."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext


class ReusedRequestThreads:
    def __init__(self, app, keep: int):
        self.app = app
        self.keep = keep
        self.free: list[ThreadPoolExecutor] = []
        self.lock = threading.Lock()

    def _take(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.free:
                return self.free.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        with self.lock:
            if len(self.free) < self.keep:
                self.free.append(executor)
                return
        executor.shutdown(wait=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        executor = self._take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            # Back on the free list once everything queued on it has run.
            executor.submit(lambda: None).add_done_callback(lambda _done: self._give_back(executor))
