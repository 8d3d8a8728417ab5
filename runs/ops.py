"""Operations endpoints: `/healthz` (the process answers), `/readyz` (database, broker and
channel layer reachable; 503 naming what is down) and `/metrics` (Prometheus text format)."""

from __future__ import annotations

import gc
import hmac
import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Count
from django.db.utils import load_backend
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from config.api_errors import error_body

from . import metrics
from .models import RunStatus, WorkflowRun

logger = logging.getLogger("switchyard.ops")


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


READYZ_APPLICATION_NAME = "switchyard-readyz"  # the check's PostgreSQL sessions, by name


def _read_one_row(alias: str, table: str) -> None:
    """One read of `table` on a connection of the check's own to database `alias`, closed
    afterwards and bounded in the driver by READYZ_TIMEOUT_S (the probe's wait bounds the
    answer; these bound the thread): PostgreSQL's `connect_timeout` (whole seconds, 2 at
    least) and `statement_timeout` (a locked table); SQLite's busy `timeout` (a locked
    database)."""
    timeout = settings.READYZ_TIMEOUT_S
    source = connections[alias].settings_dict
    backend = load_backend(source["ENGINE"])
    options = dict(source.get("OPTIONS") or {})
    if backend.DatabaseWrapper.vendor == "sqlite":
        options["timeout"] = timeout
    elif backend.DatabaseWrapper.vendor == "postgresql":
        options.pop("pool", None)  # a dedicated connection, really closed afterwards
        options["connect_timeout"] = max(2, math.ceil(timeout))
        bound = f"-c statement_timeout={max(1, round(timeout * 1000))}"
        options["options"] = f"{options.get('options', '')} {bound}".strip()
        options["application_name"] = READYZ_APPLICATION_NAME
    own = backend.DatabaseWrapper({**source, "OPTIONS": options}, "readyz")
    quoted = own.ops.quote_name(table)
    failure = None
    try:
        with own.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {quoted} LIMIT 1")
    except Exception as exc:  # any failure means not ready: reported below
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        own.close()
    if failure is not None:
        # The driver's error (kept by the probe) would hold its frames, and psycopg leaves
        # a connect that timed out in a reference cycle: its socket is closed by a
        # collection, now, not whenever one happens to run.
        gc.collect()
        raise ConnectionError(failure)


def _database():
    _read_one_row(DEFAULT_DB_ALIAS, MigrationRecorder.Migration._meta.db_table)


def _broker():
    """A Redis broker is pinged with its own connection, bounded by READYZ_TIMEOUT_S (the
    broker's pooled client waits without limit). The database-backed (ORM) broker reads its
    queue table like the database check, bounded in the driver (Django-Q's own `ping()`
    answers without asking anything, and its connection set-up waits out a locked SQLite
    file for the busy timeout of 30 s)."""
    url = settings.Q_CLUSTER.get("redis")
    if isinstance(url, str):
        import redis

        timeout = settings.READYZ_TIMEOUT_S
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return
    alias = settings.Q_CLUSTER.get("orm")
    if isinstance(alias, str):
        from django_q.models import OrmQ

        _read_one_row(alias, OrmQ._meta.db_table)
        return
    from django_q.brokers import get_broker

    try:
        if not get_broker().ping():
            raise ConnectionError("the broker did not answer")
    finally:
        connection.close()


def _channel_layer():
    import asyncio

    from channels.layers import get_channel_layer

    async def probe():
        await asyncio.wait_for(
            get_channel_layer().group_discard("readyz", "readyz.probe"), settings.READYZ_TIMEOUT_S
        )

    async_to_sync(probe)()


CHECKS = {"database": _database, "broker": _broker, "channel_layer": _channel_layer}


class _Checks:
    """Each check runs on a thread of its own and is waited for at most READYZ_TIMEOUT_S.
    A check still going is not started again: a probe meanwhile waits for that one (so a
    dependency that hangs holds one thread, however often it is probed)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, Future] = {}
        self._pool = ThreadPoolExecutor(len(CHECKS) * 2, thread_name_prefix="readyz")

    def run(self, name: str, check) -> dict:
        started = time.monotonic()
        with self._lock:
            future = self._running.get(name)
            if future is None or future.done():
                future = self._running[name] = self._pool.submit(check)
        try:
            future.result(timeout=settings.READYZ_TIMEOUT_S)
        except FutureTimeout:
            return {"ok": False, "error": f"no answer within {settings.READYZ_TIMEOUT_S:g} s"}
        except Exception as exc:  # any failure means not ready; say which and why
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


_checks = _Checks()


@require_GET
def readyz(request):
    """Ready when the database, the broker and the channel layer answer, each within
    READYZ_TIMEOUT_S; else 503 naming those that did not, and why."""
    checks = {name: _checks.run(name, check) for name, check in CHECKS.items()}
    down = [name for name, result in checks.items() if not result["ok"]]
    for name in down:
        logger.warning("readyz: %s is down: %s", name, checks[name]["error"])
    if down:
        body = error_body("NOT_READY", f"Not ready: {', '.join(down)} unreachable.", {"checks": checks})
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ready", "checks": checks})


class StoredStateCollector:
    """Gauges read from the database at scrape time."""

    def collect(self):
        queue = GaugeMetricFamily("switchyard_queue_depth", "Work waiting to be picked up.", labels=["queue"])
        pending = WorkflowRun.objects.filter(status=RunStatus.PENDING).count()
        queue.add_metric(["runs_pending"], pending)
        try:
            from django_q.brokers import get_broker

            queue.add_metric(["broker"], get_broker().queue_size() or 0)
        except Exception:  # the broker being down is /readyz's news; the scrape still answers
            logger.warning("metrics: could not read the broker's queue size", exc_info=True)
        yield queue
        active = GaugeMetricFamily(
            "switchyard_runs_active", "Runs not yet finished, by status.", labels=["status"]
        )
        counts = dict(
            WorkflowRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING])
            .values_list("status")
            .annotate(n=Count("id"))
        )
        for status in (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING):
            active.add_metric([status], counts.get(status, 0))
        yield active


@require_GET
def metrics_view(request):
    if settings.METRICS_TOKEN:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.METRICS_TOKEN.encode()):
            return JsonResponse(
                error_body("NOT_AUTHENTICATED", "/metrics wants the METRICS_TOKEN."), status=401
            )
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(StoredStateCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class WebhookAnswersMiddleware:
    """Counts every answer on /hooks/ by status code (webhooks, chat and payment intake)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/hooks/"):
            metrics.WEBHOOK_ANSWERS.labels(code=str(response.status_code)).inc()
        return response
