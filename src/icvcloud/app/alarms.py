"""The alarm consumer: log records → positions → the rule engine, per vehicle →
alarms in the store → the live alarm feed (and, through the store's outbox, webhooks).

Exactly-once effects over an at-least-once log:

* The engine is a pure function of the reports it saw, so after a crash it is
  restored from its last checkpoint (a snapshot taken at log offset S, stored in the
  same transaction as the alarm writes up to S) and the log replayed from S.
* Alarm writes commit with the consumer's offset C ≥ S. During the replay, events
  produced by records at offsets ≤ C were stored before the crash: the engine
  processes those records again (to rebuild its state) but their events are not
  written or published again. Events of records after C are new.
* Writes are also idempotent by episode key, which covers the time-driven events of
  :meth:`RuleEngine.tick` that belong to no offset.

Writes are pipelined: the engine goes on with the next records while earlier alarms
are committed, and everything that piles up meanwhile goes in the next transaction
(group commit), so the store's writer, shared with the position pipeline and busy
with its big batches, does not set the pace. Writes commit strictly in order; if one
fails, the consumer restarts from its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from icvcloud.alarm_feed import AlarmFeed, feed_message
from icvcloud.config import AlarmsConfig
from icvcloud.gateways.jt808.log_messages import LogMessages
from icvcloud.gateways.jt808.records import positions_from
from icvcloud.log.base import Log, LogRecord
from icvcloud.metrics import Histogram
from icvcloud.model import Position, Vehicle
from icvcloud.model.alarms import AlarmEvent
from icvcloud.protocols import jt808
from icvcloud.store.alarms_base import AlarmChange, AlarmStore, Definition
from icvcloud.store.base import Store

log = logging.getLogger("icvcloud.alarms")

CONSUMER = "alarms"

#: The messages whose positions the engine evaluates.
POSITION_MSGS = frozenset({0x0200, 0x0704, 0x0201, 0x0500})
#: Other messages an engine with a ``message`` method is given (IC card reports).
OTHER_MSGS = frozenset({0x0702})
_EVALUATED = POSITION_MSGS | OTHER_MSGS


def _evaluated(r: LogRecord) -> bool:
    """Whether the record is (a packet of) a message the engine may evaluate, from its header's message ID."""
    p = r.payload
    i = 1 if p[:1] == b"\x7e" else 0  # frames are kept with or without their flags
    return r.kind == "jt808" and int.from_bytes(p[i:i + 2], "big") in _EVALUATED


class RuleEngine(Protocol):
    """What the consumer needs of the engine (``icvcloud.engine``)."""

    def process(self, vehicle: Any, position: Position) -> list[AlarmEvent]: ...

    def tick(self, now: datetime) -> list[AlarmEvent]: ...

    def snapshot(self) -> bytes: ...

    def restore(self, snapshot: bytes) -> None: ...


class PartedSnapshots(Protocol):
    """An engine that can also hand out its snapshot in pieces (whose concatenation is
    :meth:`RuleEngine.snapshot`'s bytes), so taking one does not stall the event loop."""

    def snapshot_parts(self) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class Definitions:
    geofences: list[Definition] = field(default_factory=list)
    routes: list[Definition] = field(default_factory=list)
    profiles: list[Definition] = field(default_factory=list)


class EngineFactory(Protocol):
    """Builds the engine from the stored definitions (geofences, routes, rule profiles)
    and applies changed definitions to a running one (keeping per-vehicle state).

    A factory may also have ``async refresh(engine, now)`` (reload other inputs, such
    as the waybills trip monitoring follows; called with the definitions check) and
    ``async record(events)`` (store the events of category ``trip``: they are not
    alarms; called before the alarms of the same write, so a crash between the two
    replays them — ``record`` must be idempotent)."""

    def build(self, defs: Definitions) -> RuleEngine: ...

    def update(self, engine: RuleEngine, defs: Definitions) -> None: ...


#: The engine's view of a vehicle, from the registry's.
VehicleContext = Callable[[Vehicle], Any]


