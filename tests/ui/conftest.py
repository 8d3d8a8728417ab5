"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Screenshots land in `var/screenshots/` so a person can look at what the tests saw."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from django.core.signals import request_finished, request_started

from tests.connectors.api_server import ApiServer
from tests.e2e.server import drop_server, make_server

# Playwright's sync API runs an event loop in this thread; the live server's database calls
# happen in its own thread, and the test's ORM calls are ordinary sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/ui/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# One browser per module, not per session: Playwright's sync API keeps an event loop running
# on the main thread while it is open, and later tests in the same xdist worker that call
# asyncio.run() or async_to_sync would fail.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "UI tests need Debian's chromium (make browser)"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class _InFlight:
    """Requests the live server is handling. A page closed at the end of a test may have sent
    a request (an autosave, say) that the live server is still running; the test database is
    flushed right after, so teardown waits until the server is quiet.

    Only the live server's threads count: a test's own client requests run in the test's
    thread, and one whose response it never closed (a file it did not read) would otherwise
    hold every later teardown for the whole timeout."""

    def __init__(self):
        self.count = 0
        self.last_change = time.monotonic()
        self.cond = threading.Condition()
        self.test_thread = threading.main_thread().ident

    def started(self, **_kwargs):
        if threading.get_ident() == self.test_thread:
            return
        with self.cond:
            self.count += 1
            self.last_change = time.monotonic()

    def finished(self, **_kwargs):
        if threading.get_ident() == self.test_thread:
            return
        with self.cond:
            self.count -= 1
            self.last_change = time.monotonic()
            self.cond.notify_all()

    def wait_quiet(self, quiet_s: float = 0.3, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while time.monotonic() < deadline:
                idle_for = time.monotonic() - self.last_change
                if self.count <= 0 and idle_for >= quiet_s:
                    return
                self.cond.wait(timeout=max(0.05, quiet_s - idle_for) if self.count <= 0 else 0.5)


IN_FLIGHT = _InFlight()
request_started.connect(IN_FLIGHT.started, dispatch_uid="ui-tests-in-flight-started")
request_finished.connect(IN_FLIGHT.finished, dispatch_uid="ui-tests-in-flight-finished")


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    IN_FLIGHT.test_thread = threading.get_ident()
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    IN_FLIGHT.wait_quiet()


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves var/screenshots/<name>.png of the current page."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def logged_in(page, live_server, django_user_model):
    """A user logged in through the real login form; returns (page, user, base_url)."""
    user = django_user_model.objects.create_user("operator", "operator@example.com", "pw-operator-1")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator-1")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page, user, live_server.url


# A real `serve` (daphne, websockets, workers) for the run pages' tests: one per module.
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = make_server(tmp_path_factory.mktemp("serve-ui"))
    srv.start(timeout_s=180)  # a loaded CI machine can take long to bring daphne and workers up
    yield srv
    drop_server(srv)


@pytest.fixture
def remote():
    srv = ApiServer()
    yield srv
    srv.close()


@pytest.fixture
def demo(page, server):
    page.goto(f"{server.base}/accounts/login/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "switchyard-demo")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{server.base}/")
    return page
