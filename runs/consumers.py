"""Live run events over websockets (SPEC §7).

On connect the server sends a `snapshot`, then every later event in order. Events come
from the `RunEvent` table (written with each state change), so nothing is lost whether the
channel layer is in-memory (embedded) or Redis.

One `EventHub` per process tails that table for every stream open in the process: one
query per wake-up however many clients watch, fanned out in memory. With Redis, workers
wake the hub through the channel layer as soon as events commit (one message per process
and group, not per client); it also polls every `REDIS_TICK_S`. Embedded, workers are
other processes that cannot reach an in-memory layer, so the hub polls every
`EMBEDDED_TICK_S` (an indexed range read past the last id seen, only while someone
watches).
"""

from __future__ import annotations

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection
from django.db.models import Q

from . import events, selectors
from .models import RunEvent, WorkflowRun

logger = logging.getLogger("switchyard.events")

EMBEDDED_TICK_S = 0.025
REDIS_TICK_S = 0.25
BATCH = 500
# Several runs commit concurrently on PostgreSQL: re-read this far back so an event whose
# id was assigned before a later-committed one is still delivered (once).
LOOKBACK_IDS = 1000
RECENT_RUNS = 20


class EventHub:
    """Tails `RunEvent` for the streams open in this process and hands each event to the
    consumers of its run and workflow, in id order."""

    def __init__(self):
        self.groups: dict[str, set] = {}
        self.last_id: int | None = None
        self.seen: set[int] = set()
        self.poked = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.channel: str | None = None
        self.receiver: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.layer = get_channel_layer()
        self.tick_s = (
            EMBEDDED_TICK_S
            if self.layer is None or isinstance(self.layer, InMemoryChannelLayer)
            else REDIS_TICK_S
        )

    async def subscribe(self, consumer, group: str) -> None:
        if self.last_id is None:
            self.last_id = await database_sync_to_async(_max_event_id)()
        members = self.groups.setdefault(group, set())
        first = not members
        members.add(consumer)
        if first and self.layer is not None:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.receiver = asyncio.ensure_future(self._receive())
            await self.layer.group_add(group, self.channel)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    async def unsubscribe(self, consumer, group: str) -> None:
        members = self.groups.get(group)
        if not members:
            return
        members.discard(consumer)
        if not members:
            del self.groups[group]
            if self.layer is not None and self.channel is not None:
                await self.layer.group_discard(group, self.channel)

    def poke(self) -> None:
        self.poked.set()

    async def _receive(self):
        while True:
            try:
                await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer went away for a moment: the tick still delivers
                logger.debug("event hub could not read its channel", exc_info=True)
                await asyncio.sleep(self.tick_s)
                continue
            self.poke()

    async def _run(self):
        while self.groups:
            try:
                await asyncio.wait_for(self.poked.wait(), timeout=self.tick_s)
            except TimeoutError:
                pass
            self.poked.clear()
            if not self.groups:
                break
            try:
                rows = await database_sync_to_async(self._fetch)(list(self.groups))
            except Exception:
                logger.warning("event hub could not read events", exc_info=True)
                await asyncio.sleep(self.tick_s)
                continue
            for event_id, run_id, workflow_id, payload in rows:
                targets = self.groups.get(events.run_group(str(run_id)), set()) | self.groups.get(
                    events.workflow_group(str(workflow_id)), set()
                )
                text = json.dumps({**payload, "seq": event_id})  # once, however many watch
                for consumer in targets:
                    consumer.deliver(event_id, text)
            if len(rows) >= BATCH:
                self.poke()

    def _fetch(self, groups: list[str]) -> list[tuple]:
        runs = [g.split(".", 1)[1] for g in groups if g.startswith("run.")]
        flows = [g.split(".", 1)[1] for g in groups if g.startswith("workflow.")]
        mine = RunEvent.objects.filter(Q(run_id__in=runs) | Q(workflow_id__in=flows))
        columns = ("id", "run_id", "workflow_id", "payload")
        new = list(mine.filter(id__gt=self.last_id).order_by("id").values_list(*columns)[:BATCH])
        late = []
        if connection.vendor != "sqlite":  # SQLite commits in id order: nothing arrives late
            window = mine.filter(id__gt=self.last_id - LOOKBACK_IDS, id__lte=self.last_id)
            missing = set(window.values_list("id", flat=True)) - self.seen
            if missing:
                late = list(mine.filter(id__in=missing).values_list(*columns))
        rows = sorted(late + new, key=lambda row: row[0])
        if new:
            self.last_id = new[-1][0]
        self.seen.update(row[0] for row in rows)
        floor = self.last_id - LOOKBACK_IDS
        if len(self.seen) > 4 * LOOKBACK_IDS:
            self.seen = {i for i in self.seen if i > floor}
        return rows


