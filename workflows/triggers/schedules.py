"""Schedule triggers (SPEC §5 `trigger.schedule`: `cron` + `timezone`) on django-q2 schedules.

Each schedule node of an active workflow owns one django-q2 `Schedule` row, named
`sy:<workflow hex>:<node id>`, of type ONCE, whose `next_run` is the node's next slot and
whose task is `runs.tasks.fire_schedule` for exactly that slot (workflow, node, pinned version, slot).
django-q2's scheduler hands the task to a worker and deletes the row; `fire_schedule` first
arms the row for the next slot (`rearm`), then starts the live run.

Why not django-q2's own CRON schedule type: it evaluates the expression in the server's time
zone (`croniter(cron, localtime())`), while each trigger has its own IANA zone, and its
next-run arithmetic cannot tell a missed slot from a due one. Computing each slot here with
croniter, in the trigger's zone, gives:

- correct wall-clock times across DST changes (a daily 09:00 stays 09:00 local; a fixed-time
  job in the repeated hour of a fall-back runs once, as Vixie cron does; an interval job
  such as `*/20 * * * *` runs at every real occurrence);
- the missed-run rule for free: a row whose slot passed while every process was down is due
  once when a scheduler next looks, fires that one slot, and the next row is armed at the
  first slot *after now* — one catch-up run, not one per missed slot;
- per-slot idempotency: the run's idempotency key is `schedule:<node>:<slot>`, so a slot
  fired twice (two schedulers, a redelivered task) still makes one run.

django-q2's cluster only looks at schedules about every 30 s; `manage.py timekeeper` (part of
`serve`) calls the same scheduler every tick so second-level cron (an optional sixth field,
seconds, croniter's order `min hour dom mon dow sec`) fires on time. Claims are safe with
several schedulers: rows are taken with `select_for_update` (SQLite transactions are
IMMEDIATE), and anything that slips through dedupes on the slot's idempotency key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Workflow, WorkflowStatus, WorkflowVersion

logger = logging.getLogger("switchyard.schedules")

NAME_PREFIX = "sy:"
NODE_TYPE = "trigger.schedule"
PREVIEW_COUNT = 5


class ScheduleInvalid(ValueError):
    """A schedule node's cron or time zone cannot be used (message names the problem)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CronSpec:
    """A cron expression evaluated in an IANA time zone."""

    cron: str
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _is_interval(self) -> bool:
        # Vixie cron's rule for the repeated hour of a DST fall-back: a job with `*` in its
        # minute or hour field runs at every real occurrence, a fixed-time job only once.
        fields = self.cron.split()
        return len(fields) < 2 or fields[0].startswith("*") or fields[1].startswith("*")

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after `moment`, as an aware datetime in the trigger's zone."""
        from croniter import croniter

        it = croniter(self.cron, moment.astimezone(self.zone))
        while True:
            slot = it.get_next(datetime)
            if slot.fold and not self._is_interval() and slot.replace(fold=0).utcoffset() != slot.utcoffset():
                continue  # the same wall-clock time already ran before the clocks went back
            return slot

    def upcoming(self, count: int = PREVIEW_COUNT, after: datetime | None = None) -> list[datetime]:
        slots, moment = [], after or timezone.now()
        for _ in range(count):
            moment = self.next_after(moment)
            slots.append(moment)
        return slots


def spec_of(node: dict, variables: dict | None = None) -> CronSpec:
    """The node's schedule, its `cron`/`timezone` templates rendered against `variables`.
    Raises ScheduleInvalid naming the field."""
    from ..engine.errors import TemplateError
    from ..nodes.triggers import check_cron

    config = node.get("config") or {}
    values = {}
    for field, default in (("cron", None), ("timezone", "UTC")):
        value = config.get(field, default)
        if isinstance(value, str) and "{{" in value:
            from ..engine.templates import render

            try:
                value = render(value, {"variables": variables or {}})
            except TemplateError as exc:
                raise ScheduleInvalid(f"config.{field}", f"{field} could not be rendered: {exc}") from None
        values[field] = value
    problem = check_cron(values["cron"])
    if problem:
        raise ScheduleInvalid("config.cron", problem)
    tz = values["timezone"]
    try:
        if not isinstance(tz, str) or not tz:
            raise ValueError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalid(
            "config.timezone", f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)"
        ) from None
    spec = CronSpec(cron=" ".join(values["cron"].split()), timezone=tz)
    try:
        spec.next_after(timezone.now())
    except CroniterError:
        raise ScheduleInvalid("config.cron", f"cron {spec.cron!r} never matches a date") from None
    return spec


