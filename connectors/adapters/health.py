"""Integration health from the recorded operations (`IntegrationOperation`): per connection
(workspace credential), how many operations ran, how many succeeded, p50/p95 latency and the
last error with its time. Reads only, scoped to the caller's workspaces."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..models import IntegrationOperation

DEFAULT_WINDOW = timedelta(days=7)
MAX_ROWS = 50_000  # newest first; a busier window is summarised from its newest rows


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))  # ceil(fraction * n)
    return round(sorted_values[min(rank, len(sorted_values)) - 1], 2)


def integration_health(*, user, since=None, workspace_id=None) -> dict:
    """`{since, results: [...]}`, one result per connection, busiest first."""
    since = since or timezone.now() - DEFAULT_WINDOW
    rows = IntegrationOperation.objects.for_user(user).filter(created_at__gte=since)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    rows = rows.order_by("-created_at").values(
        "workspace_id",
        "credential_id",
        "credential_name",
        "adapter",
        "operation",
        "endpoint",
        "succeeded",
        "duration_ms",
        "error_category",
        "error_message",
        "created_at",
    )[:MAX_ROWS]
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = (row["workspace_id"], row["credential_name"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "workspace": str(row["workspace_id"]),
                "credential": row["credential_name"],
                "credential_id": str(row["credential_id"]) if row["credential_id"] else None,
                "endpoint": row["endpoint"],
                "adapters": set(),
                "operations": 0,
                "succeeded": 0,
                "durations": [],
                "last_error": None,
                "last_operation_at": row["created_at"],
            }
        group["adapters"].add(row["adapter"])
        group["operations"] += 1
        group["durations"].append(row["duration_ms"])
        if row["succeeded"]:
            group["succeeded"] += 1
        elif group["last_error"] is None:  # rows come newest first
            group["last_error"] = {
                "category": row["error_category"],
                "message": row["error_message"],
                "at": row["created_at"].isoformat(),
                "operation": f"{row['adapter']}.{row['operation']}",
            }
    results = []
    for group in groups.values():
        durations = sorted(group.pop("durations"))
        total = group["operations"]
        results.append(
            {
                **group,
                "adapters": sorted(group["adapters"]),
                "failed": total - group["succeeded"],
                "success_rate": round(group["succeeded"] / total, 4) if total else None,
                "p50_ms": _percentile(durations, 0.50),
                "p95_ms": _percentile(durations, 0.95),
                "last_operation_at": group["last_operation_at"].isoformat(),
            }
        )
    results.sort(key=lambda r: (-r["operations"], r["credential"]))
    return {"since": since.isoformat(), "results": results}
