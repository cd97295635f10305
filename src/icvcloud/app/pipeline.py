"""The store consumer: log records → positions in the store, live state, live hub.

At least once and idempotent (architecture rule 2): the consumer's offset is
committed in the same store transaction as the positions it covers; a crash
replays from there and duplicate positions are ignored by the store's key.
"""

from __future__ import annotations

import asyncio
import logging
import time

from icvcloud.gateways.jt808.log_messages import LogMessages
from icvcloud.gateways.jt808.records import rows_from
from icvcloud.live import LiveHub, LiveUpdate
from icvcloud.log.base import Log, LogRecord
from icvcloud.metrics import PipelineStats
from icvcloud.model import Position, PositionRow, Vehicle, position_of_row
from icvcloud.model.records import from_us
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.bits import ALARM, STATUS
from icvcloud.store.base import Store

log = logging.getLogger("icvcloud.pipeline")

CONSUMER = "store"
#: Records decoded between turns of the event loop.
YIELD_EVERY = 1000


def live_item(vehicle: Vehicle | None, p: Position) -> LiveUpdate:
    """A live update, in the shape the API lists vehicles (plus flat keys for filtering)."""
    return LiveUpdate({
        "id": vehicle.id if vehicle else None,
        "vehicle_id": vehicle.id if vehicle else None,
        "org_id": vehicle.org_id if vehicle else None,
        "plate": vehicle.plate if vehicle else p.device_id,
        "plate_colour": vehicle.plate_colour if vehicle else None,
        "vehicle_type": vehicle.vehicle_type if vehicle else "other",
        "device_id": p.device_id,
        "online": True,
        "last_report_at": p.received_at.isoformat(),
        "lat": p.lat,
        "lon": p.lon,
        "position": {
            "lat": p.lat,
            "lon": p.lon,
            "speed_kmh": p.speed_kmh,
            "heading_deg": p.heading_deg,
            "altitude_m": p.altitude_m,
            "device_time": p.device_time.isoformat(),
            "alarm": p.alarm,
            "status": p.status,
            "alarm_flags": ALARM.names_of(p.alarm),
            "status_flags": STATUS.names_of(p.status),
            "mileage_km": p.mileage_km,
            "extras": p.extras,
        },
    })


class StorePipeline:
    def __init__(self, log_: Log, store: Store, hub: LiveHub | None = None, stats: PipelineStats | None = None,
                 batch: int = 50_000, min_batch: int = 20_000, max_delay_s: float = 0.5,
                 consumer: str = CONSUMER) -> None:
        self.log = log_
        #: The name this consumer commits its offset under (scale-out: one per log partition).
        self.consumer = consumer
        self.store = store
        self.hub = hub
        self.stats = stats or PipelineStats()
        #: At most this many records per store transaction.
        self.batch = batch
        #: Gather at least this many records, or what came within ``max_delay_s``:
        #: a store transaction costs per distinct index page it touches, so rows per
        #: transaction matter (measured: 50,000-row batches of 10,000 terminals cost
        #: a third of the CPU per row of 5,000-row ones).
        self.min_batch = min_batch
        self.max_delay_s = max_delay_s
        self.offset = 0
        self._vehicles: dict[str, Vehicle | None] = {}
        self._messages = LogMessages()
        self._stop = asyncio.Event()
        self.stats.lag = lambda: max(0, self.log.last_offset() - self.offset)

    def invalidate(self, device_id: str) -> None:
        self._vehicles.pop(device_id, None)

    async def _vehicle(self, device_id: str) -> Vehicle | None:
        if device_id in self._vehicles:
            return self._vehicles[device_id]
        v = await self.store.vehicle_for_device(device_id)
        if v is not None:  # unknown devices are looked up again next time
            self._vehicles[device_id] = v
        return v

    async def run(self) -> None:
        self.offset = await self.store.consumer_offset(self.consumer)
        log.info("store consumer starting after log offset %d", self.offset)
        ahead: asyncio.Task[list[LogRecord]] | None = None
        try:
            while not self._stop.is_set():
                try:
                    recs = await ahead if ahead is not None else await self.log.read(
                        self.offset, self.batch, timeout_s=0.5)
                    ahead = None
                    recs = await self._gather(recs)
                    if recs:
                        # Read the next batch while this one is written: the two wait
                        # on different threads.
                        ahead = asyncio.create_task(self.log.read(recs[-1].offset, self.batch, timeout_s=0.5))
                        await self.process(recs)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The store is unavailable or a bug: retry the same records (idempotent).
                    log.exception("store consumer failed at offset %d; retrying", self.offset)
                    if ahead is not None:
                        ahead.cancel()
                        ahead = None
                    await asyncio.sleep(1.0)
        finally:
            if ahead is not None:
                ahead.cancel()

    async def _gather(self, recs: list[LogRecord]) -> list[LogRecord]:
        """Top ``recs`` up to ``min_batch`` records with what arrives within ``max_delay_s``."""
        if not recs or len(recs) >= self.min_batch:
            return recs
        deadline = time.monotonic() + self.max_delay_s
        while len(recs) < self.min_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self.log.read(recs[-1].offset, self.batch - len(recs), timeout_s=left)
            if not more:
                break
            recs.extend(more)
        return recs

    def stop(self) -> None:
        self._stop.set()

    async def process(self, recs: list[LogRecord]) -> None:
        t0 = time.perf_counter()
        rows: list[PositionRow] = []
        seen_us: dict[str, int] = {}
        for i, r in enumerate(recs):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                # A batch is tens of thousands of records (≈ 5 µs each): decoded in one
                # go it would hold the event loop — every connection's acknowledgements —
                # for a quarter of a second.
                await asyncio.sleep(0)
            seen_us[r.device_id] = r.received_at_us
            try:
                msg = self._messages.message(r)
            except jt808.Jt808Error as e:
                self.stats.decode_errors += 1
                log.warning("log record %d of %s does not decode: %s", r.offset, r.device_id, e)
                continue
            if msg is not None:
                rows += rows_from(msg, r.received_at_us)
        self._messages.expire()
        last = recs[-1].offset
        # Never past the first packet of a set still being reassembled: a restart
        # must read those packets again.
        commit = self._messages.safe_offset(last)
        # Devices with positions here get their receive time from those rows (the stores
        # use ``seen`` only for the others): convert only the others' times.
        with_rows = {row[0] for row in rows}
        seen = {d: from_us(us) for d, us in seen_us.items() if d not in with_rows}
        inserted = await self.store.write_position_rows(rows, self.consumer, commit, seen=seen)
        self.stats.positions_stored += inserted
        self.stats.positions_duplicate += len(rows) - inserted
        self.stats.records_processed += len(recs)
        self.offset = last
        if self.hub is not None and self.hub.subscribers and rows:
            newest: dict[str, PositionRow] = {}
            for row in rows:
                cur = newest.get(row[0])
                if cur is None or row[1] >= cur[1]:
                    newest[row[0]] = row
            items = []
            for i, (d, row) in enumerate(newest.items()):
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    await asyncio.sleep(0)  # ≈ 10 µs an item: a city's batch would hold the loop
                items.append(live_item(await self._vehicle(d), position_of_row(row)))
            self.hub.publish(items)
        self.stats.batch_latency.observe(time.perf_counter() - t0)