def schedule_nodes(document: dict) -> list[dict]:
    return [n for n in document.get("nodes") or [] if n.get("type") == NODE_TYPE]


def schedule_name(workflow_id, node_id: str) -> str:
    """`sy:<32 hex>:<node id>` — at most 99 characters, within Schedule.name's 100."""
    hex_id = workflow_id.hex if hasattr(workflow_id, "hex") else str(workflow_id).replace("-", "")
    return f"{NAME_PREFIX}{hex_id}:{node_id}"


def _arm(*, workflow: Workflow, version: WorkflowVersion, node_id: str, slot: datetime):
    from django_q.models import Schedule

    kwargs = {
        "workflow_id": str(workflow.pk),
        "node_id": node_id,
        "version_id": version.pk,
        "slot": slot.isoformat(),
    }
    return Schedule.objects.create(
        name=schedule_name(workflow.pk, node_id),
        func=settings.SCHEDULE_FIRE_TASK,
        kwargs=repr(kwargs),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=slot,
    )


def registered_schedules(workflow: Workflow):
    from django_q.models import Schedule

    return Schedule.objects.filter(name__startswith=schedule_name(workflow.pk, ""))


def register_schedules(*, workflow: Workflow, version: WorkflowVersion, now: datetime | None = None) -> list:
    """Replace the workflow's schedules with one per schedule node of `version`, each armed at
    its next slot. Call inside the activation transaction (raises ScheduleInvalid)."""
    now = now or timezone.now()
    variables = version.document.get("variables") or {}
    armed = [
        (node["id"], spec_of(node, variables).next_after(now)) for node in schedule_nodes(version.document)
    ]
    unregister_schedules(workflow=workflow)
    return [_arm(workflow=workflow, version=version, node_id=node_id, slot=slot) for node_id, slot in armed]


def unregister_schedules(*, workflow: Workflow) -> int:
    deleted, _ = registered_schedules(workflow).delete()
    return deleted


def rearm(
    *, workflow: Workflow, version: WorkflowVersion, node_id: str, spec: CronSpec, fired: datetime
) -> None:
    """Arm the slot after max(fired slot, now) unless a later slot is already armed (a
    duplicate delivery of this slot, or a re-activation, got there first). Rows for this or
    earlier slots are spent: the scheduler deletes the one it fired, and any other is dropped
    here so each node keeps exactly one row."""
    from django_q.models import Schedule

    rows = Schedule.objects.filter(name=schedule_name(workflow.pk, node_id))
    rows.filter(next_run__lte=fired).delete()
    if rows.filter(next_run__gt=fired).exists():
        return
    _arm(
        workflow=workflow, version=version, node_id=node_id, slot=spec.next_after(max(fired, timezone.now()))
    )


def ensure_schedules(now: datetime | None = None) -> int:
    """Start-up repair: arm every schedule node of an active workflow that has no row (its
    row is missing only if a fire task died before re-arming) and drop rows of workflows that
    were deleted. Rows whose slot passed while everything was down are kept: the scheduler
    fires each of them once. Returns how many rows were armed."""
    from django_q.models import Schedule

    now = now or timezone.now()
    ours = Schedule.objects.filter(name__startswith=NAME_PREFIX)
    existing = set(ours.values_list("name", flat=True))
    active = Workflow.objects.filter(status=WorkflowStatus.ACTIVE, active_version__isnull=False)
    wanted = set()
    armed = 0
    for workflow in active.select_related("active_version"):
        version = workflow.active_version
        for node in schedule_nodes(version.document):
            name = schedule_name(workflow.pk, node["id"])
            wanted.add(name)
            if name in existing:
                continue
            try:
                slot = spec_of(node, version.document.get("variables") or {}).next_after(now)
            except ScheduleInvalid as exc:
                logger.warning("schedule %s of workflow %s cannot be armed: %s", node["id"], workflow.pk, exc)
                continue
            with transaction.atomic():
                _arm(workflow=workflow, version=version, node_id=node["id"], slot=slot)
            armed += 1
    stale = existing - wanted
    if stale:
        ours.filter(name__in=stale).delete()
    return armed


class DueScheduleRunner:
    """Runs django-q2's scheduler (hands due Schedule rows to the queue) with one broker
    connection kept across calls; the timekeeper calls it every tick."""

    def __init__(self):
        self._broker = None

    def __call__(self) -> None:
        from django_q.brokers import get_broker
        from django_q.scheduler import scheduler

        if self._broker is None:
            self._broker = get_broker()
        scheduler(broker=self._broker)


def run_due_schedules() -> None:
    """Hand every due schedule to the queue once (a fresh broker connection; for tests and
    one-off calls)."""
    DueScheduleRunner()()
