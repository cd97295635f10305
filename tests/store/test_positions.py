"""Positions, live state and consumer offsets: the store consumer's side."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from icvcloud.model import Vehicle
from icvcloud.store.base import BBox, Scope
from icvcloud.store.sqlite import SqliteStore

from .conftest import T0, pos


async def _vehicle(store: SqliteStore, device_id: str = "13900001111", org_id: int | None = None) -> int:
    return await store.add_vehicle(Vehicle(id=0, plate=f"鲁C{device_id[-5:]}", vehicle_type="bus", org_id=org_id,
                                           device_id=device_id))


async def test_same_batch_twice_stores_once(store: SqliteStore) -> None:
    batch = [pos("13900001111", m, seq=m) for m in range(10)] + [pos("13900002222", 0, item=i) for i in range(3)]
    assert await store.write_positions(batch) == 13
    assert await store.write_positions(batch) == 0
    assert await store.count_positions() == 13
    assert await store.count_positions("13900002222") == 3


async def test_duplicates_within_a_batch_count_once(store: SqliteStore) -> None:
    p = pos("13900001111", 1, seq=7)
    assert await store.write_positions([p, p, pos("13900001111", 1, seq=8)]) == 2


async def test_positions_round_trip_with_aware_utc_times(store: SqliteStore) -> None:
    vid = await _vehicle(store)
    p = pos("13900001111", 3, seq=9, speed_kmh=55.5, heading_deg=271, altitude_m=-3, alarm=2, status=3,
            item=1, backfill=True, mileage_km=1.5, extras={"0x30": 20, "名": "值"})
    await store.write_positions([p])
    (got,) = await store.track(Scope.all(), vid, T0, T0 + timedelta(hours=1))
    assert got == p
    assert got.device_time.tzinfo is UTC and got.received_at.tzinfo is UTC


async def test_live_state_takes_the_newest_position_in_a_batch(store: SqliteStore) -> None:
    vid = await _vehicle(store)
    await store.write_positions([pos("13900001111", m) for m in (5, 9, 2)])
    row = await store.get_vehicle(Scope.all(), vid)
    assert row is not None and row.live is not None and row.live.position is not None
    assert row.live.online
    assert row.live.position.device_time == T0 + timedelta(minutes=9)


async def test_backfill_does_not_move_live_state_backwards(store: SqliteStore) -> None:
    vid = await _vehicle(store)
    await store.write_positions([pos("13900001111", 30)])
    # An hour later the terminal back-fills what it buffered in a tunnel.
    old = [pos("13900001111", m, received_min=90, backfill=True, item=m) for m in range(10)]
    assert await store.write_positions(old) == 10
    row = await store.get_vehicle(Scope.all(), vid)
    assert row is not None and row.live is not None and row.live.position is not None
    assert row.live.position.device_time == T0 + timedelta(minutes=30)
    # …but the device did speak: its last report time moves on.
    assert row.live.last_report_at == T0 + timedelta(minutes=90)


async def test_offset_commits_with_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    await store.open()
    await store.write_positions([pos("13900001111", 1)], "store", 41)
    assert await store.consumer_offset("store") == 41
    assert await store.consumer_offset("other") == 0
    # A batch that fails half way (a value SQLite cannot hold): neither rows nor offset.
    bad = [pos("13900001111", 2), pos("13900001111", 3, alarm=1 << 70)]
    with pytest.raises(OverflowError):
        await store.write_positions(bad, "store", 42)
    assert await store.consumer_offset("store") == 41
    assert await store.count_positions() == 1
    # An empty batch still moves the offset (records without positions were consumed).
    await store.write_positions([], "store", 43)
    await store.close()
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.consumer_offset("store") == 43
        assert await store.count_positions() == 1
    finally:
        await store.close()


async def test_track_is_ordered_and_bounded(store: SqliteStore) -> None:
    vid = await _vehicle(store)
    await _vehicle(store, "13900002222")
    await store.write_positions([pos("13900001111", m, seq=m) for m in (7, 3, 5, 1, 9, 5)])
    await store.write_positions([pos("13900001111", 5, seq=6, item=2), pos("13900002222", 4)])
    track = await store.track(Scope.all(), vid, T0 + timedelta(minutes=3), T0 + timedelta(minutes=7))
    assert [(p.device_time - T0, p.seq, p.item) for p in track] == [
        (timedelta(minutes=3), 3, 0), (timedelta(minutes=5), 5, 0), (timedelta(minutes=5), 6, 2),
        (timedelta(minutes=7), 7, 0)]
    assert {p.device_id for p in track} == {"13900001111"}
    assert len(await store.track(Scope.all(), vid, T0, T0 + timedelta(hours=1), limit=2)) == 2
    assert await store.track(Scope.all(), 999, T0, T0 + timedelta(hours=1)) == []


async def test_mark_seen_and_offline(store: SqliteStore) -> None:
    vid = await _vehicle(store)
    await store.write_positions([pos("13900001111", 0)])
    await store.mark_seen("13900003333", T0 + timedelta(minutes=10))  # heartbeat only, no vehicle
    assert await store.mark_offline_before(T0 + timedelta(minutes=5)) == ["13900001111"]
    assert await store.mark_offline_before(T0 + timedelta(minutes=5)) == []
    row = await store.get_vehicle(Scope.all(), vid)
    assert row is not None and row.live is not None and not row.live.online
    await store.mark_seen("13900001111", T0 + timedelta(minutes=20))
    row = await store.get_vehicle(Scope.all(), vid)
    assert row is not None and row.live is not None and row.live.online
    assert row.live.last_report_at == T0 + timedelta(minutes=20)
    assert row.live.position is not None  # a heartbeat keeps the last position
    # An older heartbeat (out of order) does not move the receive time back.
    await store.mark_seen("13900001111", T0 + timedelta(minutes=15))
    row = await store.get_vehicle(Scope.all(), vid)
    assert row is not None and row.live is not None and row.live.last_report_at == T0 + timedelta(minutes=20)
    assert await store.mark_offline_before(T0 + timedelta(minutes=30)) == ["13900001111", "13900003333"]


async def test_live_states_in_a_box(store: SqliteStore) -> None:
    a = await _vehicle(store, "13900001111")
    await _vehicle(store, "13900002222")
    await _vehicle(store, "13900003333")  # never reported: not on the map
    await store.write_positions([pos("13900001111", 0, lat=36.8, lon=118.0),
                                 pos("13900002222", 0, lat=37.5, lon=118.0)])
    assert len(await store.live_states(Scope.all())) == 2
    rows = await store.live_states(Scope.all(), BBox(117.9, 36.7, 118.1, 36.9))
    assert [r.vehicle.id for r in rows] == [a]


async def test_bad_frames_keep_the_newest(store: SqliteStore) -> None:
    for i in range(400):
        await store.add_bad_frame("13900001111", T0 + timedelta(seconds=i), bytes([i % 256]), f"bad_check_code:{i}")
    await store.add_bad_frame("13900002222", T0, b"\x7e", "truncated")
    frames = await store.bad_frames("13900001111", limit=1000)
    assert 200 <= len(frames) <= 250
    assert frames[0] == (T0 + timedelta(seconds=399), bytes([399 % 256]), "bad_check_code:399")
    assert [t for t, _, _ in frames] == sorted((t for t, _, _ in frames), reverse=True)
    assert len(await store.bad_frames("13900001111", limit=5)) == 5
    assert await store.bad_frames("13900002222") == [(T0, b"\x7e", "truncated")]


async def test_naive_times_are_refused(store: SqliteStore) -> None:
    p = pos("13900001111", 0)
    p.device_time = p.device_time.replace(tzinfo=None)
    with pytest.raises(TypeError):
        await store.write_positions([p])


async def test_backfilled_copy_under_a_new_sequence_is_not_stored_twice(store: SqliteStore) -> None:
    # The terminal's 0x0200 landed but its ack was lost: it re-sends the position in
    # a back-fill batch under a new sequence number.
    vid = await _vehicle(store)
    original = pos("13900001111", 3, seq=5)
    assert await store.write_positions([original]) == 1
    copy = dataclasses.replace(original, seq=9, item=0, backfill=True)
    new = dataclasses.replace(pos("13900001111", 4, seq=9), item=1, backfill=True)
    twice = dataclasses.replace(new, item=2)  # the same fix twice in one batch
    assert await store.write_positions([copy, new, twice]) == 1
    track = await store.track(Scope.all(), vid, T0, T0 + timedelta(hours=1))
    assert [(p.device_time, p.seq) for p in track] == [(original.device_time, 5), (new.device_time, 9)]
