"""``icv worker``: the store consumer of the scale-out mode, for the log partitions
this worker holds the leases of.

Per partition it runs the embedded mode's :class:`StorePipeline` over that
partition of the NATS log, committing its offset as ``store.p<n>`` in the same
PostgreSQL transaction as the positions; a worker that takes a partition over
starts after that offset, so what its predecessor had read but not stored is read
again (and stored once: the writes are idempotent). The worker holding partition 0
also runs the offline sweep; every worker runs the positions table's partition
maintenance (one at a time, by a database lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.config import Config
from icvcloud.log.nats import NatsLog
from icvcloud.metrics import PipelineStats
from icvcloud.store.postgres import PostgresStore

from .leases import PartitionLeases
from .live_bus import LivePublisher
from .pipeline import StorePipeline
from .scaleout_config import log_settings, make_store

log = logging.getLogger("icvcloud.worker")

GROUP = "store"


class Worker:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        s = cfg.scaleout
        self.id = s.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.log = NatsLog(log_settings(cfg, f"icv-worker-{self.id}"))
        self.store: PostgresStore = make_store(cfg)
        self.live: LivePublisher | None = None
        self.leases: PartitionLeases | None = None
        self.pipelines: dict[int, tuple[StorePipeline, asyncio.Task[None]]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        #: Figures of partitions this worker has given up (the live ones are in ``pipelines``).
        self._stored_before = 0
        self._records_before = 0
        self.takeovers = 0

    async def start(self) -> None:
        s = self.cfg.scaleout
        await self.store.open()
        await self.log.open()
        assert self.log.nc is not None
        self.live = LivePublisher(self.log.nc, s.live_subject)
        await self.live.start()
        self.leases = PartitionLeases(self.log.js, s.lease_bucket, self.id, s.partitions, s.lease_ttl_s, s.replicas,
                                      self._acquire, self._release, self.figures)
        await self.leases.open()
        self._tasks.append(asyncio.create_task(self.leases.run(), name="leases"))
        self._tasks.append(asyncio.create_task(self._offline_sweep(), name="offline-sweep"))
        self._tasks.append(asyncio.create_task(self._maintenance(), name="maintenance"))
        log.info("worker %s started (%d partitions in the log)", self.id, s.partitions)

    async def _acquire(self, p: int) -> None:
        view = self.log.partition(p, GROUP)
        pipe = StorePipeline(view, self.store, self.live, PipelineStats(), consumer=f"{GROUP}.p{p}")
        self.pipelines[p] = (pipe, asyncio.create_task(pipe.run(), name=f"store-p{p}"))
        self.takeovers += 1

    async def _release(self, p: int) -> None:
        entry = self.pipelines.pop(p, None)
        if entry is None:
            return
        pipe, task = entry
        pipe.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except TimeoutError:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await pipe.log.close()
        self._stored_before += pipe.stats.positions_stored
        self._records_before += pipe.stats.records_processed

    def total(self, name: str) -> int:
        """A :class:`PipelineStats` counter summed over this worker's partitions, past and present."""
        before = {"positions_stored": self._stored_before, "records_processed": self._records_before}.get(name, 0)
        return before + sum(int(getattr(p.stats, name)) for p, _ in self.pipelines.values())

    def figures(self) -> dict[str, Any]:
        pipes = [p for p, _ in self.pipelines.values()]
        return {
            "pid": os.getpid(),
            "positions_stored": self._stored_before + sum(p.stats.positions_stored for p in pipes),
            "records_processed": self._records_before + sum(p.stats.records_processed for p in pipes),
            "lag": sum(p.stats.lag() for p in pipes),
            "takeovers": self.takeovers,
        }

    async def _offline_sweep(self) -> None:
        every = min(10.0, self.cfg.live.offline_after_s / 3)
        while True:
            await asyncio.sleep(every)
            if self.leases is None or 0 not in self.leases.owned:
                continue  # one sweeper: the owner of partition 0
            cutoff = datetime.now(UTC) - timedelta(seconds=self.cfg.live.offline_after_s)
            try:
                gone = await self.store.mark_offline_before(cutoff)
                if gone and self.live is not None:
                    self.live.publish([{"device_id": d, "online": False, "lat": 0.0, "lon": 0.0, "offline": True}
                                       for d in gone])
            except Exception:
                log.exception("offline sweep failed")

    async def _maintenance(self) -> None:
        while True:
            await asyncio.sleep(3600)
            try:
                await self.store.maintain()
            except Exception:
                log.exception("positions partition maintenance failed")

    async def stop(self) -> None:
        if self.leases is not None:
            await self.leases.stop()  # releases every partition: the pipelines finish their batch
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.live is not None:
            await self.live.stop()
        await self.log.close()
        await self.store.close()


async def wait_for_partitions(worker: Worker, timeout_s: float = 30.0) -> None:
    """Until the worker holds at least one partition (for start-up messages and tests)."""
    deadline = time.monotonic() + timeout_s
    while not worker.pipelines and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
