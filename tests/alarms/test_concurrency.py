"""The PostgreSQL alarm repository under concurrent writers, as in scale-out: alarm
consumers of different log partitions at once, two owners of one partition during
a takeover, people handling an alarm while the engine updates it, several
processes expiring commands. Where an interleaving matters it is forced: a
separate connection holds the alarm's row lock while the contenders queue up
behind it (seen in ``pg_stat_activity``), then lets go.

Also the geofences' PostGIS geometry derived from their specs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from icvcloud.model.alarms import AlarmHandling, Severity
from icvcloud.model.commands import Command
from icvcloud.store.alarms_base import AlarmChange, AlarmFilter, Attachment, Definition
from icvcloud.store.base import Scope
from icvcloud.store.postgres_alarms import PostgresAlarmStore
from tests.services import postgis

from .conftest import T0, Db, event

pytestmark = pytest.mark.parametrize("db", ["postgres"], indirect=True)

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ALL = Scope.all()


async def apply(db: Db, events: list[Any], **kw: Any) -> list[AlarmChange]:
    return await db.alarms.apply_events(events, NOW, merge_window_s=300.0, **kw)


@contextlib.asynccontextmanager
async def row_locked(db: Db, alarm_id: int) -> AsyncIterator[asyncpg.Connection]:
    """Another session holding the alarm's row lock until the block ends (then rolled back)."""
    conn = await asyncpg.connect(postgis(), server_settings={"search_path": f'"{db.where}", public'})
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1 FROM alarms WHERE id = $1 FOR UPDATE", alarm_id)
        try:
            yield conn
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def queued(blocker: asyncpg.Connection, n: int) -> None:
    """Wait until ``n`` sessions wait, directly or behind each other, for the blocker's locks."""
    sql = """
        WITH RECURSIVE w(pid) AS (
            SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))
            UNION SELECT a.pid FROM pg_stat_activity a JOIN w ON w.pid = ANY(pg_blocking_pids(a.pid)))
        SELECT COUNT(*) FROM w"""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        # The blocker is inside its transaction, which would keep seeing one snapshot of the activity.
        await blocker.execute("SELECT pg_stat_clear_snapshot()")
        if (got := await blocker.fetchval(sql, blocker.get_server_pid())) >= n:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{got} of {n} sessions queued behind the lock"
        await asyncio.sleep(0.02)


async def contend(blocker: asyncpg.Connection, *calls: Awaitable[Any]) -> list[asyncio.Task[Any]]:
    """Start the calls one after another, each once the previous is queued behind the blocker."""
    tasks = []
    for i, call in enumerate(calls):
        tasks.append(asyncio.ensure_future(call))
        await queued(blocker, i + 1)
    assert not any(t.done() for t in tasks)
    return tasks


# -- the engine: partitions and takeovers


async def test_partitions_write_at_once_each_with_its_offset(db: Db) -> None:
    async def partition(consumer: str, vehicle: str) -> list[AlarmChange]:
        out = []
        for i in range(25):  # an episode every 3 minutes: each a repeat of the first
            k = f"{consumer}-{i}"
            out += await apply(db, [event(db, k, "start", i * 3, vehicle=vehicle),
                                    event(db, k, "end", i * 3, end_minute=i * 3 + 1, vehicle=vehicle)],
                               consumer=consumer, offset=100 + i)
        return out

    p0, p1 = await asyncio.gather(partition("alarms.p0", "tanker"), partition("alarms.p1", "coach"))
    assert [c.change for c in p0] == [c.change for c in p1] == ["new"] + ["repeat"] * 24
    assert await db.store.consumer_offset("alarms.p0") == await db.store.consumer_offset("alarms.p1") == 124
    rows, total = await db.alarms.list_alarms(ALL, AlarmFilter())
    assert total == 2 and {(a.vehicle_id, a.repeat_count, a.version) for a in rows} == {
        (db.tanker, 24, 50), (db.coach, 24, 50)}  # start and end: two versions each
    assert await db.alarms.alarm_counts(ALL, "vehicle", AlarmFilter()) == [(db.tanker, 25), (db.coach, 25)]


