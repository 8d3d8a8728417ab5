"""The integration health page: the same figures as GET /api/v1/integrations/health."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.dateparse import parse_datetime

from .adapters.health import integration_health


@login_required
def integration_health_page(request):
    health = integration_health(user=request.user)
    for row in health["results"]:
        row["success_percent"] = round(row["success_rate"] * 100, 1)
        row["last_operation"] = parse_datetime(row["last_operation_at"])
        if row["last_error"]:
            row["last_error_at"] = parse_datetime(row["last_error"]["at"])
    context = {"results": health["results"], "since": parse_datetime(health["since"])}
    return render(request, "integrations/health.html", context)
