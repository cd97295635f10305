"""The part of a :class:`~icvcloud.model.Position` the rules read, kept per vehicle
in the reorder window (a Position with all its extras would cost several times more)."""

from __future__ import annotations

import math
from typing import Any

from icvcloud.model.records import Position

from .episodes import SampleKey
from .timeutil import to_us

#: Additional items the rules use: 0x11–0x13 (overspeed/area/section details of the
#: terminal's own alarms) and the active-safety items 0x64–0x67.
KEPT_EXTRAS = ("0x11", "0x12", "0x13", "0x64", "0x65", "0x66", "0x67")
SAFETY_ITEMS = ("0x64", "0x65", "0x66", "0x67")

_INF = math.inf


def _finite(v: Any) -> float:
    """A number, or NaN for anything that is not a finite one (the data-quality rule flags it)."""
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):
        return 0


class Sample:
    """One report as the rules see it; ``key`` ``(t, seq, item)`` orders a vehicle's reports.

    A plain slotted class rather than a dataclass: one is built per report, and the
    window compares keys, so the key is made once here."""

    __slots__ = ("alarm", "bad_time", "extras", "heading", "item", "key", "lat", "lon", "recv", "seq", "speed",
                 "status", "t")

    def __init__(self, t: int, seq: int, item: int, recv: int, lat: float, lon: float, speed: float, heading: int,
                 alarm: int, status: int, bad_time: bool = False, extras: dict[str, Any] | None = None) -> None:
        self.t = t  # device time, µs UTC
        self.seq = seq
        self.item = item
        self.recv = recv  # receive time, µs UTC
        self.lat = lat
        self.lon = lon
        self.speed = speed
        self.heading = heading
        self.alarm = alarm
        self.status = status
        self.bad_time = bad_time  # the terminal sent an impossible time (kept under its receive time)
        self.extras = extras
        self.key: SampleKey = (t, seq, item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sample) and self.row() == other.row()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Sample{self.row()!r}"

    def row(self) -> tuple[Any, ...]:
        """The fields in constructor order (what a snapshot keeps)."""
        return (self.t, self.seq, self.item, self.recv, self.lat, self.lon, self.speed, self.heading, self.alarm,
                self.status, self.bad_time, self.extras)

    @property
    def acc_on(self) -> bool:
        return bool(self.status & 1)

    @property
    def fixed(self) -> bool:
        return bool(self.status & 2)

    @classmethod
    def from_position(cls, p: Position) -> Sample:
        ex = p.extras
        kept: dict[str, Any] | None = None
        bad_time = False
        if ex:
            for k in KEPT_EXTRAS:
                v = ex.get(k)
                if v is not None:
                    if kept is None:
                        kept = {}
                    kept[k] = v
            bad_time = "invalid_device_time" in ex
        # The type checks are the common case's shortcut past the tolerant converters
        # (a decoded report always has these types; hand-made ones may not).
        lat, lon, speed = p.lat, p.lon, p.speed_kmh
        seq, item, heading, alarm, status = p.seq, p.item, p.heading_deg, p.alarm, p.status
        return cls(
            to_us(p.device_time),
            seq if type(seq) is int else _int(seq),
            item if type(item) is int else _int(item),
            to_us(p.received_at),
            lat if type(lat) is float and -_INF < lat < _INF else _finite(lat),
            lon if type(lon) is float and -_INF < lon < _INF else _finite(lon),
            speed if type(speed) is float and -_INF < speed < _INF else _finite(speed),
            heading if type(heading) is int else _int(heading),
            (alarm if type(alarm) is int else _int(alarm)) & 0xFFFFFFFF,
            (status if type(status) is int else _int(status)) & 0xFFFFFFFF,
            bad_time,
            kept,
        )
