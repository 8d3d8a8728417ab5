"""Reading ids, filters and dates from requests: malformed values are a 400 naming the field.

`UUID_PATTERN` is the one id shape routed anywhere (API paths, viewset lookups, websocket
routes): only strings `uuid.UUID` accepts match it, so a 36-character run of hex digits and
dashes that is not a UUID is a 404 at routing, never a database error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .errors import ApplicationError

UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError("VALIDATION_ERROR", f"{field}: {message}", details={field: [message]})


def uuid_value(value, field: str) -> uuid.UUID:
    """`value` as a UUID, or a 400 naming `field`."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise invalid(field, "Must be a UUID.")


def uuid_param(request, name: str) -> uuid.UUID | None:
    """The query parameter `name` as a UUID; None when absent or empty."""
    raw = request.query_params.get(name)
    return uuid_value(raw.strip(), name) if raw else None


def datetime_value(raw: str, field: str) -> datetime:
    """An ISO 8601 date-time (naive means UTC) or a date (its midnight UTC), or a 400."""
    raw = raw.strip()
    try:
        when = parse_datetime(raw)
        if when is None and (day := parse_date(raw)) is not None:
            when = datetime.combine(day, time.min)
    except ValueError:  # well-formed but impossible: 2026-02-30, 25:00
        raise invalid(field, "Not a real date or time.") from None
    if when is None:
        raise invalid(field, "Must be an ISO 8601 date or date-time, e.g. 2026-01-31T12:00:00Z.")
    return timezone.make_aware(when, UTC) if timezone.is_naive(when) else when


def datetime_param(request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    return datetime_value(raw, name) if raw else None
