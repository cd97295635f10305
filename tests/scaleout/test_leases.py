"""Partition leases in a NATS KV bucket: fair shares, hand-over on a clean stop,
takeover after a worker dies, and giving up a lease that expired."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import nats
import nats.js.errors
import pytest

from icvcloud.app.leases import PartitionLeases, list_keys, live_workers
from tests.services import unique

P = 8
TTL = 2.0


class Owner:
    """A worker's side of the leases, recording what it was told to run."""

    def __init__(self, js: object, bucket: str, name: str) -> None:
        self.running: set[int] = set()
        self.acquired: list[int] = []
        self.released: list[int] = []
        self.leases = PartitionLeases(js, bucket, name, P, TTL, 3, self._acquire, self._release,
                                      lambda: {"stored": len(self.acquired)})

    async def _acquire(self, p: int) -> None:
        assert p not in self.running
        self.running.add(p)
        self.acquired.append(p)

    async def _release(self, p: int) -> None:
        self.running.discard(p)
        self.released.append(p)


@pytest.fixture
async def js(nats_servers: list[str]) -> AsyncIterator[object]:
    nc = await nats.connect(servers=nats_servers)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
async def bucket(js: object) -> AsyncIterator[str]:
    name = unique("lease")
    yield name
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_stream(f"KV_{name}")  # type: ignore[attr-defined]


async def _ticks(*owners: Owner, n: int = 3) -> None:
    for _ in range(n):
        for o in owners:
            await o.leases.tick()


async def test_workers_split_partitions_and_hand_over_on_stop(js: object, bucket: str) -> None:
    a = Owner(js, bucket, "a")
    await a.leases.open()
    await _ticks(a)
    assert a.running == set(range(P))
    b = Owner(js, bucket, "b")
    await b.leases.open()
    await _ticks(a, b, n=4)
    assert len(a.running) == len(b.running) == P // 2 and not a.running & b.running
    workers = await live_workers(js, bucket)
    assert set(workers) == {"a", "b"} and sorted(workers["a"]["partitions"]) == sorted(a.running)
    # A clean stop releases at once: no waiting for the TTL.
    await b.leases.stop()
    assert b.running == set()
    await _ticks(a, n=2)
    assert a.running == set(range(P))
    assert set(await live_workers(js, bucket)) == {"a"}


async def test_a_dead_workers_partitions_are_taken_after_the_ttl(js: object, bucket: str) -> None:
    a, b = Owner(js, bucket, "a"), Owner(js, bucket, "b")
    for o in (a, b):
        await o.leases.open()
    await _ticks(a, b, n=4)
    assert len(b.running) == P // 2
    t0 = time.monotonic()
    # b stops renewing (killed): a gets everything once b's leases expire.
    while a.running != set(range(P)):
        await a.leases.tick()
        await asyncio.sleep(0.2)
        assert time.monotonic() - t0 < TTL + 5, f"no takeover: a runs {a.running}"
    assert time.monotonic() - t0 >= TTL * 0.5  # not before the leases could have expired
    # b wakes up: its renewals fail, so it stops its consumers rather than double-running.
    await b.leases.tick()
    assert b.running == set()
    assert sorted(b.released) == sorted(b.acquired) and len(b.acquired) == P // 2
    keys = await list_keys(js, bucket)
    assert sorted(k for k in keys if k.startswith("part.")) == [f"part.{p}" for p in range(P)]