@dataclass
class AlarmSettings:
    #: A new episode of the same type on the same vehicle within this many seconds
    #: (device time) of an unhandled alarm's last episode is merged into it.
    merge_window_s: float = 300.0
    #: How often the engine's state is checkpointed (a restart replays at most this much).
    checkpoint_s: float = 30.0
    #: ... but no more than this share of the consumer's time goes to checkpoints (a big
    #: fleet's snapshot takes seconds): the interval stretches to cost ÷ share.
    checkpoint_share: float = 0.05
    #: How often time-driven rules run (offline, stops too long…).
    tick_s: float = 5.0
    #: How often the definitions are checked for changes (API edits apply within this).
    definitions_poll_s: float = 5.0
    batch: int = 2000
    #: Vehicle lookups of unknown devices in flight at once (see ``_prefetch_contexts``).
    lookup_concurrency: int = 256
    #: Records evaluated before their alarms are stored and published (and the loop yields).
    chunk: int = 64
    #: Without alarms, the consumer's offset is committed at most this often.
    offset_commit_s: float = 1.0
    #: Alarm events waiting for the store before the engine waits for it too.
    max_queued_events: int = 20_000

    @classmethod
    def from_config(cls, a: AlarmsConfig) -> AlarmSettings:
        return cls(merge_window_s=a.merge_window_s, checkpoint_s=a.checkpoint_s, tick_s=a.tick_s)


