"""The alarm consumer over a real SQLite log and store with the real rule engine:
alarms from log records, checkpoints, and crash/replay — the same alarms, none
stored or published twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from icvcloud.alarm_feed import AlarmFeed, AlarmSubscription
from icvcloud.app import rule_engine
from icvcloud.app.alarms import CONSUMER, AlarmConsumer, AlarmSettings
from icvcloud.config import Config
from icvcloud.log.base import LogRecord
from icvcloud.log.sqlite import SqliteLog
from icvcloud.model import Vehicle
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.store.alarms_base import AlarmFilter, Definition
from icvcloud.store.base import Scope
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore

T0 = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
PHONE = "13900000001"
ALL = Scope.all()


def frame(minute: int, speed: float, lat: float = 36.8, lon: float | None = None, alarm: int = 0) -> bytes:
    """A 0x0200 from the tanker ``minute`` minutes after T0, driving east."""
    loc = jt808.Location(alarm=alarm, status=0b11, lat=lat, lon=lon if lon is not None else 117.5 + 0.01 * minute,
                         altitude_m=40, speed_kmh=speed, heading_deg=90,
                         time=(T0 + timedelta(minutes=minute)).astimezone(jt808.CST),
                         extras=ExtraItems({0x01: 1000.0 + minute}))
    return jt808.encode(0x0200, loc, phone=PHONE, seq=minute)


def script() -> list[bytes]:
    """Two overspeed episodes, a detour out of the assigned corridor, an emergency button."""
    out = []
    for m in range(60):
        speed = 80.0 if 5 <= m < 9 or 30 <= m < 33 else 50.0
        lat = 36.81 if 40 <= m < 46 else 36.8
        out.append(frame(m, speed, lat=lat, alarm=1 if 50 <= m < 52 else 0))
    return out


@dataclass
class Env:
    tmp: Path
    store: SqliteStore
    log: SqliteLog
    alarms: SqliteAlarmStore
    vehicle: int

    def consumer(self, feed: AlarmFeed, **settings: Any) -> AlarmConsumer:
        return AlarmConsumer(self.log, self.store, self.alarms, rule_engine.RuleSource(Config()),
                             rule_engine.vehicle_context, feed, AlarmSettings(**settings))


async def append(log: SqliteLog, frames: Sequence[bytes]) -> None:
    import asyncio

    done = asyncio.get_running_loop().create_future()
    # Received a second after each report's device time (a minute apart).
    log.append([("jt808", PHONE, int((T0 + timedelta(minutes=i, seconds=1)).timestamp() * 1e6), f)
                for i, f in enumerate(frames)], done.set_result)
    assert await done is None


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    log = SqliteLog(tmp_path / "log.db")
    await log.open()
    alarms = SqliteAlarmStore(store)
    org = await store.add_organisation("鲁中危险品运输")
    vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=org,
                                          device_id=PHONE))
    await alarms.add_definition("route", Definition(0, None, "指定路线", {
        "kind": "corridor", "deviation_after_s": 120, "vehicle_ids": [vid],
        "sections": [{"points": [[117.4, 36.8], [118.5, 36.8]], "width_m": 400}]}, kind="corridor",
        updated_at=T0))
    await append(log, script())
    try:
        yield Env(tmp_path, store, log, alarms, vid)
    finally:
        await log.close()
        await store.close()


def drain(sub: AlarmSubscription) -> list[dict[str, Any]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


async def run_over(c: AlarmConsumer, recs: Sequence[LogRecord], batch: int) -> None:
    for i in range(0, len(recs), batch):
        await c.process(recs[i:i + batch])
    await c.flush()  # writes are pipelined: wait until they are stored


def summary(alarms: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((a.key, a.alarm_type, a.start_time, a.end_time, a.active, a.repeat_count) for a in alarms)


async def test_alarms_from_the_log(env: Env) -> None:
    feed = AlarmFeed()
    sub = feed.subscribe(AlarmSubscription())
    c = env.consumer(feed)
    await c.start()
    await run_over(c, await env.log.read(0, 1000), batch=7)
    rows, _ = await env.alarms.list_alarms(ALL, AlarmFilter())
    by_type = {a.alarm_type: a for a in rows}
    assert sorted(by_type) == ["overspeed", "route.deviation", "terminal.emergency"]
    over = by_type["overspeed"]
    # The second overspeed started 25 minutes after the first ended: not merged (window 5 min).
    assert (await env.alarms.list_alarms(ALL, AlarmFilter(alarm_type="overspeed")))[1] == 2
    assert over.details["limit_kmh"] == 60.0 and over.details["peak_speed_kmh"] == 80.0
    dev = by_type["route.deviation"]
    # Boundary crossings are placed between the reports either side of them.
    assert T0 + timedelta(minutes=39) < dev.start_time < T0 + timedelta(minutes=42)
    assert dev.end_time is not None and T0 + timedelta(minutes=45) < dev.end_time <= T0 + timedelta(minutes=46)
    # The offset commits with every alarm write (the emergency button's release, minute 52,
    # is the record at offset 53); without alarms it may lag until a checkpoint.
    assert 53 <= await env.store.consumer_offset(CONSUMER) <= env.log.last_offset()
    await c.checkpoint()
    assert await env.store.consumer_offset(CONSUMER) == env.log.last_offset()
    msgs = drain(sub)
    news = [m["alarm"]["id"] for m in msgs if m["change"] == "new"]
    assert sorted(news) == sorted(a.id for a in rows) and len(set(news)) == len(news)
    assert all(m["received_at"] is not None for m in msgs if m["change"] == "new")


async def test_crash_and_replay_give_the_same_alarms_once(env: Env, tmp_path: Path) -> None:
    recs = await env.log.read(0, 1000)
    # Reference: one consumer over everything, in another database.
    ref_store = SqliteStore(tmp_path / "ref.db")
    await ref_store.open()
    try:
        ref_alarms = SqliteAlarmStore(ref_store)
        org = await ref_store.add_organisation("x")
        await ref_store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=org,
                                            device_id=PHONE))
        for d in await env.alarms.list_definitions("route", ALL):
            await ref_alarms.add_definition("route", d)
        ref = AlarmConsumer(env.log, ref_store, ref_alarms, rule_engine.RuleSource(Config()),
                            rule_engine.vehicle_context, AlarmFeed())
        await ref.start()
        await run_over(ref, recs, batch=10)
        expected = summary((await ref_alarms.list_alarms(ALL, AlarmFilter(limit=1000)))[0])
    finally:
        await ref_store.close()
    assert len(expected) == 4

    feed = AlarmFeed()
    sub = feed.subscribe(AlarmSubscription())
    first = env.consumer(feed, checkpoint_s=0.0, offset_commit_s=1e9)
    await first.start()
    await run_over(first, recs[:20], batch=10)  # checkpoints after each batch (checkpoint_s=0)
    first.settings.checkpoint_s = 1e9  # from here on, no checkpoint: the crash loses the engine's progress
    await run_over(first, recs[20:45], batch=5)
    assert first.checkpoint_offset == recs[19].offset and first.applied_offset == recs[44].offset
    before_crash = drain(sub)

    # The process dies here. A new one restores the checkpoint and replays from it.
    second = env.consumer(feed)
    await second.start()
    assert second.offset == recs[19].offset and second.applied_offset == recs[44].offset
    await run_over(second, recs[20:], batch=10)
    after = drain(sub)
    assert second.stats.events_replayed > 0  # the replay re-derived events it did not store again

    got = summary((await env.alarms.list_alarms(ALL, AlarmFilter(limit=1000)))[0])
    assert got == expected
    news = [m["alarm"]["key"] for m in before_crash + after if m["change"] == "new"]
    assert sorted(news) == sorted(k for k, *_ in expected)  # each alarm published as new exactly once
    # Every change the second process published is one the first had not.
    versions = {(m["alarm"]["id"], m["alarm"]["version"]) for m in before_crash}
    assert not any((m["alarm"]["id"], m["alarm"]["version"]) in versions for m in after)


async def test_an_unreadable_checkpoint_rebuilds_the_engine_from_the_log(env: Env) -> None:
    recs = await env.log.read(0, 1000)
    feed = AlarmFeed()
    sub = feed.subscribe(AlarmSubscription())
    first = env.consumer(feed, checkpoint_s=0.0)
    await first.start()
    await run_over(first, recs[:45], batch=5)
    stored_before = summary((await env.alarms.list_alarms(ALL, AlarmFilter(limit=1000)))[0])
    before = drain(sub)
    # The checkpoint is damaged (a disk error, or written by an incompatible version).
    await env.alarms.apply_events([], T0, merge_window_s=300.0, consumer=CONSUMER, offset=first.applied_offset,
                                  snapshot=b"\x00not a snapshot\xff" * 7)

    second = env.consumer(feed)
    await second.start()
    assert second.stats.restore_failures == 1
    assert second.offset == 0 and second.applied_offset == recs[44].offset  # replays the whole log
    await run_over(second, recs, batch=10)
    after = drain(sub)
    got = summary((await env.alarms.list_alarms(ALL, AlarmFilter(limit=1000)))[0])
    # The same four alarms as a consumer that never crashed (test above), each stored once.
    assert sorted(a[1] for a in got) == ["overspeed", "overspeed", "route.deviation", "terminal.emergency"]
    assert {a[0] for a in stored_before} <= {a[0] for a in got}
    # Nothing the first consumer published is published again as new.
    assert not {m["alarm"]["key"] for m in after if m["change"] == "new"} & {
        m["alarm"]["key"] for m in before if m["change"] == "new"}
    # A state rebuilt from the whole log still ends the episodes the first consumer opened.
    assert all(a[3] is not None and not a[4] for a in got if a[1] != "terminal.emergency")


async def test_a_clean_stop_checkpoints_so_nothing_replays(env: Env) -> None:
    recs = await env.log.read(0, 1000)
    c = env.consumer(AlarmFeed(), checkpoint_s=1e9)
    await c.start()
    await run_over(c, recs, batch=25)
    await c.checkpoint()
    again = env.consumer(AlarmFeed())
    await again.start()
    assert again.offset == again.checkpoint_offset == recs[-1].offset
    assert await env.alarms.engine_checkpoint(CONSUMER) is not None


async def test_definitions_changes_apply_without_losing_state(env: Env) -> None:
    recs = await env.log.read(0, 1000)
    c = env.consumer(AlarmFeed(), definitions_poll_s=1e9)
    await c.start()
    await run_over(c, recs[:30], batch=10)
    # A forbidden zone appears where the vehicle drives next (minute 35, lon 117.85).
    await env.alarms.add_definition("geofence", Definition(0, None, "禁行区", {
        "kind": "circle", "center": [117.85, 36.8], "radius_m": 600, "forbidden": [{"start": "00:00", "end": "00:00"}],
        "vehicle_types": ["hazmat_tanker"]}, kind="circle", updated_at=T0))
    c.definitions_changed()
    await run_over(c, recs[30:], batch=10)
    rows, _ = await env.alarms.list_alarms(ALL, AlarmFilter(alarm_type="fence.forbidden"))
    (f,) = rows
    assert T0 + timedelta(minutes=34) < f.start_time <= T0 + timedelta(minutes=35)  # the boundary, interpolated
    # The engine kept the vehicle's state: the overspeed that started before the change
    # ended after it, in one alarm.
    over, _ = await env.alarms.list_alarms(ALL, AlarmFilter(alarm_type="overspeed"))
    assert len(over) == 2 and all(not a.active for a in over)


class _PartedSource(rule_engine.RuleSource):
    """The platform's engine, offering its snapshot in pieces."""

    class Engine(rule_engine.Engine):
        def snapshot_parts(self, vehicles_per_part: int = 1) -> Any:
            return super().snapshot_parts(vehicles_per_part)  # as many pieces as vehicles

    def build(self, defs: Any) -> Any:
        e = self.Engine(self.profiles(defs), [rule_engine.fence_of(d) for d in defs.geofences])
        return e


