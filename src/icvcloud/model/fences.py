"""Geofences and route corridors, as the platform stores and edits them.

Geometry is WGS-84 degrees, points as ``(lon, lat)``. A fence is also the carrier
of the rules that belong to a place: a speed limit, a road class (for the
per-vehicle-type limits: hazmat trucks 80 km/h on expressways), alarms on entry
and exit, a longest dwell, hours when the place is forbidden (Beijing local time),
whether stopping there is permitted, and — for corridors — whether vehicles it is
assigned to must stay inside it (route deviation). ``vehicle_types``, ``groups``,
``org_ids`` and ``vehicle_ids`` say which vehicles a fence applies to (all empty:
every vehicle).

:meth:`Fence.from_dict` / :meth:`Fence.to_dict` are the JSON/TOML form (see
docs/engine.md); ``from_dict`` rejects anything malformed with :class:`FenceError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

FenceKind = Literal["circle", "rectangle", "polygon", "corridor"]
FENCE_KINDS: tuple[str, ...] = ("circle", "rectangle", "polygon", "corridor")

#: Road classes a fence may declare (公路技术等级, plus urban streets). Overspeed looks
#: vehicle-type limits up by class; fatigue's 02:00–05:00 rule by the restricted classes.
ROAD_CLASSES: tuple[str, ...] = ("expressway", "class1", "class2", "class3", "class4", "urban", "mountain")

LonLat = tuple[float, float]

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class FenceError(ValueError):
    """A fence definition that cannot be used; the message says which field and why."""


def parse_hhmm(s: str) -> int:
    """``"HH:MM"`` → seconds after midnight (``"24:00"`` allowed as an end)."""
    m = _HHMM.match(s) if isinstance(s, str) else None
    if m is None:
        raise FenceError(f"time of day must be 'HH:MM', got {s!r}")
    h, mi = int(m.group(1)), int(m.group(2))
    if h == 24 and mi != 0:
        raise FenceError(f"time of day out of range: {s!r}")
    return h * 3600 + mi * 60


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily window of Beijing local time (UTC+8). ``end`` before ``start`` wraps
    past midnight (``22:00``–``06:00``); ``start == end`` is the whole day.
    ``weekdays``: ISO days (1 = Monday) on which the window *starts*; empty = every day."""

    start: str
    end: str
    weekdays: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        parse_hhmm(self.start)
        parse_hhmm(self.end)
        if self.start == "24:00":
            raise FenceError("a window cannot start at 24:00")
        for d in self.weekdays:
            if not isinstance(d, int) or not 1 <= d <= 7:
                raise FenceError(f"weekdays are 1 (Monday) to 7, got {d!r}")

    @property
    def start_s(self) -> int:
        return parse_hhmm(self.start)

    @property
    def end_s(self) -> int:
        return parse_hhmm(self.end)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.weekdays:
            d["weekdays"] = list(self.weekdays)
        return d

    @classmethod
    def from_any(cls, v: Any) -> TimeWindow:
        """From ``{"start", "end", "weekdays"?}`` or ``["HH:MM", "HH:MM"]``."""
        if isinstance(v, TimeWindow):
            return v
        if isinstance(v, Mapping):
            unknown = set(v) - {"start", "end", "weekdays"}
            if unknown:
                raise FenceError(f"time window: unknown keys {sorted(unknown)}")
            try:
                return cls(str(v["start"]), str(v["end"]), tuple(v.get("weekdays", ())))
            except KeyError as e:
                raise FenceError(f"time window needs {e.args[0]!r}") from None
        if isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2:
            return cls(str(v[0]), str(v[1]))
        raise FenceError(f"time window must be {{start, end}} or [start, end], got {v!r}")


@dataclass(frozen=True, slots=True)
class CorridorSection:
    """One section of a route corridor: a polyline, its full width, its own limit."""

    points: tuple[LonLat, ...]
    width_m: float
    speed_limit_kmh: float | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"points": [list(p) for p in self.points], "width_m": self.width_m}
        if self.speed_limit_kmh is not None:
            d["speed_limit_kmh"] = self.speed_limit_kmh
        if self.name:
            d["name"] = self.name
        return d


