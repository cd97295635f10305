"""Readers run while the writer writes, and the event loop stays responsive."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from icvcloud.model import Vehicle
from icvcloud.store.base import Scope, VehicleFilter
from icvcloud.store.sqlite import SqliteStore

from .conftest import T0, pos

DEVICES = 50
BATCHES = 40


async def test_reads_during_writes(store: SqliteStore) -> None:
    vids = [await store.add_vehicle(Vehicle(id=0, plate=f"鲁C{i:05d}", device_id=f"{1000 + i}"))
            for i in range(DEVICES)]
    done = asyncio.Event()
    gaps: list[float] = []

    async def writer() -> None:
        for b in range(BATCHES):
            batch = [pos(f"{1000 + i}", b * 10 + k, seq=k) for i in range(DEVICES) for k in range(10)]
            assert await store.write_positions(batch, "store", b + 1) == len(batch)
        done.set()

    async def reader() -> list[int]:
        seen: list[int] = []
        while not done.is_set():
            rows, total = await store.list_vehicles(Scope.all(), VehicleFilter(limit=1000))
            assert total == DEVICES and len(rows) == DEVICES
            track = await store.track(Scope.all(), vids[0], T0, T0 + timedelta(days=1))
            assert [p.device_time for p in track] == sorted(p.device_time for p in track)
            seen.append(len(track))
        return seen

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    _, seen_a, seen_b, _ = await asyncio.gather(writer(), reader(), reader(), ticker())
    # Each reader saw whole transactions only (multiples of a batch) and never went back.
    for seen in (seen_a, seen_b):
        assert all(n % 10 == 0 for n in seen)
        assert seen == sorted(seen)
    assert await store.count_positions() == DEVICES * BATCHES * 10
    assert await store.consumer_offset("store") == BATCHES
    # Generous: the point is that SQLite never runs on the loop thread.
    assert max(gaps) < 0.5, f"event loop stalled for {max(gaps):.3f} s"