@dataclass
class AlarmStats:
    records: int = 0
    positions: int = 0
    events: int = 0
    events_replayed: int = 0
    alarms_changed: int = 0
    decode_errors: int = 0
    checkpoints: int = 0
    #: Engine checkpoints that could not be restored (the log was replayed instead).
    restore_failures: int = 0
    #: How long the last snapshot took.
    checkpoint_s: float = 0.0
    #: Seconds spent inside the engine (process + tick), for the engine's cost per report.
    engine_s: float = 0.0
    lag: Callable[[], int] = lambda: 0
    #: Gateway receive time of a report → its alarm change stored and handed to the feed.
    alarm_latency: Histogram = field(default_factory=Histogram)

    def add(self, other: AlarmStats) -> None:
        """Count ``other``'s figures in (a worker sums its partitions' consumers, past
        and present); the lag and the last checkpoint's duration stay this one's."""
        for name in ("records", "positions", "events", "events_replayed", "alarms_changed", "decode_errors",
                     "checkpoints", "restore_failures"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.engine_s += other.engine_s
        self.alarm_latency.merge(other.alarm_latency)


@dataclass(slots=True)
class _Write:
    """Alarms of some records, queued for the store: their events, the offset to commit
    with them, perhaps an engine snapshot (offset, bytes), receive times for latency."""

    events: list[AlarmEvent]
    offset: int
    snapshot: tuple[int, bytes] | None
    received: dict[tuple[int, str], int]


class AlarmConsumer:
    def __init__(self, log_: Log, store: Store, alarms: AlarmStore, engine_factory: EngineFactory,
                 vehicle_context: VehicleContext, feed: AlarmFeed | None = None,
                 settings: AlarmSettings | None = None, stats: AlarmStats | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *, consumer: str = CONSUMER) -> None:
        self.log = log_
        #: The name its offset and engine checkpoint are stored under (per log partition
        #: in scale-out: ``alarms.p<n>``).
        self.consumer = consumer
        self.store = store
        self.alarms = alarms
        self.engine_factory = engine_factory
        self.vehicle_context = vehicle_context
        self.feed = feed
        self.settings = settings or AlarmSettings()
        self.stats = stats or AlarmStats()
        self.clock = clock
        self.engine: RuleEngine | None = None
        #: Records up to here have been given to the engine.
        self.offset = 0
        #: The engine's last checkpoint: a restart replays from here (log retention keeps it).
        self.checkpoint_offset = 0
        #: Events of records up to here are stored (committed with the alarm writes).
        self.applied_offset = 0
        #: After a restart: events of records up to here were stored before, so the replay skips them.
        self.replay_until = 0
        self._contexts: dict[str, Any] = {}
        #: Devices of the current batch found not to be vehicles.
        self._not_vehicles: set[str] = set()
        #: Devices invalidated while their lookup was in flight.
        self._invalidated: set[str] = set()
        self._messages = LogMessages()
        self._defs_version = ""
        self._last_checkpoint = 0.0
        self._last_tick = 0.0
        self._last_defs_poll = 0.0
        self._last_offset_commit = 0.0
        self._checkpoint_cost_s = 0.0
        self._defs_dirty = False
        self._unrecorded = False
        self._queued: list[_Write] = []
        self._queued_offset = 0
        self._queued_events = 0
        self._flusher: asyncio.Task[None] | None = None
        self._flush_error: BaseException | None = None
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self.stats.lag = lambda: max(0, self.log.last_offset() - self.offset)
        #: Called with the changes of every write (e.g. to wake the webhook deliverer).
        self.on_changes: list[Callable[[list[AlarmChange]], None]] = []
        #: Applied to each event before it is stored (deterministic: replays see the same).
        self.enrich: Callable[[AlarmEvent], AlarmEvent] | None = None

    def definitions_changed(self) -> None:
        """A geofence, route or profile changed: reload before the next batch."""
        self._defs_dirty = True

    # -- vehicles and definitions

    def invalidate(self, device_id: str) -> None:
        self._contexts.pop(device_id, None)
        self._not_vehicles.discard(device_id)
        self._invalidated.add(device_id)

    async def _context(self, device_id: str) -> Any:
        ctx = self._contexts.get(device_id)
        if ctx is not None:
            return ctx
        if device_id in self._not_vehicles:
            return None  # looked up for this batch already
        v = await self.store.vehicle_for_device(device_id)
        if v is None:
            self._not_vehicles.add(device_id)
            return None  # not a registered vehicle: no rules to run (looked up again next batch)
        ctx = self.vehicle_context(v)
        self._contexts[device_id] = ctx
        return ctx

    async def _prefetch_contexts(self, recs: Sequence[LogRecord]) -> None:
        """Look up the vehicles of the batch's devices not known yet, concurrently.

        Awaited one record at a time, each lookup would cost a turn of the event loop,
        which with thousands of connections takes milliseconds: after a start, 10,000
        terminals kept the consumer looking up vehicles for minutes, evaluating a few
        hundred reports a second while the CPU idled. Devices that are not vehicles
        are looked up again with the next batch (they may be registered meanwhile)."""
        self._not_vehicles.clear()
        missing = list(dict.fromkeys(r.device_id for r in recs
                                     if r.device_id not in self._contexts and _evaluated(r)))
        step = max(1, self.settings.lookup_concurrency)
        for i in range(0, len(missing), step):
            part = missing[i:i + step]
            self._invalidated.clear()
            found = await asyncio.gather(*(self.store.vehicle_for_device(d) for d in part))
            for device_id, v in zip(part, found, strict=True):
                if device_id in self._invalidated:
                    continue  # changed meanwhile: what was read may be stale (looked up when needed)
                if v is None:
                    self._not_vehicles.add(device_id)
                elif device_id not in self._contexts:
                    self._contexts[device_id] = self.vehicle_context(v)

    async def _definitions(self) -> Definitions:
        from icvcloud.store.base import Scope

        everything = Scope.all()
        return Definitions(
            geofences=await self.alarms.list_definitions("geofence", everything, enabled_only=True),
            routes=await self.alarms.list_definitions("route", everything, enabled_only=True),
            profiles=await self.alarms.list_definitions("profile", everything, enabled_only=True))

    async def _reload_if_changed(self) -> None:
        version = await self.alarms.definitions_version()
        if version == self._defs_version and self.engine is not None:
            return
        defs = await self._definitions()
        if self.engine is None:
            self.engine = self.engine_factory.build(defs)
        else:
            self.engine_factory.update(self.engine, defs)  # per-vehicle state stays
        self._defs_version = version

    async def _refresh(self) -> None:
        refresh = getattr(self.engine_factory, "refresh", None)
        if refresh is not None and self.engine is not None:
            await refresh(self.engine, self.clock())

    # -- running

    async def start(self) -> None:
        """Restore the engine from its checkpoint; the next records read are the replay."""
        await self._reload_if_changed()
        assert self.engine is not None
        cp = await self.alarms.engine_checkpoint(self.consumer)
        self.applied_offset = self.replay_until = self._queued_offset = await self.store.consumer_offset(self.consumer)
        self.checkpoint_offset = 0
        if cp is not None:
            offset, snap = cp
            try:
                self.engine.restore(snap)
                self.checkpoint_offset = offset
            except Exception:
                # A snapshot this engine cannot read (corrupt, or from an incompatible
                # version): rebuild the state from what the log still holds instead. The
                # replay stores no alarm twice (events up to the stored offset are skipped);
                # what the log no longer holds is lost to the engine's windows, said here.
                log.exception("%s: the engine checkpoint at log offset %d cannot be restored; rebuilding the "
                              "engine's state by replaying the log from its start", self.consumer, offset)
                self.stats.restore_failures += 1
                self.engine = None
                await self._reload_if_changed()
        self.offset = self.checkpoint_offset
        await self._refresh()
        now = time.monotonic()
        self._last_checkpoint = self._last_tick = self._last_defs_poll = now
        log.info("alarm consumer %s: engine checkpoint at log offset %d, events stored up to %d",
                 self.consumer, self.checkpoint_offset, self.applied_offset)
        self._started.set()

    async def run(self) -> None:
        if not self._started.is_set():
            await self.start()
        while not self._stop.is_set():
            try:
                recs = await self.log.read(self.offset, self.settings.batch,
                                           timeout_s=min(0.5, self.settings.tick_s))
                await self.process(recs)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store is unavailable or a bug: restart from the checkpoint (the
                # engine's state may hold records whose alarms were not stored).
                log.exception("alarm consumer failed after offset %d; restarting from the checkpoint", self.offset)
                await self._drop_queue()
                await asyncio.sleep(1.0)
                self.engine = None
                self._contexts.clear()
                self._messages.reset()
                self._started.clear()
                await self.start()

    def stop(self) -> None:
        self._stop.set()

    async def process(self, recs: Sequence[LogRecord]) -> None:
        """Run the engine over ``recs`` (and a tick when due); queue the alarms for storing
        and publishing (:meth:`flush` waits until they are).

        Records go through in chunks, the event loop (gateway, API) getting a turn in
        between, and each chunk's alarms are queued at once: an alarm does not wait for
        a whole backlog to be evaluated."""
        assert self.engine is not None, "start() first"
        mono = time.monotonic()
        if self._defs_dirty or mono - self._last_defs_poll >= self.settings.definitions_poll_s:
            self._last_defs_poll, self._defs_dirty = mono, False
            await self._reload_if_changed()
            await self._refresh()
        await self._prefetch_contexts(recs)
        n = max(1, self.settings.chunk)
        for i in range(0, len(recs), n):
            if i:
                await asyncio.sleep(0)
            await self._step(recs[i:i + n], tick=i + n >= len(recs))
        if not recs:
            await self._step(recs, tick=True)

    async def _step(self, recs: Sequence[LogRecord], tick: bool) -> None:
        # Until the step's alarms are queued, the engine holds effects nothing has recorded:
        # a step cut short (cancelled at shutdown) leaves it unfit for a checkpoint.
        self._unrecorded = True
        await self._step_inner(recs, tick)
        self._unrecorded = False

    async def _step_inner(self, recs: Sequence[LogRecord], tick: bool) -> None:
        engine = self.engine
        assert engine is not None
        mono = time.monotonic()
        events: list[AlarmEvent] = []
        # The receive time of the first report that raised each (vehicle, type) here.
        received: dict[tuple[int, str], int] = {}
        t_engine = 0.0
        on_message = getattr(engine, "message", None)
        for r in recs:
            msg = self._message(r)
            if msg is None:
                continue
            received_at = datetime.fromtimestamp(r.received_at_us / 1e6, UTC)
            if msg.msg_id in POSITION_MSGS:
                positions = positions_from(msg, received_at)
                if not positions:
                    continue
            elif on_message is None:
                continue
            else:
                positions = []  # another message the engine takes (OTHER_MSGS)
            ctx = await self._context(r.device_id)
            if ctx is None:
                continue
            replay = r.offset <= self.replay_until
            if not positions:
                assert on_message is not None
                t0 = time.perf_counter()
                found = [on_message(ctx, msg, received_at)]
                t_engine += time.perf_counter() - t0
            else:
                found = []
                for p in positions:
                    t0 = time.perf_counter()
                    found.append(engine.process(ctx, p))
                    t_engine += time.perf_counter() - t0
                    self.stats.positions += 1
            for evs in found:
                if not evs:
                    continue
                if replay:
                    self.stats.events_replayed += len(evs)
                    continue
                events.extend(evs)
                for e in evs:
                    received.setdefault((e.vehicle_id, e.alarm_type), r.received_at_us)
        self.stats.records += len(recs)
        if tick and mono - self._last_tick >= self.settings.tick_s:
            self._last_tick = mono
            t0 = time.perf_counter()
            events.extend(engine.tick(self.clock()))
            t_engine += time.perf_counter() - t0
        self.stats.engine_s += t_engine
        self.stats.events += len(events)
        if self.enrich is not None and events:
            events = [self.enrich(e) for e in events]
        self._messages.expire()
        last = recs[-1].offset if recs else self.offset
        # Never commit past the first packet of a set still being reassembled.
        commit = max(self._messages.safe_offset(last), self._queued_offset)
        snapshot = None
        every = self.settings.checkpoint_s
        if every > 0:  # 0: at every step (tests)
            every = max(every, self._checkpoint_cost_s / max(self.settings.checkpoint_share, 1e-6))
        if commit == last and last > self.checkpoint_offset and mono - self._last_checkpoint >= every:
            snapshot = await self._snapshot(engine)
            self._last_checkpoint = mono
        self.offset = last
        # The offset must commit with every alarm write (the replay skips what it
        # covers); without alarms it may lag — a replay of alarm-less records is harmless.
        offset_due = commit > self._queued_offset and mono - self._last_offset_commit >= self.settings.offset_commit_s
        if not events and snapshot is None and not offset_due:
            return
        self._last_offset_commit = mono
        await self._queue(_Write(events, commit, (commit, snapshot) if snapshot is not None else None, received))

    # -- writing

    async def _queue(self, w: _Write) -> None:
        if self._flush_error is not None:
            raise RuntimeError("an earlier alarm write failed") from self._flush_error
        self._queued.append(w)
        self._queued_offset = max(self._queued_offset, w.offset)
        self._queued_events += len(w.events)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_queue(), name="alarm-writes")
        if self._queued_events > self.settings.max_queued_events or len(self._queued) > 1000:
            await self.flush()  # back-pressure: the store is far behind

    async def flush(self) -> None:
        """Until every queued alarm is stored and published (raises if a write failed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        if self._flush_error is not None:
            raise RuntimeError("an alarm write failed") from self._flush_error

    async def _drop_queue(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(BaseException):
                await self._flusher
        self._flusher, self._flush_error = None, None
        self._queued, self._queued_events = [], 0

    async def _flush_queue(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            self._queued_events = 0
            events = [e for w in batch for e in w.events]
            offset = max(self.applied_offset, *(w.offset for w in batch))
            snap = next((w.snapshot for w in reversed(batch) if w.snapshot is not None), None)
            trips = [e for e in events if e.category == "trip"]
            if trips:
                events = [e for e in events if e.category != "trip"]
            try:
                record = getattr(self.engine_factory, "record", None)
                if trips and record is not None:
                    await record(trips)
                changes = await self.alarms.apply_events(
                    events, self.clock(), merge_window_s=self.settings.merge_window_s, consumer=self.consumer,
                    offset=offset, snapshot=snap[1] if snap else None, snapshot_offset=snap[0] if snap else None)
            except Exception as e:  # the consumer sees it at its next write and restarts
                log.error("alarm write failed: %s", e)
                self._flush_error = e
                self._queued = []
                return
            self.applied_offset = offset
            if snap is not None:
                self.checkpoint_offset = snap[0]
                self.stats.checkpoints += 1
            self.stats.alarms_changed += len(changes)
            if not changes:
                continue
            received: dict[tuple[int, str], int] = {}
            for w in batch:
                for k, at_us in w.received.items():
                    received.setdefault(k, at_us)
            now_us = time.time() * 1e6
            for first_us in {received.get((ch.alarm.vehicle_id, ch.alarm.alarm_type)) for ch in changes}:
                if first_us is not None:
                    self.stats.alarm_latency.observe(max(0.0, now_us - first_us) / 1e6)
            if self.feed is not None:
                self.feed.publish(feed_message(ch, received.get((ch.alarm.vehicle_id, ch.alarm.alarm_type)))
                                  for ch in changes)
            for cb in self.on_changes:
                cb(changes)

    async def checkpoint(self) -> None:
        """Checkpoint now (at a clean stop: the next start replays nothing)."""
        await self.flush()
        if (self.engine is None or self._messages.incomplete or self._unrecorded
                or self.offset <= self.checkpoint_offset):
            return
        offset = max(self.offset, self.applied_offset)
        snapshot = await self._snapshot(self.engine)
        await self.alarms.apply_events([], self.clock(), merge_window_s=self.settings.merge_window_s,
                                       consumer=self.consumer, offset=offset, snapshot=snapshot)
        self.checkpoint_offset = self.applied_offset = offset

    async def _snapshot(self, engine: RuleEngine) -> bytes:
        """The engine's snapshot; in pieces with the event loop served in between when the
        engine offers them (nothing else touches the engine meanwhile: only this consumer does)."""
        t0 = time.perf_counter()
        parts_of = getattr(engine, "snapshot_parts", None)
        if parts_of is None:
            blob = engine.snapshot()
        else:
            parts: list[bytes] = []
            for i, part in enumerate(parts_of()):
                parts.append(part)
                if i % 100 == 99:
                    await asyncio.sleep(0)
            blob = b"".join(parts)
        self._checkpoint_cost_s = time.perf_counter() - t0
        self.stats.checkpoint_s = self._checkpoint_cost_s
        return blob

    def _message(self, r: LogRecord) -> jt808.Message | None:
        """The record's message if it is one the engine evaluates (a sub-packaged one once complete)."""
        if not _evaluated(r):
            return None
        try:
            msg = self._messages.message(r)
        except jt808.Jt808Error:
            self.stats.decode_errors += 1  # the store consumer logs these
            return None
        if msg is None or msg.msg_id not in _EVALUATED:
            return None
        return msg
