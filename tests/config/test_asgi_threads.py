"""Request threads are kept for the next request: sequential requests run their synchronous
work on one thread, concurrent ones on separate threads, and a thread is handed out again
only once it is idle."""

import asyncio
import itertools
import threading

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from config.asgi_threads import ReusedRequestThreads

_serial = itertools.count()
_local = threading.local()


def thread_token() -> int:
    """A number per thread, never reused (OS thread idents are, once a thread ended)."""
    if not hasattr(_local, "token"):
        _local.token = next(_serial)
    return _local.token


def make_app(seen, hold=None):
    """Like Django's ASGIHandler: the request's sync work in a thread-sensitive context of its own."""

    async def app(scope, receive, send):
        def work():
            seen.append(thread_token())
            if hold is not None and scope.get("path") == "/slow":
                hold.wait(5)

        async with ThreadSensitiveContext():
            await sync_to_async(work, thread_sensitive=True)()

    return app


def call(app, path="/"):
    return app({"type": "http", "path": path}, None, None)


def test_sequential_requests_reuse_one_thread():
    seen = []
    app = ReusedRequestThreads(make_app(seen), keep=4)

    async def scenario():
        for _ in range(5):
            await call(app)
            await asyncio.sleep(0.01)  # the thread goes back once it is idle

    asyncio.run(scenario())
    assert len(seen) == 5 and len(set(seen)) == 1
    # Without it, each request starts a thread of its own.
    plain = []
    inner = make_app(plain)

    async def unwrapped():
        for _ in range(3):
            await call(inner)

    asyncio.run(unwrapped())
    assert len(set(plain)) == 3


def test_concurrent_requests_get_their_own_threads_and_at_most_keep_are_kept():
    seen = []
    app = ReusedRequestThreads(make_app(seen), keep=2)

    async def scenario():
        await asyncio.gather(*(call(app) for _ in range(4)))
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert len(set(seen)) == 4
    assert len(app.free) == 2


def test_a_thread_still_busy_is_not_handed_to_the_next_request():
    seen, hold = [], threading.Event()
    app = ReusedRequestThreads(make_app(seen, hold), keep=4)

    async def scenario():
        slow = asyncio.ensure_future(call(app, "/slow"))
        await asyncio.sleep(0.05)
        slow.cancel()  # the client left: the view's thread goes on running
        await asyncio.sleep(0.05)
        await call(app, "/fast")

    asyncio.run(scenario())
    hold.set()
    assert len(seen) == 2 and seen[0] != seen[1]  # the fast one did not queue behind the slow one
