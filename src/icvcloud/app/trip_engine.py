"""Full-trip monitoring wired into the alarm consumer: the rule engine and the
hazmat trip monitor (``hazmat/monitor.py``) as one engine, so both see every report
once, share one checkpoint and one exactly-once write path.

The consumer hands the monitor's ``trip``-category events (a waybill's trip
changing state) to :meth:`TripRules.record` before it stores the alarms of the same
batch; replaying them after a crash records nothing twice (a state is entered once
per waybill). The waybills themselves are reloaded when the hazmat store's
``waybills_version`` changes (checked with the definitions).

A checkpoint is ``MAGIC``, the monitor's snapshot length (8 bytes), the monitor's
snapshot, then the rule engine's snapshot; a checkpoint without ``MAGIC`` (from
before the monitor existed) is the rule engine's alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from icvcloud.config import ConfigError, HazmatConfig
from icvcloud.hazmat.monitor import OPEN_STATES, HazmatMonitor, MonitorConfig
from icvcloud.hazmat.trip import TripConfig
from icvcloud.model import Position
from icvcloud.model.alarms import AlarmEvent
from icvcloud.model.fences import Fence
from icvcloud.model.hazmat import MonitoredWaybill, TripStateChange
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.wire import CST
from icvcloud.store.hazmat_base import HazmatStore

from .alarms import Definitions, EngineFactory, RuleEngine
from .rule_engine import fence_of

MAGIC = b"ICVTRIP1"


def monitor_config(h: HazmatConfig) -> MonitorConfig:
    if h.loaded_from not in ("always", "status"):
        raise ConfigError(f"hazmat.loaded_from must be always or status, not {h.loaded_from!r}")
    trip = TripConfig(deviation_after_s=h.deviation_after_s,
                      complete_after_s=h.complete_after_h * 3600 if h.complete_after_h > 0 else None,
                      escort_check=h.escort_check, escort_grace_s=h.escort_grace_s)
    return MonitorConfig(trip=trip, no_waybill=h.no_waybill_after_s > 0, no_waybill_after_s=h.no_waybill_after_s,
                         loaded_from=cast(Literal["always", "status"], h.loaded_from),
                         cover_before_s=h.cover_before_h * 3600, cover_after_s=h.cover_after_h * 3600)


class TripAwareEngine:
    """The rule engine and the trip monitor, one :class:`RuleEngine` to the consumer."""

    def __init__(self, engine: RuleEngine, monitor: HazmatMonitor) -> None:
        self.engine = engine
        self.monitor = monitor

    def process(self, vehicle: Any, position: Position) -> list[AlarmEvent]:
        evs = self.engine.process(vehicle, position)
        more = self.monitor.process(vehicle, position)
        return evs + more if more else evs

    def message(self, vehicle: Any, msg: jt808.Message, received: datetime) -> list[AlarmEvent]:
        """A message other than a position report: the IC card reports (0x0702)."""
        body = msg.body
        if not isinstance(body, jt808.DriverIdentity):
            return []
        t = body.time if isinstance(body.time, datetime) else received
        if t.tzinfo is None:
            t = t.replace(tzinfo=CST)
        t = t.astimezone(UTC)
        if body.state == 2:
            return self.monitor.identity(vehicle, t, False, "")
        if body.state == 1 and body.read_result == 0:
            return self.monitor.identity(vehicle, t, True, body.certificate_no, body.id_card)
        return []

    def tick(self, now: datetime) -> list[AlarmEvent]:
        return self.engine.tick(now) + self.monitor.tick(now)

    def snapshot(self) -> bytes:
        return b"".join(self.snapshot_parts())

    def snapshot_parts(self) -> Iterator[bytes]:
        m = self.monitor.snapshot()
        yield MAGIC + len(m).to_bytes(8, "big") + m
        parts = getattr(self.engine, "snapshot_parts", None)
        if parts is None:
            yield self.engine.snapshot()
        else:
            yield from parts()

    def restore(self, snapshot: bytes) -> None:
        if not snapshot.startswith(MAGIC):
            self.engine.restore(snapshot)
            return
        n = int.from_bytes(snapshot[len(MAGIC):len(MAGIC) + 8], "big")
        start = len(MAGIC) + 8
        if start + n > len(snapshot):
            raise ValueError("truncated trip monitor checkpoint")
        self.monitor.restore(snapshot[start:start + n])
        self.engine.restore(snapshot[start + n:])


def site_fences(waybills: list[MonitoredWaybill]) -> list[Fence]:
    """The loading and unloading sites of open waybills as places their own vehicle may
    stand as long as it takes (loading takes longer than the stop rule allows elsewhere).
    Negative IDs keep them apart from stored geofences."""
    out: list[Fence] = []
    for m in waybills:
        w = m.waybill
        if w.state not in OPEN_STATES:
            continue
        for k, (site, what) in enumerate(((w.origin, "loading"), (w.destination, "unloading"))):
            out.append(Fence.from_dict({**site.area, "id": -(2 * w.id + k), "name": f"{w.number} {what} site",
                                        "stop_permitted": True, "vehicle_ids": [w.vehicle_id]}))
    return out


class TripRules(EngineFactory):
    """Builds :class:`TripAwareEngine` around another factory's engine; reloads the
    waybills when they change (and gives the rule engine their sites as permitted
    stops); records trip state changes."""

    def __init__(self, rules: EngineFactory, hazmat: HazmatStore, config: MonitorConfig, *,
                 tick_everything: bool = True, sites_every_s: float = 60.0) -> None:
        self.rules = rules
        self.hazmat = hazmat
        self.config = config
        self.tick_everything = tick_everything
        #: Changed sites reach the rule engine at most this often: each change rebuilds its
        #: fence index (~0.1 ms per fence here, on the consumer's loop, per partition), and
        #: a site given late costs nothing — the stop rule accepts a place permitted during
        #: the stop, and needs 30 min to raise.
        self.sites_every_s = sites_every_s
        self._version: str | None = None
        self._defs = Definitions()
        self._sites: list[Fence] = []
        self._due_sites: list[Fence] = []
        self._sites_at = -math.inf

    def build(self, defs: Definitions) -> RuleEngine:
        self._version = None  # a new monitor has no waybills yet
        self._defs, self._sites, self._due_sites, self._sites_at = defs, [], [], -math.inf
        return TripAwareEngine(self.rules.build(defs), HazmatMonitor(self.config,
                                                                     tick_everything=self.tick_everything))

    def update(self, engine: RuleEngine, defs: Definitions) -> None:
        assert isinstance(engine, TripAwareEngine)
        self.rules.update(engine.engine, defs)
        self._defs = defs
        if self._sites:
            self._set_fences(engine)

    def _set_fences(self, engine: TripAwareEngine) -> None:
        set_fences = getattr(engine.engine, "set_fences", None)
        if set_fences is not None:
            set_fences([*(fence_of(d) for d in self._defs.geofences), *self._sites])

    async def refresh(self, engine: RuleEngine, now: datetime) -> None:
        """Reload the monitored waybills if they changed; hand the rule engine changed sites
        when due."""
        assert isinstance(engine, TripAwareEngine)
        version = await self.hazmat.waybills_version()
        if version != self._version:
            since = now - timedelta(seconds=self.config.cover_after_s + 86_400)
            waybills = await self.hazmat.monitored_waybills(since)
            engine.monitor.set_waybills(waybills)
            self._due_sites = site_fences(waybills)
            self._version = version
        mono = time.monotonic()
        if self._due_sites != self._sites and mono - self._sites_at >= self.sites_every_s:
            self._sites, self._sites_at = self._due_sites, mono
            self._set_fences(engine)

    async def record(self, events: list[AlarmEvent]) -> None:
        """Store the trip state changes among ``events`` (category ``trip``)."""
        changes = [TripStateChange(waybill_id=int(e.details["waybill_id"]), state=str(e.details["to"]),
                                   from_state=str(e.details["from"]), at=e.start_time, by=str(e.details["by"]))
                   for e in events if e.category == "trip"]
        if changes:
            await self.hazmat.apply_trip_changes(changes)