def _max_event_id() -> int:
    return RunEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


_hubs: dict[int, EventHub] = {}


def hub() -> EventHub:
    """The hub of the running event loop (one per process in a server)."""
    loop = asyncio.get_running_loop()
    for key, old in list(_hubs.items()):
        if old.loop is not None and old.loop.is_closed():
            del _hubs[key]
    found = _hubs.get(id(loop))
    if found is None or found.loop is not loop:
        found = _hubs[id(loop)] = EventHub()
        found.loop = loop
    return found


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Every websocket path that is not a stream: refused (4404) before the handshake."""

    async def connect(self):
        await self.close(code=4404)


class _EventStream(AsyncJsonWebsocketConsumer):
    group: str = ""

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.position: int | None = None  # events up to here are in the snapshot
        self.queue: asyncio.Queue = asyncio.Queue()
        self.group = await database_sync_to_async(self.group_for)(user)
        if not self.group:
            await self.close(code=4404)
            return
        self.hub = hub()
        await self.hub.subscribe(self, self.group)  # before the snapshot: nothing falls between
        snapshot = await database_sync_to_async(self.load_snapshot)()
        await self.accept()
        await self.send_json(snapshot)
        self.pump = asyncio.ensure_future(self.forward_events())

    async def disconnect(self, code):
        if hasattr(self, "pump"):
            self.pump.cancel()
        if self.group and hasattr(self, "hub"):
            await self.hub.unsubscribe(self, self.group)

    def deliver(self, event_id: int, text: str) -> None:
        self.queue.put_nowait((event_id, text))

    async def forward_events(self):
        while True:
            event_id, text = await self.queue.get()
            if event_id <= self.position:
                continue  # already in the snapshot
            await self.send(text_data=text)

    async def receive_json(self, content, **kwargs):
        pass  # the stream is one-way


class RunConsumer(_EventStream):
    """/ws/runs/{run_id}/: snapshot of the run, then its node.status and run.status events."""

    def group_for(self, user) -> str:
        run_id = self.scope["url_route"]["kwargs"]["run_id"]
        self.run = selectors.runs_for(user=user).select_related("version").filter(pk=run_id).first()
        return events.run_group(str(self.run.pk)) if self.run else ""

    def load_snapshot(self):
        # The position first: anything after it is sent as an event, so state + events
        # always add up to a fresh fetch (an event may repeat what the snapshot shows).
        self.position = (
            RunEvent.objects.filter(run_id=self.run.pk).order_by("-id").values_list("id", flat=True).first()
            or 0
        )
        run = WorkflowRun.objects.select_related("version").get(pk=self.run.pk)
        return {"type": "snapshot", "seq": self.position, "run": selectors.run_detail(run)}


class WorkflowConsumer(_EventStream):
    """/ws/workflows/{workflow_id}/: recent runs and the newest run's node states, then
    events of every run of the workflow."""

    def group_for(self, user) -> str:
        from workflows.selectors import workflows_for

        self.workflow = (
            workflows_for(user=user).filter(pk=self.scope["url_route"]["kwargs"]["workflow_id"]).first()
        )
        return events.workflow_group(str(self.workflow.pk)) if self.workflow else ""

    def load_snapshot(self):
        workflow = self.workflow
        self.position = (
            RunEvent.objects.filter(workflow_id=workflow.pk)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
            or 0
        )
        runs = list(
            WorkflowRun.objects.filter(workflow=workflow)
            .select_related("version")
            .order_by("-created_at")[:RECENT_RUNS]
        )
        return {
            "type": "snapshot",
            "seq": self.position,
            "workflow": str(workflow.pk),
            "status": workflow.status,
            "runs": [selectors.run_summary(r) for r in runs],
            "latest_run": selectors.run_detail(runs[0]) if runs else None,
        }
