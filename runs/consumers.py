"""Live run events over websockets (SPEC §7).

On connect the server sends a `snapshot`, then every later event in order. Events come
from the `RunEvent` table (written with each state change), so nothing is lost whether the
channel layer is in-memory (embedded) or Redis.

One `EventHub` per process tails that table for every stream open in the process: one
query per wake-up however many clients watch, fanned out in memory. Writers wake the hub
as soon as their events commit: with Redis through the channel layer (one message per
process and group, not per client); embedded, where workers are other processes that
cannot reach an in-memory layer, with a datagram to the hub's socket in
`events.wake_dir()`. A slow safety tick (`SAFETY_TICK_S`) covers a lost wake-up; a hub
that cannot open its socket reads every `EMBEDDED_TICK_S` instead. Either way the hub runs
only while someone in the process watches: with no stream open it does nothing.

Ids are assigned when a transaction inserts, not when it commits: on PostgreSQL a run's
events may become visible after higher ids of another run. The hub remembers every id it
has passed without seeing (a gap: a transaction still open, or one rolled back) and reads
those ids again until they appear or `GAP_WAIT_S` has passed, so an event that commits
late is delivered, however many ids were assigned meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, transaction
from django.db.models import Case, F, JSONField, Q, Value, When

from . import events, selectors
from .models import RunEvent, WorkflowRun

logger = logging.getLogger("switchyard.events")

EMBEDDED_TICK_S = 0.025
SAFETY_TICK_S = 1.0
BATCH = 500
# An id passed over is read again until it commits or this long has passed (a rolled-back
# transaction's ids never appear); at most MAX_GAPS ids are remembered (the newest).
GAP_WAIT_S = 120.0
MAX_GAPS = 5000
# On start, ids this far below the newest are checked for transactions still open.
START_SCAN_IDS = 2000
RECENT_RUNS = 20


def _watched(groups) -> Q:
    runs = [g.split(".", 1)[1] for g in groups if g.startswith("run.")]
    flows = [g.split(".", 1)[1] for g in groups if g.startswith("workflow.")]
    return Q(run_id__in=runs) | Q(workflow_id__in=flows)


def _rows(qs, groups) -> list[tuple]:
    """(id, run_id, workflow_id, payload) of `qs`, the payload read only for watched events."""
    payload = Case(When(_watched(groups), then=F("payload")), default=Value(None), output_field=JSONField())
    return list(
        qs.annotate(watched_payload=payload).values_list("id", "run", "workflow_id", "watched_payload")
    )


def _start_position() -> tuple[int, list[int]]:
    """The newest id, and the ids below it (within START_SCAN_IDS) not visible yet."""
    top = RunEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    low = max(0, top - START_SCAN_IDS)
    present = set(RunEvent.objects.filter(id__gt=low, id__lte=top).values_list("id", flat=True))
    return top, [i for i in range(low + 1, top + 1) if i not in present]


def _fetch(groups: list[str], last_id: int, gaps: list[int]) -> tuple[list[tuple], list[tuple]]:
    """Events past `last_id` (all of them, for the ids; payloads of watched ones), and those
    of the `gaps` ids that have appeared since."""
    new = _rows(RunEvent.objects.filter(id__gt=last_id).order_by("id")[:BATCH], groups)
    filled = _rows(RunEvent.objects.filter(id__in=gaps), groups) if gaps else []
    return new, filled


def _payloads(ids: list[int]) -> dict[int, dict]:
    return dict(RunEvent.objects.filter(id__in=ids).values_list("id", "payload"))


class EventHub:
    """Tails `RunEvent` for the streams open in this process and hands each event to the
    consumers of its run and workflow, in the order the events become visible (id order
    within a run)."""

    def __init__(self):
        self.groups: dict[str, set] = {}
        self.last_id: int | None = None  # every id up to here was seen, or is in `gaps`
        self.gaps: dict[int, float] = {}  # id passed over -> when to stop waiting for it
        self.starting: asyncio.Future | None = None
        self.poked = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.channel: str | None = None
        self.receiver: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.layer = get_channel_layer()
        self.embedded = self.layer is None or isinstance(self.layer, InMemoryChannelLayer)
        self.local: tuple[socket.socket, Path] | None = None  # embedded: the wake-up socket

    @property
    def tick_s(self) -> float:
        return EMBEDDED_TICK_S if self.embedded and self.local is None else SAFETY_TICK_S

    def _listen_locally(self) -> None:
        """Embedded: open the socket writers of every process wake (events._LocalWaker)."""
        if self.local is not None:
            return
        folder = events.wake_dir()
        path = folder / f"{os.getpid()}-{id(self):x}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            sock.setblocking(False)
            sock.bind(str(path))
        except OSError:  # e.g. a path too long for a socket: read on the fast tick instead
            logger.warning("event hub could not open %s; reading every %s s", path, EMBEDDED_TICK_S)
            sock.close()
            return
        asyncio.get_running_loop().add_reader(sock.fileno(), self._woken)
        self.local = (sock, path)

    def _woken(self) -> None:
        sock = self.local[0] if self.local else None
        try:
            while sock is not None and sock.recv(64):
                pass
        except OSError:  # drained
            pass
        self.poke()

    def _stop_listening(self) -> None:
        if self.local is None:
            return
        sock, path = self.local
        self.local = None
        try:
            asyncio.get_running_loop().remove_reader(sock.fileno())
        finally:
            sock.close()
            path.unlink(missing_ok=True)

    async def _start(self) -> None:
        """Where to read from, once per period with watchers (a hub that nobody watched for
        a while starts again from the newest event rather than catching up)."""
        if self.last_id is not None:
            return
        if self.starting is None:
            self.starting = asyncio.ensure_future(database_sync_to_async(_start_position)())
        starting = self.starting
        try:
            top, missing = await asyncio.shield(starting)
        finally:
            if self.starting is starting and starting.done():
                self.starting = None
        if self.last_id is None:
            self.last_id = top
            self._remember_gaps(missing)

    def floor(self) -> int:
        """Every event the hub hands out from now on has an id above this."""
        return min(self.gaps, default=self.last_id + 1) - 1

    async def subscribe(self, consumer, group: str) -> int:
        """Add `consumer` to `group`; returns the hub's floor (see `floor`)."""
        await self._start()
        members = self.groups.setdefault(group, set())
        first = not members
        members.add(consumer)
        floor = self.floor()
        if self.embedded:
            self._listen_locally()
        elif first:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.receiver = asyncio.ensure_future(self._receive())
            await self.layer.group_add(group, self.channel)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())
        return floor

    async def unsubscribe(self, consumer, group: str) -> None:
        members = self.groups.get(group)
        if not members:
            return
        members.discard(consumer)
        if not members:
            del self.groups[group]
            if not self.embedded and self.channel is not None:
                await self.layer.group_discard(group, self.channel)
            if not self.groups:
                await self._stop_receiving()

    async def _stop_receiving(self) -> None:
        """Nobody watches: stop reading wake-ups (the next stream opens a new channel), so no
        read is left pending on the channel layer when the event loop ends."""
        receiver, self.receiver, self.channel = self.receiver, None, None
        if receiver is not None:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

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

    def _remember_gaps(self, ids) -> None:
        until = time.monotonic() + GAP_WAIT_S
        for i in ids:
            self.gaps[i] = until
        if len(self.gaps) > MAX_GAPS:
            logger.warning("event hub: %d ids passed over, forgetting the oldest", len(self.gaps))
            for i in sorted(self.gaps)[: len(self.gaps) - MAX_GAPS]:
                del self.gaps[i]

    def _targets(self, run_id, workflow_id) -> set:
        return self.groups.get(events.run_group(str(run_id)), set()) | self.groups.get(
            events.workflow_group(str(workflow_id)), set()
        )

    async def _run(self):
        try:
            while self.groups:
                try:
                    await asyncio.wait_for(self.poked.wait(), timeout=self.tick_s)
                except TimeoutError:
                    pass
                self.poked.clear()
                if not self.groups:
                    break
                try:
                    more = await self._step()
                except Exception:
                    logger.warning("event hub could not read events", exc_info=True)
                    await asyncio.sleep(self.tick_s)
                    continue
                if more:
                    self.poke()
        finally:
            if not self.groups:  # nobody watches: start afresh next time
                self.last_id = None
                self.gaps.clear()
                self._stop_listening()

    async def _step(self) -> bool:
        now = time.monotonic()
        for i in [i for i, until in self.gaps.items() if until < now]:
            del self.gaps[i]
        last_id = self.last_id
        new, filled = await database_sync_to_async(_fetch)(list(self.groups), last_id, list(self.gaps))
        # Applied here, in the loop: `floor()` and `groups` only change between awaits.
        expected = last_id + 1
        for row in new:
            self._remember_gaps(range(expected, row[0]))
            expected = row[0] + 1
        if new:
            self.last_id = new[-1][0]
        rows = sorted([r for r in filled if r[0] in self.gaps] + new, key=lambda r: r[0])
        for r in filled:
            self.gaps.pop(r[0], None)
        # A stream that opened during the read: its events were read without their payload.
        asked: set[int] = set()
        while missing := [
            r[0] for r in rows if r[3] is None and r[0] not in asked and self._targets(*r[1:3])
        ]:
            asked.update(missing)
            found = await database_sync_to_async(_payloads)(missing)
            rows = [(i, run, flow, found.get(i) if p is None else p) for i, run, flow, p in rows]
        for event_id, run_id, workflow_id, payload in rows:
            targets = self._targets(run_id, workflow_id)
            if not targets or payload is None:
                continue
            text = json.dumps({**payload, "seq": event_id})  # once, however many watch
            for consumer in targets:
                consumer.deliver(event_id, text)
        return len(new) >= BATCH