async def test_a_partition_does_not_wait_for_another(db: Db) -> None:
    (a,) = await apply(db, [event(db, "a", "start", 0)], consumer="alarms.p0", offset=1)
    async with row_locked(db, a.alarm.id) as blocker:
        (p0,) = await contend(blocker, apply(db, [event(db, "a", "update", 0, severity=Severity.HIGH)],
                                             consumer="alarms.p0", offset=2))
        # The other partition's vehicle is not held up by the first one's alarm.
        (b,) = await asyncio.wait_for(apply(db, [event(db, "b", "start", 0, vehicle="coach")], consumer="alarms.p1",
                                            offset=7), 5)
        assert b.change == "new" and await db.store.consumer_offset("alarms.p1") == 7
        assert not p0.done() and await db.store.consumer_offset("alarms.p0") == 1
    (c,) = await p0
    assert c.change == "updated" and c.alarm.severity == Severity.HIGH
    assert await db.store.consumer_offset("alarms.p0") == 2


async def test_two_owners_of_a_partition_store_everything_once(db: Db) -> None:
    """A takeover overlap: the old and the new owner apply the same events at once
    (in opposite orders within each batch, vehicles included)."""
    batches = [[event(db, f"t{i}", "instant", i * 2, alarm_type="adas.fcw", category="active_safety"),
                event(db, f"c{i}", "instant", i * 2, alarm_type="adas.fcw", category="active_safety",
                      vehicle="coach")] for i in range(20)]

    async def owner(reverse: bool) -> list[AlarmChange]:
        out = []
        for i, b in enumerate(batches):
            out += await apply(db, b[::-1] if reverse else b, consumer="alarms.p3", offset=i + 1)
        return out

    first, second = await asyncio.gather(owner(False), owner(True))
    both = first + second
    # Every episode reported once, by whichever owner stored it; no version twice.
    assert sorted(c.change for c in both) == ["new", "new"] + ["repeat"] * 38
    assert len({(c.alarm.id, c.alarm.version) for c in both}) == 40
    rows, total = await db.alarms.list_alarms(ALL, AlarmFilter())
    assert total == 2 and all(a.repeat_count == 19 and a.version == 20 for a in rows)
    assert [len(await db.alarms.episodes(ALL, a.id)) for a in rows] == [20, 20]
    assert await db.store.consumer_offset("alarms.p3") == 20


# -- people and the engine on the same alarm


async def test_concurrent_handling_is_not_lost(db: Db) -> None:
    (a,) = await apply(db, [event(db, "a", "start", 0)])
    aid = a.alarm.id
    async with row_locked(db, aid) as blocker:
        tasks = await contend(
            blocker,
            db.alarms.handle_alarm(ALL, AlarmHandling(aid, "phone_call", "op1", NOW)),
            # Decided against the alarm as the call left it, not as it was when asked.
            db.alarms.handle_alarm(ALL, AlarmHandling(aid, "acknowledged", "op2", NOW + timedelta(seconds=1))))
    handled, acked = [await t for t in tasks]
    assert handled.change == "handled" and acked.change == "acknowledged"
    assert (handled.alarm.version, acked.alarm.version) == (2, 3)
    assert acked.alarm.state == "handled"
    alarm = await db.alarms.get_alarm(ALL, aid)
    assert alarm is not None and alarm.state == "handled" and alarm.version == 3
    assert [h.action for h in await db.alarms.handling_history(ALL, aid)] == ["phone_call", "acknowledged"]


async def test_the_engine_and_a_person_change_one_alarm_at_once(db: Db) -> None:
    (a,) = await apply(db, [event(db, "a", "start", 0, peak_speed_kmh=80)])
    aid = a.alarm.id
    async with row_locked(db, aid) as blocker:
        tasks = await contend(
            blocker,
            db.alarms.handle_alarm(ALL, AlarmHandling(aid, "acknowledged", "op", NOW)),
            apply(db, [event(db, "a", "update", 0, severity=Severity.HIGH, peak_speed_kmh=95)]),
            db.alarms.handle_alarm(ALL, AlarmHandling(aid, "note", "op", NOW, text="已电话提醒")),
            apply(db, [event(db, "a", "end", 0, end_minute=4, peak_speed_kmh=97)]))
    changes = [await t for t in tasks]
    acked, (updated,), note, (ended,) = changes
    assert [c.change for c in (acked, updated, note, ended)] == ["acknowledged", "updated", "note", "ended"]
    # One at a time, each a version of its own. The engine's two changes keep their
    # order (one vehicle's events go through its advisory lock); which of the waiters
    # on the row lock goes next is PostgreSQL's choice, not always first come first served.
    assert sorted(c.alarm.version for c in (acked, updated, note, ended)) == [2, 3, 4, 5]
    assert updated.alarm.version < ended.alarm.version
    alarm = await db.alarms.get_alarm(ALL, aid)
    assert alarm is not None and alarm.version == 5
    # Each side's change survived the other's.
    assert alarm.state == "acknowledged" and alarm.severity == Severity.HIGH and not alarm.active
    assert alarm.details == {"peak_speed_kmh": 97} and alarm.end_time == T0 + timedelta(minutes=4)


