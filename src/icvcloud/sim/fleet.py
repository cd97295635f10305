"""A virtual fleet: N seeded vehicles, each with a VirtualTerminal, in one process.

One task drives everything. The vehicles are stepped once per ``tick_s`` in
``slices`` interleaved groups (so 10,000 steps never block acks for the whole
batch), and terminals are polled from a heap of due times, so reports go out at
each terminal's own offsets instead of in one burst per tick.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from icvcloud.oslimits import raise_nofile_limit
from icvcloud.protocols import jt808

from .identity import phone_for, plate_for, seeded
from .roads import RoadNetwork
from .stats import LatencyRecorder
from .terminal import ONLINE, VirtualTerminal
from .vehicle import PROFILES, Vehicle

log = logging.getLogger("icvcloud.sim.fleet")

DEFAULT_MIX: dict[str, float] = {"hazmat_tanker": 0.3, "coach": 0.15, "bus": 0.4, "sanitation": 0.15}
#: Sleep at least this long between passes, so a busy schedule cannot spin the loop.
MIN_SLEEP_S = 0.001


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """A fleet member's identity, for provisioning the platform's registry."""

    index: int
    phone: str
    device_id: str  # the phone without left zeros, as the platform keys devices
    plate: str
    plate_colour: int
    vehicle_type: str


@dataclass(slots=True)
class FleetStats:
    vehicles: int
    connected: int
    connected_peak: int
    registered: int
    online: int
    generated: int
    sent: int
    resent: int
    acked: int
    in_flight: int
    heartbeats: int
    reconnects: int
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    ack_latency_ms: dict[str, float] = field(default_factory=dict)


def allocate(n: int, mix: Mapping[str, float]) -> list[str]:
    """Exactly proportional type counts (largest remainder), in type order."""
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("vehicle mix weights must sum to more than 0")
    for t in mix:
        if t not in PROFILES:
            raise ValueError(f"unknown vehicle type {t!r} (known: {', '.join(PROFILES)})")
    quotas = {t: n * w / total for t, w in mix.items()}
    counts = {t: math.floor(q) for t, q in quotas.items()}
    for t in sorted(quotas, key=lambda t: quotas[t] - counts[t], reverse=True)[: n - sum(counts.values())]:
        counts[t] += 1
    return [t for t in mix for _ in range(counts[t])]


class Fleet:
    """``vehicles`` simulated vehicles reporting over JT/T 808 to ``host:port``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6808,
        vehicles: int = 100,
        *,
        seed: int = 808,
        mix: Mapping[str, float] | None = None,
        interval_s: float | tuple[float, float] = (10.0, 30.0),
        heartbeat_s: float = 60.0,
        version: int = jt808.V2013,
        phone_prefix: str = "139",
        first_index: int = 1,
        network: RoadNetwork | None = None,
        tick_s: float = 1.0,
        slices: int = 10,
        connect_rate_per_s: float = 2000.0,
        reconnect_s: tuple[float, float] = (1.0, 10.0),
        reply_timeout_s: float = 10.0,
    ) -> None:
        if vehicles < 0:
            raise ValueError("vehicles must be >= 0")
        self.host = host
        self.port = port
        self.count = vehicles
        self.seed = seed
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.version = version
        self.tick_s = tick_s
        self.slices = max(1, slices)
        self.connect_rate_per_s = connect_rate_per_s
        self.reconnect_s = reconnect_s
        self.reply_timeout_s = reply_timeout_s
        self._network = network
        types = allocate(vehicles, mix or DEFAULT_MIX)
        seeded(f"{seed}:mix").shuffle(types)
        self.specs: list[VehicleSpec] = []
        for i, vtype in enumerate(types):
            index = first_index + i
            phone = phone_for(index, phone_prefix)
            self.specs.append(VehicleSpec(index, phone, phone.lstrip("0") or "0", plate_for(index),
                                          PROFILES[vtype].plate_colour, vtype))
        self.vehicles: list[Vehicle] = []
        self.terminals: list[VirtualTerminal] = []
        self.latency = LatencyRecorder(seed=seed)
        self.connected_peak = 0
        self._heap: list[tuple[float, int, int]] = []
        self._gen: list[int] = []
        self._stopping = False
        self._started = False
        self._stopped: asyncio.Future[None] | None = None

    def vehicle_specs(self) -> list[VehicleSpec]:
        return list(self.specs)

    @property
    def network(self) -> RoadNetwork:
        if self._network is None:
            self._network = RoadNetwork.load()
        return self._network

    def build(self) -> None:
        """Create the vehicles and terminals (done by ``start`` if not called before)."""
        if self.vehicles:
            return
        net = self.network
        for spec in self.specs:
            v = Vehicle(net, spec.vehicle_type, seed=seeded(f"{self.seed}:vehicle:{spec.index}"))
            t = VirtualTerminal(
                self.host, self.port, spec.phone, v, plate=spec.plate, plate_colour=spec.plate_colour,
                version=self.version, interval_s=self.interval_s, heartbeat_s=self.heartbeat_s,
                reply_timeout_s=self.reply_timeout_s, reconnect_s=self.reconnect_s,
                seed=seeded(f"{self.seed}:terminal:{spec.index}"), latency=self.latency,
                clock_s=self.tick_s)
            idx = len(self.terminals)
            t.on_wake = lambda idx=idx: self._wake(idx)  # type: ignore[misc]
            self.vehicles.append(v)
            self.terminals.append(t)
            self._gen.append(0)

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        soft = raise_nofile_limit()
        if soft is not None and soft < self.count + 64:
            log.warning("open-files limit %d is too low for %d terminals", soft, self.count)
        self.build()
        for i, t in enumerate(self.terminals):
            # Ramp connections up: a SYN burst of 10,000 would overflow the listen backlog.
            t.start(own_clock=False, delay_s=i / self.connect_rate_per_s if self.connect_rate_per_s > 0 else 0.0)

    async def run(self, duration_s: float | None = None) -> FleetStats:
        """Run for ``duration_s`` seconds (None: until :meth:`stop`), then stop."""
        await self.start()
        try:
            await self._loop(None if duration_s is None else time.monotonic() + duration_s)
        finally:
            await self.stop()
        return self.stats()

    async def stop(self) -> None:
        """Close every connection (idempotent; waits up to 5 s for the closes)."""
        self._stopping = True
        futures = [f for f in (t.close() for t in self.terminals) if f is not None]
        if futures:
            await asyncio.wait(futures, timeout=5.0)
        for t in self.terminals:
            if t.transport is not None:
                t.transport.abort()

    def _wake(self, idx: int) -> None:
        self._gen[idx] += 1
        heapq.heappush(self._heap, (time.monotonic(), idx, self._gen[idx]))

    async def _loop(self, deadline: float | None) -> None:
        vehicles, terminals, heap, gen = self.vehicles, self.terminals, self._heap, self._gen
        slices = self.slices
        slice_s = self.tick_s / slices
        next_slice = time.monotonic()
        k = 0
        while not self._stopping:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if now >= next_slice:
                wall = time.time()
                for v in vehicles[k::slices]:
                    v.step(wall)
                k = (k + 1) % slices
                next_slice += slice_s
                if next_slice < now:  # overrun: skip, do not catch up in a burst
                    next_slice = now + slice_s
                if k == 0:
                    connected = sum(1 for t in terminals if t.transport is not None)
                    self.connected_peak = max(self.connected_peak, connected)
            if heap and heap[0][0] <= now:
                wall = time.time()
                while heap and heap[0][0] <= now:
                    _, idx, g = heapq.heappop(heap)
                    if g != gen[idx]:
                        continue  # superseded by a wake
                    vehicles[idx].step(wall)
                    nxt = terminals[idx].poll(now, wall)
                    if nxt is not None:
                        heapq.heappush(heap, (nxt, idx, g))
            until = next_slice if not heap else min(next_slice, heap[0][0])
            if deadline is not None:
                until = min(until, deadline)
            await asyncio.sleep(max(until - time.monotonic(), MIN_SLEEP_S))

    # ------------------------------------------------------------ results

    def stats(self) -> FleetStats:
        ts = self.terminals
        connected = sum(1 for t in ts if t.transport is not None)
        self.connected_peak = max(self.connected_peak, connected)
        kinds = {
            "refused": sum(1 for t in ts if t.state == "error"),
            "connect_failures": sum(t.connect_failures for t in ts),
            "reply_timeouts": sum(t.timeouts for t in ts),
            "decode_errors": sum(t.decode_errors for t in ts),
            "rejected_reports": sum(t.rejected for t in ts),
            "dropped_reports": sum(t.dropped for t in ts),
            "stray_acks": sum(t.stray_acks for t in ts),
        }
        return FleetStats(
            vehicles=len(self.specs),
            connected=connected,
            connected_peak=self.connected_peak,
            registered=sum(1 for t in ts if t.auth_code),
            online=sum(1 for t in ts if t.state == ONLINE),
            generated=sum(t.generated for t in ts),
            sent=sum(t.sent for t in ts),
            resent=sum(t.resent for t in ts),
            acked=sum(t.acked for t in ts),
            in_flight=sum(t.in_flight for t in ts),
            heartbeats=sum(t.heartbeats for t in ts),
            reconnects=sum(t.disconnects for t in ts),
            errors=sum(kinds.values()),
            error_kinds=kinds,
            ack_latency_ms=self.latency.summary_ms(),
        )

    def stats_dict(self) -> dict[str, Any]:
        """``stats()`` as JSON-ready values (NaN percentiles become None)."""
        d = asdict(self.stats())
        d["ack_latency_ms"] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                               for k, v in d["ack_latency_ms"].items()}
        return d

    def acknowledged_reports(self) -> list[tuple[str, datetime, int]]:
        """(phone, device time, seq of the acknowledged frame) of every acknowledged report."""
        out: list[tuple[str, datetime, int]] = []
        for t in self.terminals:
            out += t.acknowledged_reports()
        return out