async def test_a_snapshot_in_pieces_restores_the_same(env: Env) -> None:
    recs = await env.log.read(0, 1000)
    c = AlarmConsumer(env.log, env.store, env.alarms, _PartedSource(Config()), rule_engine.vehicle_context,
                      AlarmFeed(), AlarmSettings(checkpoint_s=1e9))
    await c.start()
    await run_over(c, recs[:42], batch=7)
    await c.checkpoint()
    assert c.stats.checkpoint_s > 0
    cp = await env.alarms.engine_checkpoint(CONSUMER)
    assert cp is not None and cp[0] == recs[41].offset
    assert c.engine is not None and cp[1] == c.engine.snapshot()
    # A restart from it continues the open deviation episode instead of raising a new one.
    again = env.consumer(AlarmFeed())
    await again.start()
    await run_over(again, recs[42:], batch=7)
    dev, total = await env.alarms.list_alarms(ALL, AlarmFilter(alarm_type="route.deviation"))
    assert total == 1 and not dev[0].active


class _FailingOnce(SqliteAlarmStore):
    """The real store, whose first write carrying a ``fail_on`` alarm fails (a full disk, say).

    Keyed on the alarm, not on the n-th write: the consumer coalesces queued writes, and
    how many it coalesces depends on how fast the store answers (a loaded machine: fewer,
    bigger writes)."""

    def __init__(self, store: SqliteStore, fail_on: str) -> None:
        super().__init__(store)
        self.fail_on = fail_on
        self.writes = 0
        self.failed_at: int | None = None  # the failing write's number

    async def apply_events(self, events: Any, *args: Any, **kw: Any) -> Any:
        self.writes += 1
        if self.failed_at is None and any(e.alarm_type == self.fail_on for e in events):
            self.failed_at = self.writes
            raise OSError("disk full")
        return await super().apply_events(events, *args, **kw)