async def test_a_repeat_is_not_folded_into_an_alarm_handled_meanwhile(db: Db) -> None:
    (a,) = await apply(db, [event(db, "a", "instant", 0)])
    aid = a.alarm.id
    async with row_locked(db, aid) as blocker:
        handled, repeat = await contend(
            blocker,
            db.alarms.handle_alarm(ALL, AlarmHandling(aid, "false_alarm", "op", NOW)),
            apply(db, [event(db, "b", "instant", 2)]))
    assert (await handled).alarm.state == "handled"
    (c,) = await repeat
    # The alarm was handled before the repeat could be folded in: a new alarm opens.
    assert c.change == "new" and c.alarm.id != aid
    old = await db.alarms.get_alarm(ALL, aid)
    assert old is not None and old.repeat_count == 0 and [e.key for e in await db.alarms.episodes(ALL, aid)] == ["a"]


async def test_a_repeat_folded_in_first_is_handled_with_the_alarm(db: Db) -> None:
    (a,) = await apply(db, [event(db, "a", "instant", 0)])
    aid = a.alarm.id
    async with row_locked(db, aid) as blocker:
        repeat, handled = await contend(
            blocker,
            apply(db, [event(db, "b", "instant", 2)]),
            db.alarms.handle_alarm(ALL, AlarmHandling(aid, "phone_call", "op", NOW)))
    ((c,), h) = await repeat, await handled
    assert c.change == "repeat" and c.alarm.id == aid and c.alarm.version == 2
    assert h.alarm.state == "handled" and h.alarm.repeat_count == 1 and h.alarm.version == 3


# -- commands


def _cmd(db: Db, i: int) -> Command:
    return Command(id=0, vehicle_id=db.tanker, device_id="1001", org_id=db.org_a, msg_id=0x8300,
                   body={"text": f"#{i}"}, user="op", created_at=NOW, expires_at=NOW + timedelta(seconds=i % 5))


async def test_concurrent_expiry_returns_each_command_once(db: Db) -> None:
    ids = [await db.alarms.add_command(_cmd(db, i)) for i in range(120)]
    for i, cid in enumerate(ids):
        if i % 2:
            await db.alarms.command_sent(cid, i, NOW)
    later = NOW + timedelta(minutes=1)
    results = await asyncio.gather(*(db.alarms.expire_commands(later) for _ in range(8)))
    got = [c.id for r in results for c in r]
    assert sorted(got) == ids  # every one, once
    assert all(c.state == "timed_out" for r in results for c in r)
    assert await db.alarms.expire_commands(later + timedelta(hours=1)) == []


async def test_an_answer_and_the_expiry_race_for_a_command(db: Db) -> None:
    ids = [await db.alarms.add_command(_cmd(db, i)) for i in range(60)]
    for seq, cid in enumerate(ids):
        await db.alarms.command_sent(cid, seq, NOW)
    later = NOW + timedelta(minutes=1)
    answers = [db.alarms.answer_command("1001", seq, 0x8300, "acknowledged", later, result=0)
               for seq in range(len(ids))]
    results = await asyncio.gather(*answers, *(db.alarms.expire_commands(later) for _ in range(4)))
    answered = {c.id for c in results[:len(ids)] if c is not None}
    expired = [c.id for r in results[len(ids):] for c in r]  # type: ignore[union-attr]
    # Each command finished once: by its answer or by the expiry, never both.
    assert not answered & set(expired) and len(expired) == len(set(expired))
    assert answered | set(expired) == set(ids)
    for cid in ids:
        cmd = await db.alarms.get_command(ALL, cid)
        assert cmd is not None and cmd.state == ("acknowledged" if cid in answered else "timed_out")


# -- files and evidence requests linked by the alarm number, from other processes


