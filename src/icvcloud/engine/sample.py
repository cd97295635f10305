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

#: A report as kept in a vehicle's window: :meth:`Sample.row`.
Row = tuple[int, int, int, int, float, float, float, int, int, int, bool, "dict[str, Any] | None"]


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
    """One report as the rules see it: the fields of its :data:`Row`, named.

    ``key`` ``(t, seq, item)`` orders a vehicle's reports; ``row`` is what the
    vehicle's window keeps (a tuple of plain values is cheaper to keep than this
    object, and the garbage collector leaves it alone). A plain slotted class
    rather than a dataclass: one is built per report."""

    __slots__ = ("alarm", "bad_time", "extras", "heading", "item", "key", "lat", "lon", "recv", "row", "seq", "speed",
                 "status", "t")

    t: int  # device time, µs UTC
    seq: int
    item: int
    recv: int  # receive time, µs UTC
    lat: float
    lon: float
    speed: float
    heading: int
    alarm: int
    status: int
    bad_time: bool  # the terminal sent an impossible time (kept under its receive time)
    extras: dict[str, Any] | None

    def __init__(self, row: Row) -> None:
        self.row = row
        (self.t, self.seq, self.item, self.recv, self.lat, self.lon, self.speed, self.heading, self.alarm, self.status,
         self.bad_time, self.extras) = row
        self.key: SampleKey = row[:3]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sample) and self.row == other.row

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Sample{self.row!r}"

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
        # (a decoded report always has these types; hand-made ones may not). ``x - x == 0``
        # holds for finite floats only.
        lat, lon, speed = p.lat, p.lon, p.speed_kmh
        seq, item, heading, alarm, status = p.seq, p.item, p.heading_deg, p.alarm, p.status
        return cls((
            to_us(p.device_time),
            seq if type(seq) is int else _int(seq),
            item if type(item) is int else _int(item),
            to_us(p.received_at),
            lat if type(lat) is float and lat - lat == 0.0 else _finite(lat),
            lon if type(lon) is float and lon - lon == 0.0 else _finite(lon),
            speed if type(speed) is float and speed - speed == 0.0 else _finite(speed),
            heading if type(heading) is int else _int(heading),
            (alarm if type(alarm) is int else _int(alarm)) & 0xFFFFFFFF,
            (status if type(status) is int else _int(status)) & 0xFFFFFFFF,
            bad_time,
            kept,
        ))
