"""Workers share the log's partitions through leases in a NATS KV bucket.

Keys (the bucket's TTL is the lease time; an entry not renewed within it expires):

* ``worker.<id>``: each live worker's heartbeat (its figures, as JSON);
* ``part.<n>``: the worker owning partition ``n``.

Every ``ttl / 6`` seconds a worker renews its keys with compare-and-set on the
revision it holds — a renewal that fails means the lease expired and someone else
may hold it, so the partition is given up at once — and balances: with ``W`` live
workers its fair share is ``ceil(P / W)``; it releases partitions above its share
(after its consumer of them has stopped) and creates the leases of free ones below
it. ``create`` succeeds only for a key that does not exist, so a partition has one
owner; a worker that dies stops renewing, its leases expire after the TTL and the
others take its partitions over. A brief overlap (an owner paused past its TTL)
is harmless: store writes are idempotent and the store's offset only ever covers
stored records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType

log = logging.getLogger("icvcloud.leases")


class PartitionLeases:
    def __init__(self, js: Any, bucket: str, worker_id: str, partitions: int, ttl_s: float, replicas: int,
                 on_acquire: Callable[[int], Awaitable[None]], on_release: Callable[[int], Awaitable[None]],
                 figures: Callable[[], dict[str, Any]] | None = None) -> None:
        self.js = js
        self.bucket = bucket
        self.worker_id = worker_id
        self.partitions = partitions
        self.ttl_s = ttl_s
        self.replicas = replicas
        self.on_acquire = on_acquire
        self.on_release = on_release
        self.figures = figures or dict
        self.kv: Any = None
        #: partition → the lease's revision we hold
        self.owned: dict[int, int] = {}
        self._worker_rev: int | None = None
        self._stop = asyncio.Event()
        self.started_at = time.time()

    async def open(self) -> None:
        self.kv = await open_bucket(self.js, self.bucket, self.ttl_s, self.replicas)

    @property
    def interval_s(self) -> float:
        return max(0.2, self.ttl_s / 6)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except nats.errors.Error as e:  # a leader election, a reconnect: the next round retries
                log.warning("lease round failed: %r; retrying", e)
            except Exception:
                log.exception("lease round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    def _heartbeat(self) -> bytes:
        return json.dumps({"partitions": sorted(self.owned), "started_at": self.started_at, "at": time.time(),
                           **self.figures()}).encode()

    async def tick(self) -> None:
        kv = self.kv
        key = f"worker.{self.worker_id}"
        # Heartbeat: create once, then compare-and-set (a stale twin with our ID loses).
        try:
            if self._worker_rev is None:
                self._worker_rev = await kv.create(key, self._heartbeat())
            else:
                self._worker_rev = await kv.update(key, self._heartbeat(), last=self._worker_rev)
        except nats.js.errors.KeyWrongLastSequenceError:
            self._worker_rev = None  # expired (we were paused): recreate next round
        # Renew, and give up what we no longer hold.
        for p, rev in list(self.owned.items()):
            try:
                self.owned[p] = await kv.update(f"part.{p}", self.worker_id.encode(), last=rev)
            except nats.js.errors.KeyWrongLastSequenceError:
                log.warning("lost the lease of partition %d (expired); stopping its consumer", p)
                del self.owned[p]
                await self.on_release(p)
        keys = set(await self._keys())
        workers = sorted(k for k in keys if k.startswith("worker."))
        share = math.ceil(self.partitions / max(1, len(workers)))
        # Release above the fair share (highest partitions first), then take free ones.
        for p in sorted(self.owned, reverse=True)[: max(0, len(self.owned) - share)]:
            await self.release(p)
        free = [p for p in range(self.partitions) if f"part.{p}" not in keys and p not in self.owned]
        # Start at a place that depends on our ID so workers starting together spread out.
        if free:
            k = sum(self.worker_id.encode()) % len(free)
            free = free[k:] + free[:k]
        for p in free:
            if len(self.owned) >= share:
                break
            try:
                rev = await kv.create(f"part.{p}", self.worker_id.encode())
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # someone was quicker
            self.owned[p] = rev
            log.info("worker %s took partition %d", self.worker_id, p)
            await self.on_acquire(p)

    async def _keys(self) -> list[str]:
        return await list_keys(self.js, self.bucket)

    async def _remove(self, key: str) -> None:
        """Remove a key we hold without leaving a delete marker, so that it disappears
        from :func:`list_keys` (the caller has just renewed it: nobody else can hold it)."""
        await self.js.purge_stream(f"KV_{self.bucket}", subject=f"$KV.{self.bucket}.{key}")

    async def release(self, p: int) -> None:
        rev = self.owned.pop(p, None)
        await self.on_release(p)
        if rev is not None:
            key = f"part.{p}"
            with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                await self.kv.update(key, self.worker_id.encode(), last=rev)  # still ours: then remove it
                await self._remove(key)
            log.info("worker %s released partition %d", self.worker_id, p)

    async def stop(self) -> None:
        """Release everything (others take over at once rather than after the TTL)."""
        self._stop.set()
        for p in sorted(self.owned):
            with contextlib.suppress(Exception):
                await self.release(p)
        if self._worker_rev is not None:
            with contextlib.suppress(Exception):
                await self.kv.update(f"worker.{self.worker_id}", self._heartbeat(), last=self._worker_rev)
                await self._remove(f"worker.{self.worker_id}")

    async def workers(self) -> dict[str, dict[str, Any]]:
        return await live_workers(self.js, self.bucket, self.kv)


async def list_keys(js: Any, bucket: str) -> list[str]:
    """The bucket's live keys. Read from the stream's subjects (one request) rather
    than ``kv.keys()``, which creates a consumer each time — once a second per
    process adds up. Expired entries are gone from the stream; released ones are
    purged (not deleted: a delete marker would still be a subject)."""
    info = await js.stream_info(f"KV_{bucket}", subjects_filter=f"$KV.{bucket}.>")
    prefix = f"$KV.{bucket}."
    return [s[len(prefix):] for s in (info.state.subjects or {})]


async def live_workers(js: Any, bucket: str, kv: Any = None) -> dict[str, dict[str, Any]]:
    """The live workers' last heartbeats, by worker ID (for /health and tests)."""
    keys = await list_keys(js, bucket)
    kv = kv or await js.key_value(bucket)
    out: dict[str, dict[str, Any]] = {}
    for k in keys:
        if k.startswith("worker."):
            with contextlib.suppress(nats.js.errors.KeyNotFoundError, ValueError):
                e = await kv.get(k)
                out[k[7:]] = json.loads(e.value)
    return out


async def open_bucket(js: Any, bucket: str, ttl_s: float, replicas: int) -> Any:
    """The lease bucket, created with the lease TTL if it does not exist."""
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        try:
            return await js.create_key_value(KeyValueConfig(bucket=bucket, ttl=ttl_s, replicas=replicas, history=1,
                                                            storage=StorageType.FILE))
        except nats.js.errors.BadRequestError:  # created by another process meanwhile
            return await js.key_value(bucket)
