"""Live run events over websockets (SPEC §7).

On connect the server sends a `snapshot`, then every later event in order. Events come
from the `RunEvent` table (written with each state change), so nothing is lost whether the
channel layer is in-memory (embedded) or Redis: the layer only wakes the consumer early;
without a wake-up it still polls every `POLL_S`.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import events, selectors
from .models import RunEvent, WorkflowRun

POLL_S = 0.25
BATCH = 500
# On the workflow stream several runs commit concurrently; re-read this far back so an
# event whose id was assigned before a later-committed one is still seen (deduplicated).
LOOKBACK_IDS = 1000


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Every websocket path that is not a stream: refused (4404) before the handshake."""

    async def connect(self):
        await self.close(code=4404)


class _EventStream(AsyncJsonWebsocketConsumer):
    groups_to_join: list[str]

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        snapshot = await self.load_snapshot(user)
        if snapshot is None:
            await self.close(code=4404)
            return
        await self.accept()
        self.wake = asyncio.Event()
        for group in self.groups_to_join:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json(snapshot)
        self.pump = asyncio.ensure_future(self.forward_events())

    async def disconnect(self, code):
        if hasattr(self, "pump"):
            self.pump.cancel()
        for group in getattr(self, "groups_to_join", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def events_wake(self, message):
        self.wake.set()

    async def forward_events(self):
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=POLL_S)
            except TimeoutError:
                pass
            self.wake.clear()
            for payload in await self.fetch_new():
                await self.send_json(payload)

    async def receive_json(self, content, **kwargs):
        pass  # the stream is one-way


class RunConsumer(_EventStream):
    """/ws/runs/{run_id}/: snapshot of the run, then its node.status and run.status events."""

    @database_sync_to_async
    def load_snapshot(self, user):
        run_id = self.scope["url_route"]["kwargs"]["run_id"]
        run = selectors.runs_for(user=user).select_related("version").filter(pk=run_id).first()
        if run is None:
            return None
        self.run_id = str(run.pk)
        self.groups_to_join = [events.run_group(self.run_id)]
        # Read the position first: anything after it is sent as an event, so state + events
        # always add up to a fresh fetch (an event may repeat what the snapshot shows).
        self.last_id = (
            RunEvent.objects.filter(run_id=run.pk).order_by("-id").values_list("id", flat=True).first() or 0
        )
        return {"type": "snapshot", "run": selectors.run_detail(run)}

    @database_sync_to_async
    def fetch_new(self):
        rows = list(
            RunEvent.objects.filter(run_id=self.run_id, id__gt=self.last_id)
            .order_by("id")
            .values_list("id", "payload")[:BATCH]
        )
        if rows:
            self.last_id = rows[-1][0]
        return [payload for _, payload in rows]


class WorkflowConsumer(_EventStream):
    """/ws/workflows/{workflow_id}/: recent runs, then events of every run of the workflow."""

    @database_sync_to_async
    def load_snapshot(self, user):
        from workflows.selectors import workflows_for

        workflow = (
            workflows_for(user=user).filter(pk=self.scope["url_route"]["kwargs"]["workflow_id"]).first()
        )
        if workflow is None:
            return None
        self.workflow_id = str(workflow.pk)
        self.groups_to_join = [events.workflow_group(self.workflow_id)]
        self.last_id = (
            RunEvent.objects.filter(workflow_id=workflow.pk)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
            or 0
        )
        self.start_id = self.last_id
        self.seen: set[int] = set()
        runs = WorkflowRun.objects.filter(workflow=workflow).order_by("-created_at")[:20]
        return {
            "type": "snapshot",
            "workflow": self.workflow_id,
            "status": workflow.status,
            "runs": [selectors.run_summary(r) for r in runs],
        }

    @database_sync_to_async
    def fetch_new(self):
        mine = RunEvent.objects.filter(workflow_id=self.workflow_id)
        # Late commits: ids below our position that were not visible when we read past them.
        late = list(
            mine.filter(id__gt=max(self.start_id, self.last_id - LOOKBACK_IDS), id__lte=self.last_id)
            .exclude(id__in=self.seen)
            .values_list("id", "payload")
        )
        new = list(mine.filter(id__gt=self.last_id).order_by("id").values_list("id", "payload")[:BATCH])
        rows = sorted(late + new, key=lambda row: row[0])
        self.seen.update(i for i, _ in rows)
        if new:
            self.last_id = new[-1][0]
        self.seen = {i for i in self.seen if i > self.last_id - LOOKBACK_IDS}
        return [payload for _, payload in rows]
