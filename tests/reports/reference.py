"""A plain-Python reading of :class:`FactRules` over a list of positions — the
oracle the SQL facts are compared with on generated tracks. Written from the rules'
docstring, record by record, not from the SQL."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from icvcloud.model import Position
from icvcloud.store.alarm_logic import EARTH_KM
from icvcloud.store.reports_base import FactRules, VehicleDay, period_bounds
from icvcloud.store.sqlite import to_us


def km(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    dphi = math.radians(lat1 - lat0)
    dlam = math.radians(lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2))
    return EARTH_KM * math.sqrt(dphi * dphi + dlam * dlam)


@dataclass
class _Rec:
    p: Position
    ts: float
    flags: dict[str, bool]

    @property
    def ok(self) -> bool:
        return not any(self.flags.values())


def _flags(p: Position, r: FactRules) -> dict[str, bool]:
    lon0, lat0, lon1, lat1 = r.china_bounds
    ts, rs = to_us(p.device_time) / 1e6, to_us(p.received_at) / 1e6
    return {
        "bad_position": not (lon0 <= p.lon <= lon1 and lat0 <= p.lat <= lat1),
        "bad_time": "invalid_device_time" in p.extras or ts > rs + r.max_future_s or ts < rs - r.max_delay_s,
        "bad_speed": not 0 <= p.speed_kmh <= r.max_speed_kmh,
        "bad_heading": not 0 <= p.heading_deg <= 359,
        "bad_altitude": not r.min_altitude_m <= p.altitude_m <= r.max_altitude_m,
        "no_fix": r.require_fix and not p.status & 2,
    }


def _implausible(r: FactRules, dist: float, dt: float | None) -> bool:
    return dt is not None and dt <= r.link_s and dist > max(r.min_jump_km, r.jump_kmh * dt / 3600)


def facts(vehicle_id: int, positions: list[Position], first: date, last: date, r: FactRules) -> list[VehicleDay]:
    start, end = period_bounds(first, last, r)
    margin = timedelta(seconds=r.link_s)
    recs = [_Rec(p, to_us(p.device_time) / 1e6, _flags(p, r))
            for p in sorted(positions, key=lambda p: (p.device_time, p.seq, p.item))
            if start - 2 * margin <= p.device_time < end + margin]
    ok = [x for x in recs if x.ok]
    spikes: set[int] = set()
    for i, x in enumerate(ok):
        prev, nxt = (ok[i - 1] if i > 0 else None), (ok[i + 1] if i + 1 < len(ok) else None)
        if (prev is not None and nxt is not None
                and _implausible(r, km(prev.p.lat, prev.p.lon, x.p.lat, x.p.lon), x.ts - prev.ts)
                and _implausible(r, km(x.p.lat, x.p.lon, nxt.p.lat, nxt.p.lon), nxt.ts - x.ts)):
            spikes.add(id(x))
    days: dict[date, VehicleDay] = defaultdict(lambda: VehicleDay(vehicle_id, date.min))
    prev_good: _Rec | None = None
    for x in recs:
        good = x.ok and id(x) not in spikes
        in_period = start <= x.p.device_time < end
        if in_period:
            vd = days[r.local_day(x.p.device_time)]
            vd.records += 1
            vd.qualified += good
            vd.drift_points += id(x) in spikes
            for name, bad in x.flags.items():
                setattr(vd, name, getattr(vd, name) + bad)
        if not good:
            continue
        q, prev_good = prev_good, x
        if not in_period or q is None or x.ts - q.ts > r.link_s:
            continue
        ds, dk = x.ts - q.ts, km(q.p.lat, q.p.lon, x.p.lat, x.p.lon)
        if _implausible(r, dk, ds):
            vd.jump_steps += 1
            continue
        vd.mileage_km += dk
        if ds <= r.max_gap_s:
            if dk <= r.max_step_km:
                vd.complete_km += dk
            if x.p.speed_kmh >= r.moving_kmh or q.p.speed_kmh >= r.moving_kmh:
                vd.running_s += ds
    out = []
    for d, vd in sorted(days.items()):
        vd.day = d
        out.append(vd)
    return out
