"""Throughput of SqliteStore.write_positions, the store's hot path (not a test).

    /tmp/v/bin/python tests/store/bench_write_positions.py [--positions 200000] [--batch 2000] [--devices 1000]

Batches look like the store consumer's: many devices interleaved, realistic extras,
a consumer offset committed with each batch.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icvcloud.model import Position
from icvcloud.store.sqlite import SqliteStore


def make_batches(total: int, batch: int, devices: int) -> list[list[Position]]:
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    out: list[list[Position]] = []
    cur: list[Position] = []
    for i in range(total):
        dev = i % devices
        n = i // devices
        cur.append(Position(
            device_id=f"1390000{dev:04d}", device_time=t0 + timedelta(seconds=10 * n), seq=n & 0xFFFF,
            received_at=t0 + timedelta(seconds=10 * n, milliseconds=300), lat=36.8 + dev * 1e-4 + n * 1e-5,
            lon=118.0 + n * 1e-5, speed_kmh=42.5, heading_deg=90, altitude_m=40, status=3, mileage_km=1234.5,
            extras={"0x25": {"signal": 0}, "0x30": 28, "0x31": 14}))
        if len(cur) == batch:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


async def main(total: int, batch: int, devices: int) -> None:
    batches = make_batches(total, batch, devices)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "store.db")
        await store.open()
        try:
            t = time.perf_counter()
            inserted = 0
            for i, b in enumerate(batches):
                inserted += await store.write_positions(b, "bench", i + 1)
            dt = time.perf_counter() - t
            again = await store.write_positions(batches[0], "bench", len(batches))
        finally:
            await store.close()
    print(f"{inserted} positions in {dt:.2f} s: {inserted / dt:,.0f} positions/s "
          f"(batch {batch}, {devices} devices; a replayed batch inserted {again})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--positions", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--devices", type=int, default=1000)
    a = ap.parse_args()
    asyncio.run(main(a.positions, a.batch, a.devices))