@dataclass(frozen=True, slots=True)
class Fence:
    """A geofence (circle, rectangle, polygon) or route corridor, and its rules.

    Geometry per kind: ``circle``: ``center`` + ``radius_m``; ``rectangle``: ``points``
    = two opposite corners; ``polygon``: ``points`` = the ring (closing point
    optional); ``corridor``: ``sections``, each a polyline with a width.
    """

    id: int
    name: str
    kind: FenceKind
    center: LonLat | None = None
    radius_m: float | None = None
    points: tuple[LonLat, ...] = ()
    sections: tuple[CorridorSection, ...] = ()
    # What the place means.
    speed_limit_kmh: float | None = None
    road_class: str | None = None
    alarm_on_enter: bool = False
    alarm_on_exit: bool = False
    max_dwell_s: float | None = None
    forbidden: tuple[TimeWindow, ...] = ()
    stop_permitted: bool = False
    #: Corridors only: vehicles the fence applies to must not be outside it for longer.
    deviation_after_s: float | None = None
    # Which vehicles (all empty: every vehicle).
    vehicle_types: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    org_ids: tuple[int, ...] = ()
    vehicle_ids: tuple[int, ...] = ()
    enabled: bool = True
    #: Free-form attributes kept for the console (colour, notes, the JT/T 808 area ID…).
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def applies_to(self, vehicle_id: int, org_id: int | None, vehicle_type: str, group: str | None) -> bool:
        return (
            (not self.vehicle_ids or vehicle_id in self.vehicle_ids)
            and (not self.vehicle_types or vehicle_type in self.vehicle_types)
            and (not self.org_ids or (org_id is not None and org_id in self.org_ids))
            and (not self.groups or (group is not None and group in self.groups))
        )

    # ---------------------------------------------------------------- JSON form

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "name": self.name, "kind": self.kind}
        if self.kind == "circle":
            assert self.center is not None
            d["center"] = list(self.center)
            d["radius_m"] = self.radius_m
        elif self.kind == "corridor":
            d["sections"] = [s.to_dict() for s in self.sections]
        else:
            d["points"] = [list(p) for p in self.points]
        for k in ("speed_limit_kmh", "road_class", "max_dwell_s", "deviation_after_s"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        for k in ("alarm_on_enter", "alarm_on_exit", "stop_permitted"):
            if getattr(self, k):
                d[k] = True
        if not self.enabled:
            d["enabled"] = False
        if self.forbidden:
            d["forbidden"] = [w.to_dict() for w in self.forbidden]
        for k in ("vehicle_types", "groups", "org_ids", "vehicle_ids"):
            v = getattr(self, k)
            if v:
                d[k] = list(v)
        if self.attributes:
            d["attributes"] = dict(self.attributes)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fence:
        """Parse and validate; raises :class:`FenceError` naming the fence and field."""
        if not isinstance(d, Mapping):
            raise FenceError(f"a fence must be an object, got {type(d).__name__}")
        label = f"fence {d.get('id', '?')!r}"
        try:
            return _fence_from_dict(d)
        except FenceError as e:
            raise FenceError(f"{label}: {e}") from None


_KEYS = frozenset({
    "id", "name", "kind", "center", "radius_m", "points", "sections", "speed_limit_kmh", "road_class",
    "alarm_on_enter", "alarm_on_exit", "max_dwell_s", "forbidden", "stop_permitted", "deviation_after_s",
    "vehicle_types", "groups", "org_ids", "vehicle_ids", "enabled", "attributes",
})


def _num(v: Any, what: str, *, positive: bool = False, allow_none: bool = False) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise FenceError(f"{what} must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise FenceError(f"{what} must be > 0, got {v!r}")
    return float(v)


def _lonlat(v: Any, what: str) -> LonLat:
    if isinstance(v, Mapping):
        v = (v.get("lon"), v.get("lat"))
    if not isinstance(v, Sequence) or isinstance(v, str) or len(v) != 2:
        raise FenceError(f"{what} must be [lon, lat], got {v!r}")
    lon = _num(v[0], f"{what} longitude")
    lat = _num(v[1], f"{what} latitude")
    assert lon is not None and lat is not None
    if not -180.0 <= lon <= 180.0 or not -90.0 <= lat <= 90.0:
        raise FenceError(f"{what} out of range: [{lon}, {lat}] (give [lon, lat] in degrees)")
    return (lon, lat)


def _points(v: Any, what: str, minimum: int) -> tuple[LonLat, ...]:
    if not isinstance(v, Sequence) or isinstance(v, str):
        raise FenceError(f"{what} must be a list of [lon, lat]")
    pts = tuple(_lonlat(p, f"{what}[{i}]") for i, p in enumerate(v))
    distinct = len(set(pts))
    if distinct < minimum:
        raise FenceError(f"{what} needs at least {minimum} distinct points, got {distinct}")
    return pts


def _str_tuple(v: Any, what: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise FenceError(f"{what} must be a list of strings")
    out = tuple(v)
    if not all(isinstance(x, str) for x in out):
        raise FenceError(f"{what} must be a list of strings")
    return out


def _int_tuple(v: Any, what: str) -> tuple[int, ...]:
    if v is None:
        return ()
    if isinstance(v, str) or not isinstance(v, Iterable):
        raise FenceError(f"{what} must be a list of integers")
    out = tuple(v)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in out):
        raise FenceError(f"{what} must be a list of integers")
    return out


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise FenceError(f"{what} must be true or false, got {v!r}")
    return v


def _fence_from_dict(d: Mapping[str, Any]) -> Fence:
    unknown = set(d) - _KEYS
    if unknown:
        raise FenceError(f"unknown keys {sorted(unknown)}")
    fid = d.get("id")
    if not isinstance(fid, int) or isinstance(fid, bool):
        raise FenceError("id must be an integer")
    name = d.get("name", "")
    if not isinstance(name, str):
        raise FenceError("name must be a string")
    kind = d.get("kind")
    if kind not in FENCE_KINDS:
        raise FenceError(f"kind must be one of {list(FENCE_KINDS)}, got {kind!r}")
    center: LonLat | None = None
    radius: float | None = None
    points: tuple[LonLat, ...] = ()
    sections: tuple[CorridorSection, ...] = ()
    if kind == "circle":
        center = _lonlat(d.get("center"), "center")
        radius = _num(d.get("radius_m"), "radius_m", positive=True)
    elif kind == "rectangle":
        points = _points(d.get("points"), "points", 2)
        if len(points) != 2:
            raise FenceError("a rectangle takes two opposite corners as points")
        (x0, y0), (x1, y1) = points
        if x0 == x1 or y0 == y1:
            raise FenceError("a rectangle's corners must differ in both longitude and latitude")
    elif kind == "polygon":
        points = _points(d.get("points"), "points", 3)
    else:
        raw = d.get("sections")
        if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise FenceError("a corridor needs sections: [{points, width_m, speed_limit_kmh?, name?}, …]")
        secs = []
        for i, s in enumerate(raw):
            if not isinstance(s, Mapping):
                raise FenceError(f"sections[{i}] must be an object")
            extra = set(s) - {"points", "width_m", "speed_limit_kmh", "name"}
            if extra:
                raise FenceError(f"sections[{i}]: unknown keys {sorted(extra)}")
            width = _num(s.get("width_m"), f"sections[{i}].width_m", positive=True)
            assert width is not None
            secs.append(CorridorSection(
                points=_points(s.get("points"), f"sections[{i}].points", 2),
                width_m=width,
                speed_limit_kmh=_num(s.get("speed_limit_kmh"), f"sections[{i}].speed_limit_kmh", positive=True,
                                     allow_none=True),
                name=str(s.get("name", "")),
            ))
        sections = tuple(secs)
    road_class = d.get("road_class")
    if road_class is not None and road_class not in ROAD_CLASSES:
        raise FenceError(f"road_class must be one of {list(ROAD_CLASSES)}, got {road_class!r}")
    deviation = _num(d.get("deviation_after_s"), "deviation_after_s", allow_none=True)
    if deviation is not None:
        if kind != "corridor":
            raise FenceError("deviation_after_s belongs to corridors")
        if deviation < 0:
            raise FenceError("deviation_after_s must be ≥ 0")
    forbidden_raw = d.get("forbidden", ())
    if not isinstance(forbidden_raw, Sequence) or isinstance(forbidden_raw, str):
        raise FenceError("forbidden must be a list of time windows")
    attributes = d.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise FenceError("attributes must be an object")
    return Fence(
        id=fid,
        name=name,
        kind=cast(FenceKind, kind),
        center=center,
        radius_m=radius,
        points=points,
        sections=sections,
        speed_limit_kmh=_num(d.get("speed_limit_kmh"), "speed_limit_kmh", positive=True, allow_none=True),
        road_class=road_class,
        alarm_on_enter=_bool(d.get("alarm_on_enter", False), "alarm_on_enter"),
        alarm_on_exit=_bool(d.get("alarm_on_exit", False), "alarm_on_exit"),
        max_dwell_s=_num(d.get("max_dwell_s"), "max_dwell_s", positive=True, allow_none=True),
        forbidden=tuple(TimeWindow.from_any(w) for w in forbidden_raw),
        stop_permitted=_bool(d.get("stop_permitted", False), "stop_permitted"),
        deviation_after_s=deviation,
        vehicle_types=_str_tuple(d.get("vehicle_types"), "vehicle_types"),
        groups=_str_tuple(d.get("groups"), "groups"),
        org_ids=_int_tuple(d.get("org_ids"), "org_ids"),
        vehicle_ids=_int_tuple(d.get("vehicle_ids"), "vehicle_ids"),
        enabled=_bool(d.get("enabled", True), "enabled"),
        attributes=dict(attributes),
    )


def fences_from_list(items: Iterable[Mapping[str, Any]]) -> list[Fence]:
    """Parse many; duplicate IDs are an error."""
    out: list[Fence] = []
    seen: set[int] = set()
    for i, d in enumerate(items):
        try:
            f = Fence.from_dict(d)
        except FenceError as e:
            raise FenceError(f"fences[{i}]: {e}") from None
        if f.id in seen:
            raise FenceError(f"fences[{i}]: duplicate fence id {f.id}")
        seen.add(f.id)
        out.append(f)
    return out
