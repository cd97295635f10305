"""Building reports and reading the engine's output in tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.engine import Engine, VehicleContext
from icvcloud.engine.geo import LocalFrame
from icvcloud.model.alarms import AlarmEvent
from icvcloud.model.records import Position

#: A Beijing-time clock for readable tests: bj(2024, 5, 1, 22, 0) is 22:00 in Beijing.
BJ = timedelta(hours=8)
ZIBO = (118.05, 36.81)  # lon, lat
FRAME = LocalFrame(*ZIBO)
ACC_FIX = 0b11  # status: ACC on, positioned


def bj(*args: int) -> datetime:
    return (datetime(*args) - BJ).replace(tzinfo=UTC)  # type: ignore[misc]


T0 = bj(2024, 5, 6, 8, 0)  # a Monday, 08:00 Beijing


def at_xy(x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of a point x metres east, y metres north of Zibo's centre."""
    return FRAME.to_lonlat(x_m, y_m)


def pos(t: datetime | float, lon: float = ZIBO[0], lat: float = ZIBO[1], speed: float = 0.0, *,
        device: str = "13800000001", seq: int | None = None, item: int = 0, alarm: int = 0,
        status: int = ACC_FIX, extras: dict[str, Any] | None = None, received: datetime | None = None,
        backfill: bool = False) -> Position:
    """A report; ``t`` is a datetime or seconds after :data:`T0`."""
    dt = t if isinstance(t, datetime) else T0 + timedelta(seconds=t)
    return Position(device_id=device, device_time=dt, seq=seq if seq is not None else int(dt.timestamp()) % 65536,
                    received_at=received or dt + timedelta(seconds=1), lat=lat, lon=lon, speed_kmh=speed,
                    alarm=alarm, status=status, item=item, backfill=backfill, extras=extras or {})


def vehicle(vid: int = 1, vtype: str = "other", **kw: Any) -> VehicleContext:
    return VehicleContext(vehicle_id=vid, device_id=f"1380000{vid:04d}", org_id=kw.pop("org_id", 10),
                          vehicle_type=vtype, **kw)


def run(engine: Engine, v: VehicleContext, reports: Iterable[Position]) -> list[AlarmEvent]:
    out: list[AlarmEvent] = []
    for p in reports:
        out += engine.process(v, p)
    return out


@dataclass
class Final:
    """An episode as a consumer upserting events by key ends up with it."""

    key: str
    alarm_type: str
    start: datetime
    end: datetime | None
    severity: int
    lat: float | None
    lon: float | None
    details: dict[str, Any]
    phase: str

    def ident(self) -> tuple[Any, ...]:
        """What must not depend on arrival order: everything of a closed episode;
        of an open one, what is told while open (details are told with its end)."""
        closed = self.phase in ("end", "instant")
        return (self.key, self.alarm_type, self.start, self.end, self.severity, self.lat, self.lon,
                json.dumps(self.details, sort_keys=True, default=str) if closed else None)


def fold_events(events: Iterable[AlarmEvent]) -> dict[str, Final]:
    out: dict[str, Final] = {}
    for e in events:
        if e.retracted:
            out.pop(e.key, None)
            continue
        out[e.key] = Final(e.key, e.alarm_type, e.start_time, e.end_time, int(e.severity), e.lat, e.lon,
                           dict(e.details), e.phase)
    return out


def of_type(events: Iterable[AlarmEvent] | dict[str, Final], alarm_type: str) -> list[Any]:
    vals = events.values() if isinstance(events, dict) else events
    return [e for e in vals if e.alarm_type == alarm_type]


def drive(start_s: float, duration_s: float, interval_s: float, speed: float, *, lon: float = ZIBO[0],
          lat: float = ZIBO[1], east_mps: float | None = None, **kw: Any) -> list[Position]:
    """Reports every ``interval_s`` from ``start_s`` for ``duration_s`` (inclusive of both
    ends) at ``speed``, moving east at that speed unless ``east_mps`` says otherwise."""
    out = []
    frame = LocalFrame(lon, lat)
    v = speed / 3.6 if east_mps is None else east_mps
    n = int(duration_s // interval_s)
    for i in range(n + 1):
        t = start_s + i * interval_s
        lo, la = frame.to_lonlat(v * (t - start_s), 0.0)
        out.append(pos(t, lo, la, speed, **kw))
    return out


def shuffled_with_bounded_lateness(items: Sequence[Any], rng: random.Random, max_late: int) -> list[Any]:
    """A random arrival order in which no item comes more than ``max_late`` places
    after where it belongs."""
    keyed = sorted((i + rng.uniform(0, max_late), i) for i in range(len(items)))
    return [items[i] for _, i in keyed]


def along(speeds: Sequence[float], interval_s: float = 10.0, *, start_s: float = 0.0, x0: float = 0.0,
          y0: float = 0.0, heading_deg: float = 90.0, **kw: Any) -> list[Position]:
    """Reports ``interval_s`` apart with these speeds, moving along ``heading_deg``
    (90 = east) by the distance the speeds imply."""
    import math

    out = []
    x, y = x0, y0
    ux, uy = math.sin(math.radians(heading_deg)), math.cos(math.radians(heading_deg))
    for i, v in enumerate(speeds):
        if i:
            d = speeds[i - 1] / 3.6 * interval_s
            x, y = x + ux * d, y + uy * d
        lon, lat = at_xy(x, y)
        out.append(pos(start_s + i * interval_s, lon, lat, v, **kw))
    return out


def corridor(fid: int, x0: float, x1: float, y: float = 0.0, width_m: float = 100.0, **kw: Any) -> Any:
    from icvcloud.model.fences import CorridorSection, Fence

    return Fence(id=fid, name=f"corridor {fid}", kind="corridor",
                 sections=(CorridorSection((at_xy(x0, y), at_xy(x1, y)), width_m),), **kw)


def square(fid: int, cx: float, cy: float, half_m: float, kind: str = "polygon", **kw: Any) -> Any:
    from icvcloud.model.fences import Fence

    corners = [(cx - half_m, cy - half_m), (cx + half_m, cy - half_m), (cx + half_m, cy + half_m),
               (cx - half_m, cy + half_m)]
    if kind == "rectangle":
        return Fence(id=fid, name=f"rect {fid}", kind="rectangle", points=(at_xy(*corners[0]), at_xy(*corners[2])),
                     **kw)
    return Fence(id=fid, name=f"square {fid}", kind="polygon", points=tuple(at_xy(x, y) for x, y in corners), **kw)


def circle(fid: int, cx: float, cy: float, radius_m: float, **kw: Any) -> Any:
    from icvcloud.model.fences import Fence

    return Fence(id=fid, name=f"circle {fid}", kind="circle", center=at_xy(cx, cy), radius_m=radius_m, **kw)


def timeline(segments: Sequence[tuple[float, float]], every_s: float = 30.0, *, start: datetime = T0,
             lon: float = ZIBO[0], lat: float = ZIBO[1], **kw: Any) -> list[Position]:
    """Reports every ``every_s`` through ``[(duration_s, speed_kmh), …]`` from ``start``,
    at one place (the fatigue rule reads speeds and times only), plus a closing
    report at the end with the last segment's speed."""
    out = []
    t = 0.0
    for dur, speed in segments:
        n = max(1, round(dur / every_s))
        for i in range(n):
            out.append(pos(start + timedelta(seconds=t + i * dur / n), lon, lat, speed, **kw))
        t += dur
    out.append(pos(start + timedelta(seconds=t), lon, lat, segments[-1][1], **kw))
    return out


H = 3600.0
M = 60.0
