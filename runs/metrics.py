"""Prometheus metrics (prometheus_client, multiprocess mode: settings.METRICS_DIR).

Counters and the node-duration histogram are written by whichever process does the work (a
daphne process, a Django-Q worker) and summed across processes at scrape time; gauges that
describe stored state (queue depth, runs by status) are read from the database when scraped,
so they are right whichever process or machine changed it."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter, Histogram

RUNS_STARTED = Counter("switchyard_runs_started_total", "Runs started.", ["trigger_type", "mode"])
RUNS_FINISHED = Counter("switchyard_runs_finished_total", "Runs that reached a final status.", ["status"])
NODE_SECONDS = Histogram(
    "switchyard_node_duration_seconds",
    "Time from a node's start to its success or failure.",
    ["node_type", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, float("inf")),
)
LEASE_TAKEOVERS = Counter(
    "switchyard_lease_takeovers_total", "Runs whose worker stopped renewing its lease, handed to another."
)
WEBHOOK_ANSWERS = Counter(
    "switchyard_webhook_responses_total", "Answers on /hooks/, by status code.", ["code"]
)

FINISHED_NODE_STATUSES = ("succeeded", "failed")


def run_started(run) -> None:
    labels = RUNS_STARTED.labels(trigger_type=run.trigger_type or "", mode=run.mode)
    transaction.on_commit(labels.inc)


def run_finished(status: str) -> None:
    transaction.on_commit(RUNS_FINISHED.labels(status=status).inc)


def node_finished(node_type: str, state) -> None:
    if state.status in FINISHED_NODE_STATUSES and state.started_at and state.completed_at:
        seconds = max(0.0, (state.completed_at - state.started_at).total_seconds())
        NODE_SECONDS.labels(node_type=node_type or "", status=state.status).observe(seconds)