async def test_a_failed_write_restarts_from_the_checkpoint_and_loses_nothing(env: Env) -> None:
    import asyncio

    # The deviation comes 40 minutes in: after the first overspeed was stored and checkpointed.
    failing = _FailingOnce(env.store, fail_on="route.deviation")
    feed = AlarmFeed()
    sub = feed.subscribe(AlarmSubscription())
    c = AlarmConsumer(env.log, env.store, failing, rule_engine.RuleSource(Config()), rule_engine.vehicle_context,
                      feed, AlarmSettings(checkpoint_s=0.0, batch=8, chunk=4, tick_s=3600))
    task = asyncio.create_task(c.run())
    try:
        while c.applied_offset < env.log.last_offset():
            await asyncio.sleep(0.05)
    finally:
        c.stop()
        await task
    assert failing.failed_at is not None and failing.writes > failing.failed_at  # it failed once and went on
    rows, _ = await env.alarms.list_alarms(ALL, AlarmFilter(limit=100))
    assert sorted(a.alarm_type for a in rows) == ["overspeed", "overspeed", "route.deviation", "terminal.emergency"]
    news = [m["alarm"]["id"] for m in drain(sub) if m["change"] == "new"]
    assert sorted(news) == sorted(a.id for a in rows)


async def test_vehicles_looked_up_once_per_batch(env: Env) -> None:
    """A batch's unknown devices are looked up together before the engine runs, not one
    awaited lookup per record; a device that is no vehicle yet is asked again next batch."""
    import asyncio

    calls: list[str] = []
    lookup = env.store.vehicle_for_device
    in_flight, most = 0, 0

    async def counting(device_id: str) -> Vehicle | None:
        nonlocal in_flight, most
        calls.append(device_id)
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await lookup(device_id)
        finally:
            in_flight -= 1

    env.store.vehicle_for_device = counting  # type: ignore[method-assign]
    stranger = "13900000009"
    done = asyncio.get_running_loop().create_future()
    env.log.append([("jt808", stranger, int(T0.timestamp() * 1e6),
                     jt808.encode(0x0200, jt808.Location(alarm=0, status=0b11, lat=36.8, lon=117.5, altitude_m=40,
                                                         speed_kmh=50, heading_deg=90, time=T0.astimezone(jt808.CST)),
                                  phone=stranger, seq=1))] * 3, done.set_result)
    assert await done is None
    recs = await env.log.read(0, 1000)
    assert len(recs) == 63
    c = env.consumer(AlarmFeed())
    await c.start()
    await c.process(recs[58:])  # both devices at once
    assert sorted(calls) == [PHONE, stranger] and most == 2
    c = env.consumer(AlarmFeed())
    await c.start()
    calls.clear()
    await c.process(recs[:40])
    assert calls == [PHONE]
    await c.process(recs[40:])
    assert calls == [PHONE, stranger]  # the vehicle is known now; the stranger once for its three records
    await c.process(recs[60:])
    assert calls == [PHONE, stranger, stranger]
    c.invalidate(PHONE)  # the vehicle changed: looked up again
    await c.process(recs[:1])
    assert calls == [PHONE, stranger, stranger, PHONE]
    await c.flush()
    assert c.stats.positions == 61


def test_alarm_stats_add_sums_counters_and_latency_and_keeps_its_own_lag() -> None:
    from icvcloud.app.alarms import AlarmStats

    a = AlarmStats(records=3, positions=2, events=1, events_replayed=4, decode_errors=1, engine_s=0.5, lag=lambda: 7)
    a.alarm_latency.observe(0.004)
    b = AlarmStats(records=10, positions=9, alarms_changed=2, checkpoints=3, restore_failures=1, engine_s=0.25,
                   checkpoint_s=9.0, lag=lambda: 100)
    b.alarm_latency.observe(0.2)
    a.add(b)
    assert (a.records, a.positions, a.events, a.events_replayed, a.alarms_changed, a.decode_errors, a.checkpoints,
            a.restore_failures) == (13, 11, 1, 4, 2, 1, 3, 1)
    assert a.engine_s == 0.75 and a.alarm_latency.n == 2 and a.lag() == 7 and a.checkpoint_s == 0.0