_hubs: dict[int, EventHub] = {}


def hub() -> EventHub:
    """The hub of the running event loop (one per process in a server)."""
    loop = asyncio.get_running_loop()
    for key, old in list(_hubs.items()):
        if old.loop is not None and old.loop.is_closed():
            del _hubs[key]
            if old.local is not None:  # its loop ended while someone watched
                old.local[0].close()
                old.local[1].unlink(missing_ok=True)
    found = _hubs.get(id(loop))
    if found is None or found.loop is not loop:
        found = _hubs[id(loop)] = EventHub()
        found.loop = loop
    return found


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Every websocket path that is not a stream: refused (4404) before the handshake."""

    channel_layer_alias = None  # no channel of its own (see _EventStream)

    async def connect(self):
        await self.close(code=4404)


class _EventStream(AsyncJsonWebsocketConsumer):
    group: str = ""
    # No channel-layer channel per client: events come from the process's hub. With Redis,
    # 200 watchers were 200 blocking reads on Redis; one that timed out on a loaded machine
    # ended its consumer, and that page silently got no further events.
    channel_layer_alias = None

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.in_snapshot: set[int] = set()  # ids of events the snapshot already shows
        self.queue: asyncio.Queue = asyncio.Queue()
        self.group = await database_sync_to_async(self.group_for)(user)
        if not self.group:
            await self.close(code=4404)
            return
        self.hub = hub()
        # Before the snapshot, so nothing falls between: every event committed after the
        # snapshot reaches the queue; those the snapshot shows are left out by id.
        floor = await self.hub.subscribe(self, self.group)
        snapshot = await database_sync_to_async(self.snapshot)(floor)
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
            if event_id in self.in_snapshot:
                self.in_snapshot.discard(event_id)
                continue
            await self.send(text_data=text)

    async def receive_json(self, content, **kwargs):
        pass  # the stream is one-way

    def events_filter(self) -> Q:
        raise NotImplementedError

    def snapshot(self, floor: int) -> dict:
        """The state and the ids of the events above `floor` it includes, read in one
        database snapshot (a later commit is in neither, and is delivered as an event)."""
        fresh = not connection.in_atomic_block
        with transaction.atomic():
            if fresh and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            mine = RunEvent.objects.filter(self.events_filter())
            self.in_snapshot = set(mine.filter(id__gt=floor).values_list("id", flat=True))
            seq = (
                max(self.in_snapshot, default=None)
                or mine.order_by("-id").values_list("id", flat=True).first()
            )
            return self.load_snapshot(seq or 0)


class RunConsumer(_EventStream):
    """/ws/runs/{run_id}/: snapshot of the run, then its node.status and run.status events."""

    def group_for(self, user) -> str:
        run_id = self.scope["url_route"]["kwargs"]["run_id"]
        self.run = selectors.runs_for(user=user).select_related("version").filter(pk=run_id).first()
        return events.run_group(str(self.run.pk)) if self.run else ""

    def events_filter(self) -> Q:
        return Q(run_id=self.run.pk)

    def load_snapshot(self, seq: int) -> dict:
        run = WorkflowRun.objects.select_related("version").get(pk=self.run.pk)
        return {"type": "snapshot", "seq": seq, "run": selectors.run_detail(run)}


class WorkflowConsumer(_EventStream):
    """/ws/workflows/{workflow_id}/: recent runs and the newest run's node states, then
    events of every run of the workflow."""

    def group_for(self, user) -> str:
        from workflows.selectors import workflows_for

        self.workflow = (
            workflows_for(user=user).filter(pk=self.scope["url_route"]["kwargs"]["workflow_id"]).first()
        )
        return events.workflow_group(str(self.workflow.pk)) if self.workflow else ""

    def events_filter(self) -> Q:
        return Q(workflow_id=self.workflow.pk)

    def load_snapshot(self, seq: int) -> dict:
        workflow = self.workflow
        runs = list(
            WorkflowRun.objects.filter(workflow=workflow)
            .select_related("version")
            .order_by("-created_at")[:RECENT_RUNS]
        )
        return {
            "type": "snapshot",
            "seq": seq,
            "workflow": str(workflow.pk),
            "status": workflow.status,
            "runs": [selectors.run_summary(r) for r in runs],
            "latest_run": selectors.run_detail(runs[0]) if runs else None,
        }
