"""Operations endpoints: `/healthz` (the process answers), `/readyz` (database, broker and
channel layer reachable; 503 naming what is down) and `/metrics` (Prometheus text format)."""

from __future__ import annotations

import hmac
import logging
import time

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.db.models import Count
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


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker():
    from django_q.brokers import get_broker

    if not get_broker().ping():
        raise ConnectionError("the broker did not answer")


def _channel_layer():
    from channels.layers import get_channel_layer

    async_to_sync(get_channel_layer().group_discard)("readyz", "readyz.probe")


CHECKS = {"database": _database, "broker": _broker, "channel_layer": _channel_layer}


@require_GET
def readyz(request):
    checks, down = {}, []
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
            checks[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
        except Exception as exc:  # any failure means not ready; say which and why
            logger.warning("readyz: %s is down: %s", name, exc)
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            down.append(name)
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
