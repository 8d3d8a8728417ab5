"""Small display filters for the connector and credential pages."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """Indented JSON for a <pre> block (strings as they are)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def duration(ms) -> str:
    """Milliseconds as `850 ms` / `1.4 s` / `2 min 5 s`; `—` when unknown."""
    if ms is None or ms == "":
        return "—"
    ms = float(ms)
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


@register.filter
def get(mapping, key):
    """`mapping|get:key` for keys a template cannot spell (e.g. computed ones)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def status_class(status: int | None) -> str:
    """A CSS class for an HTTP status."""
    if not isinstance(status, int):
        return "status"
    return "status status-completed" if 200 <= status < 300 else "status status-failed"


@register.filter
def ago(value) -> str:
    """`3 minutes ago`, or `just now` under a minute."""
    if not value:
        return ""
    from django.utils import timezone
    from django.utils.timesince import timesince

    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value)} ago"