@pytest.mark.parametrize("kind", ["attachment", "request"])
async def test_evidence_stored_while_its_alarm_commits_is_linked(db: Db, kind: str) -> None:
    """Scale-out: a gateway stores a file (or its 0x9208) under an alarm number while a
    worker's transaction holding the alarm has not committed. The worker's transaction
    is held open by an update of another alarm whose row a blocker locks; the gateway's
    insert must wait for it (queued behind it) and then find the alarm."""
    (x,) = await apply(db, [event(db, "x", "start", 0)], consumer="alarms.p0", offset=1)
    async with row_locked(db, x.alarm.id) as blocker:
        (writer,) = await contend(blocker, apply(
            db, [event(db, "a", "instant", 1, alarm_type="adas.fcw", category="active_safety", alarm_ref="R1"),
                 event(db, "x", "update", 0, severity=Severity.HIGH)], consumer="alarms.p0", offset=2))
        if kind == "attachment":
            evidence = db.alarms.add_attachment(Attachment(0, None, "1001", "a.jpg", "attachments/R1/a.jpg",
                                                           db.org_a, alarm_ref="R1", received_at=NOW))
        else:
            evidence = db.alarms.add_command(Command(
                id=0, vehicle_id=db.tanker, device_id="1001", org_id=db.org_a, msg_id=0x9208, body={}, user="platform",
                created_at=NOW, expires_at=NOW + timedelta(minutes=1), alarm_ref="R1"))
        stored = asyncio.ensure_future(evidence)
        await queued(blocker, 2)  # behind the worker's transaction, not past it
        assert not stored.done()
    changes = await writer
    evidence_id = await stored
    alarm_id = next(c.alarm.id for c in changes if c.alarm.alarm_type == "adas.fcw")
    if kind == "attachment":
        assert [t.id for t in await db.alarms.attachments(ALL, alarm_id)] == [evidence_id]
    else:
        assert [c.id for c in await db.alarms.list_commands(ALL, db.tanker, alarm_id=alarm_id)] == [evidence_id]


# -- geofences in PostGIS


async def test_geofences_have_their_area_in_postgis(db: Db) -> None:
    store = db.alarms
    assert isinstance(store, PostgresAlarmStore)
    add = store.add_definition
    circle = await add("geofence", Definition(0, db.org_a, "depot", {"kind": "circle", "center": [118.0, 36.8],
                                                                     "radius_m": 300}, kind="circle"))
    rect = await add("geofence", Definition(0, None, "yard", {"points": [[118.1, 36.9], [118.11, 36.91]]},
                                            kind="rectangle"))
    poly = await add("geofence", Definition(0, db.org_b, "school", {
        "points": [[118.2, 36.7], [118.21, 36.7], [118.21, 36.71], [118.2, 36.71]]}, kind="polygon"))
    route = await add("route", Definition(0, None, "G20", {"sections": [
        {"points": [[118.0, 37.0], [118.1, 37.0]], "width_m": 200},
        {"points": [[118.1, 37.0], [118.1, 37.1]], "width_m": 100}]}, kind="corridor"))
    broken = await add("route", Definition(0, None, "draft", {"sections": []}, kind="corridor"))

    assert await store.geofences_at(ALL, 118.0 + 0.0030, 36.8) == [circle]  # ≈ 267 m east of the centre
    assert await store.geofences_at(ALL, 118.0 + 0.0036, 36.8) == []  # ≈ 321 m
    assert await store.geofences_at(ALL, 118.105, 36.905) == [rect]
    assert await store.geofences_at(ALL, 118.205, 36.705) == [poly]
    # The corridor: 100 m either side of the first section, 50 m of the second.
    assert await store.geofences_at(ALL, 118.05, 37.0008) == [route]  # ≈ 89 m north
    assert await store.geofences_at(ALL, 118.05, 37.0010) == []  # ≈ 111 m
    assert await store.geofences_at(ALL, 118.1004, 37.05) == [route]  # ≈ 36 m east
    assert await store.geofences_at(ALL, 118.1007, 37.05) == []  # ≈ 62 m
    # Scope: the organisation's own and the global ones.
    assert await store.geofences_at(Scope.of(db.org_b), 118.0, 36.8) == []
    assert await store.geofences_at(Scope.of(db.org_b), 118.205, 36.705) == [poly]

    rows = {r[0]: (r[1], r[2]) for r in await store.pool.fetch(
        "SELECT id, ST_GeometryType(geom), ST_SRID(geom) FROM geofences")}
    assert rows[broken] == (None, None)  # no area: the spec stays the truth
    assert {rows[i] for i in (circle, rect, poly)} == {("ST_Polygon", 4326)}
    assert rows[route][1] == 4326

    # An update moves the area with the spec.
    moved = Definition(circle, db.org_a, "depot", {"kind": "circle", "center": [118.5, 36.5], "radius_m": 300},
                       kind="circle")
    assert await store.update_definition("geofence", ALL, moved)
    assert await store.geofences_at(ALL, 118.0, 36.8) == []
    assert await store.geofences_at(ALL, 118.5, 36.5) == [circle]

    # Point queries can use the GiST index.
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM geofences WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(118.0, 36.8), 4326))"))
    assert "geofences_geom" in plan
