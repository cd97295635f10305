"""What only the PostgreSQL store has: shared-database start-up, day partitions of
positions with retention by dropping them, PostGIS live state. (Its parity with
the SQLite store is tests/store, run against both.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from icvcloud.model import Position, Vehicle
from icvcloud.store.base import BBox, Scope
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.schema import migrations


def _pos(device_id: str, t: datetime, seq: int = 0, **kw: object) -> Position:
    return Position(device_id=device_id, device_time=t, seq=seq, received_at=t + timedelta(seconds=1), lat=36.8,
                    lon=118.0, **kw)  # type: ignore[arg-type]


async def test_processes_starting_together_migrate_once(pg_dsn: str, pg_schema: str) -> None:
    stores = [PostgresStore(pg_dsn, schema=pg_schema) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        rows = await stores[0].pool.fetch("SELECT version, name FROM schema_version ORDER BY version")
        assert [(r[0], r[1]) for r in rows] == [(m.version, m.name) for m in migrations("postgres")]
        assert [m.version for m in migrations("postgres")] == [m.version for m in migrations("sqlite")][
            : len(migrations("postgres"))], "PostgreSQL migrations are numbered in step with SQLite's"
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_newer_database_is_refused(pg_store: PostgresStore, pg_dsn: str, pg_schema: str) -> None:
    await pg_store.pool.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future')")
    with pytest.raises(RuntimeError, match="999"):
        await PostgresStore(pg_dsn, schema=pg_schema).open()


async def test_day_partitions_ahead_and_behind(pg_store: PostgresStore) -> None:
    today = datetime.now(UTC).date()
    names = await pg_store.position_partitions()
    for k in range(-pg_store.partition_days_back, pg_store.partition_days_ahead + 1):
        assert f"positions_{today + timedelta(days=k):%Y%m%d}" in names
    assert "positions_default" in names
    now = datetime.now(UTC)
    assert await pg_store.write_positions([_pos("1001", now)]) == 1
    day_table = f"positions_{now:%Y%m%d}"
    assert await pg_store.pool.fetchval(f'SELECT count(*) FROM "{day_table}"') == 1


async def test_a_day_without_partition_waits_in_default_and_moves(pg_store: PostgresStore) -> None:
    old = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    await pg_store.write_positions([_pos("1001", old + timedelta(minutes=m), m) for m in range(5)])
    assert await pg_store.pool.fetchval("SELECT count(*) FROM positions_default") == 5
    done = await pg_store.maintain(today=date(2024, 5, 2))
    assert "positions_20240501" in done["created"]
    assert await pg_store.pool.fetchval("SELECT count(*) FROM positions_default") == 0
    assert await pg_store.pool.fetchval("SELECT count(*) FROM positions_20240501") == 5
    # The dedup key still holds across the move.
    assert await pg_store.write_positions([_pos("1001", old, 0)]) == 0
    assert await pg_store.count_positions("1001") == 5


async def test_retention_drops_whole_days(pg_dsn: str, pg_schema: str) -> None:
    s = PostgresStore(pg_dsn, schema=pg_schema, track_retention_days=30)
    await s.open()
    try:
        await s.maintain(today=date(2024, 5, 2))
        t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
        await s.write_positions([_pos("1001", t), _pos("1001", datetime(2020, 1, 1, tzinfo=UTC))])
        done = await s.maintain(today=date(2024, 6, 15))
        assert "positions_20240501" in done["dropped"] and "positions_20240615" in done["created"]
        assert await s.count_positions() == 0  # the 2020 row waited in default and is past retention too
    finally:
        await s.close()


async def test_offset_commits_with_the_rows(pg_store: PostgresStore) -> None:
    t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    await pg_store.write_positions([_pos("1001", t)], "store.p3", 41)
    assert await pg_store.consumer_offset("store.p3") == 41
    assert await pg_store.consumer_offsets("store.") == {"store.p3": 41}
    bad = [_pos("1001", t + timedelta(minutes=1)), _pos("1001", t + timedelta(minutes=2), alarm=1 << 70)]
    with pytest.raises((asyncpg.DataError, OverflowError)):
        await pg_store.write_positions(bad, "store.p3", 42)
    assert await pg_store.consumer_offset("store.p3") == 41
    assert await pg_store.count_positions() == 1


async def test_live_state_geometry_answers_boxes(pg_store: PostgresStore) -> None:
    t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    for i, (lon, lat) in enumerate([(118.05, 36.80), (117.90, 36.50), (118.30, 36.95)]):
        await pg_store.add_vehicle(Vehicle(id=0, plate=f"鲁C0000{i}", device_id=f"100{i}"))
        await pg_store.write_positions([Position(device_id=f"100{i}", device_time=t, seq=0, received_at=t, lat=lat,
                                                 lon=lon)])
    geom = await pg_store.pool.fetch("SELECT device_id, ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM live_state "
                                     "ORDER BY device_id")
    assert [(r[0], r[1], r[2], r[3]) for r in geom] == [("1000", 118.05, 36.80, 4326), ("1001", 117.90, 36.50, 4326),
                                                        ("1002", 118.30, 36.95, 4326)]
    rows = await pg_store.live_states(Scope.all(), BBox(118.0, 36.7, 118.4, 37.0))
    assert sorted(r.vehicle.device_id or "" for r in rows) == ["1000", "1002"]
    # A newer position moves the point; an older (back-filled) one does not.
    await pg_store.write_positions([Position(device_id="1000", device_time=t + timedelta(minutes=1), seq=1,
                                             received_at=t, lat=36.6, lon=117.95)])
    await pg_store.write_positions([Position(device_id="1000", device_time=t - timedelta(minutes=1), seq=2,
                                             received_at=t, lat=36.9, lon=118.2, backfill=True)])
    assert await pg_store.pool.fetchval("SELECT ST_AsText(geom) FROM live_state WHERE device_id = '1000'") == \
        "POINT(117.95 36.6)"
    # The box query can use the GiST index.
    await pg_store.pool.execute("ANALYZE live_state")
    async with pg_store.pool.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT device_id FROM live_state WHERE geom && ST_MakeEnvelope(118, 36.7, 118.4, 37, 4326)"))
        await conn.execute("RESET enable_seqscan")
    assert "live_state_geom" in plan


async def test_concurrent_writers_of_the_same_devices(pg_store: PostgresStore) -> None:
    """Two workers briefly owning one partition (a takeover): both write, neither
    deadlocks, every position is stored once."""
    t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    batches = [[_pos(f"{2000 + d}", t + timedelta(seconds=10 * k), k) for d in range(200)] for k in range(20)]

    async def writer(order: list[list[Position]]) -> int:
        n = 0
        for b in order:
            n += await pg_store.write_positions(list(reversed(b)) if len(order) % 2 else b)
        return n

    a, b = await asyncio.gather(writer(batches), writer(list(reversed(batches))))
    assert a + b == 200 * 20
    assert await pg_store.count_positions() == 200 * 20
