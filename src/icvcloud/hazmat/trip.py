"""The trip of an electronic waybill, driven by the vehicle's position reports: a
pure state machine (no I/O, no clock of its own) with the findings it raises.

States (docs/hazmat.md, "Trip state machine")::

    planned ──inside loading site──▶ loading ──left it──▶ in_transit
    in_transit ──inside unloading site──▶ unloading
    unloading ──left it, or inside longer than complete_after_s──▶ completed

``cancelled`` is set elsewhere; a trip in ``completed`` or ``cancelled`` ignores
everything. A change is dated at the device time of the report that shows it (no
interpolation between reports; hazmat terminals report every ~10 s). Completion by
dwell is dated ``unloading entry + complete_after_s``, whether a report or a
:meth:`Trip.tick` finds it, so the outcome does not depend on when ticks come.

Findings, each at most once per episode:

* ``state_changed`` — details ``from``, ``to``, ``by`` (``report`` or ``dwell``);
* ``departure_without_loading`` — still ``planned`` (never inside the loading
  site), the departure window open, moving, and more than ``away_m`` farther from
  the loading site than the closest it came since the window opened. Once per trip;
* ``route_deviation`` — in ``in_transit``, reports farther from the approved
  route's polyline than half the corridor width for at least ``deviation_after_s``.
  Dated at the first report outside (details: ``detected_at``, ``distance_m``…).
  Back inside ends the episode; leaving again starts a new one;
* ``arrival_overdue`` — the latest planned arrival passed (by a report's device
  time or a tick's ``now``) while the trip was not yet ``unloading``/``completed``.
  Dated at ``arrival_until``; once per trip.

Order: reports are folded in device-time order. A report not newer than the last
one folded (late or duplicate) is ignored and counted in ``TripState.stale`` — it
changes no state and raises nothing; the engine's alarm rules, which re-fold late
data, remain the place for exact back-filled history.

Sites are geofences in the engine's JSON form and are tested with the engine's
compiled fences; the corridor distance is measured in the engine's local
equirectangular frame (:mod:`icvcloud.engine.geo`) about the route's centroid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import shapely

from icvcloud.engine.fenceindex import CompiledFence
from icvcloud.engine.geo import LocalFrame, distance_m
from icvcloud.model.fences import Fence
from icvcloud.model.hazmat import Site, Waybill

TripStateName = Literal["planned", "loading", "in_transit", "unloading", "completed", "cancelled"]
TRIP_STATES: tuple[str, ...] = ("planned", "loading", "in_transit", "unloading", "completed", "cancelled")
FindingKind = Literal["state_changed", "departure_without_loading", "route_deviation", "arrival_overdue"]
_CLOSED = ("completed", "cancelled")


@dataclass(frozen=True, slots=True)
class TripConfig:
    #: Outside the corridor at least this long (s) is a deviation.
    deviation_after_s: float = 120.0
    #: Inside the unloading site this long (s) completes the trip (None: only leaving does).
    complete_after_s: float | None = 4 * 3600.0
    #: Speed (km/h) from which a report counts as moving.
    moving_kmh: float = 5.0
    #: Moving this much (m) farther from the loading site than the closest seen is a departure.
    away_m: float = 1000.0


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report: device time (UTC, aware), WGS-84 degrees, speed."""

    t: datetime
    lon: float
    lat: float
    speed_kmh: float = 0.0


@dataclass(frozen=True, slots=True)
class TripFinding:
    waybill_id: int
    kind: FindingKind
    t: datetime  # device time (UTC)
    details: dict[str, Any] = field(default_factory=dict, hash=False)


def _ts(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


@dataclass(slots=True)
class TripState:
    """Everything the trip remembers; :meth:`to_dict` is JSON for checkpoints."""

    state: str = "planned"
    #: Device time of the last report folded in.
    last_t: datetime | None = None
    #: Reports ignored because not newer than ``last_t``.
    stale: int = 0
    #: When each state was entered.
    entered: dict[str, datetime] = field(default_factory=dict)
    #: Closest distance (m) to the loading site since the departure window opened (state planned).
    closest_m: float | None = None
    departure_flagged: bool = False
    overdue_flagged: bool = False
    #: The current deviation episode: first report outside, and whether it was told.
    out_since: datetime | None = None
    out_told: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "last_t": _ts(self.last_t), "stale": self.stale,
                "entered": {k: v.isoformat() for k, v in self.entered.items()}, "closest_m": self.closest_m,
                "departure_flagged": self.departure_flagged, "overdue_flagged": self.overdue_flagged,
                "out_since": _ts(self.out_since), "out_told": self.out_told}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TripState:
        if d.get("state") not in TRIP_STATES:
            raise ValueError(f"unknown trip state {d.get('state')!r}")
        closest = d.get("closest_m")
        return cls(state=d["state"], last_t=_dt(d.get("last_t")), stale=int(d.get("stale", 0)),
                   entered={k: datetime.fromisoformat(v) for k, v in d.get("entered", {}).items()},
                   closest_m=None if closest is None else float(closest),
                   departure_flagged=bool(d.get("departure_flagged", False)),
                   overdue_flagged=bool(d.get("overdue_flagged", False)),
                   out_since=_dt(d.get("out_since")), out_told=bool(d.get("out_told", False)))


def _site_fence(s: Site) -> CompiledFence:
    return CompiledFence(Fence.from_dict({**s.area, "id": 0, "name": s.name}))


class Trip:
    """A waybill's trip: geometry compiled from the waybill, and its :class:`TripState`."""

    def __init__(self, waybill: Waybill, config: TripConfig | None = None, state: TripState | None = None) -> None:
        self.waybill = waybill
        self.config = config or TripConfig()
        self.state = state if state is not None else TripState(state=waybill.state)
        self._origin = _site_fence(waybill.origin)
        self._destination = _site_fence(waybill.destination)
        pts = waybill.route
        self._frame = LocalFrame(sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        self._line = shapely.LineString([self._frame.to_xy(lo, la) for lo, la in pts])
        shapely.prepare(self._line)

    # ------------------------------------------------------------------ geometry

    def corridor_distance_m(self, lon: float, lat: float) -> float:
        """Metres from the approved route's polyline."""
        x, y = self._frame.to_xy(lon, lat)
        return float(shapely.distance(self._line, shapely.Point(x, y)))

    def _origin_distance_m(self, lon: float, lat: float) -> float:
        c = self._origin.fence.center if self._origin.fence.center is not None else self._origin.centre
        return distance_m(c[0], c[1], lon, lat)

    # ------------------------------------------------------------------ driving

    def report(self, fix: Fix) -> list[TripFinding]:
        """Fold one report in; the findings it causes, in time order."""
        st = self.state
        if st.state in _CLOSED:
            return []
        if st.last_t is not None and fix.t <= st.last_t:
            st.stale += 1
            return []
        st.last_t = fix.t
        out: list[TripFinding] = []
        self._deadlines(fix.t, out)
        if st.state in _CLOSED:
            return out
        in_origin = self._origin.contains(fix.lon, fix.lat)
        in_destination = self._destination.contains(fix.lon, fix.lat)
        if st.state == "planned":
            if in_origin:
                self._change("loading", fix.t, out)
            else:
                self._departure(fix, out)
        elif st.state == "loading":
            if not in_origin:
                self._change("in_transit", fix.t, out)
                self._deviation(fix, out)
        elif st.state == "in_transit":
            if in_destination:
                self._change("unloading", fix.t, out)
            else:
                self._deviation(fix, out)
        elif st.state == "unloading" and not in_destination:
            self._change("completed", fix.t, out)
        return out

    def tick(self, now: datetime) -> list[TripFinding]:
        """Time-driven findings: overdue arrival and completion by dwell, due by ``now``
        (UTC, the clock of device times)."""
        out: list[TripFinding] = []
        if self.state.state not in _CLOSED:
            self._deadlines(now, out)
        return out

    # ------------------------------------------------------------------ pieces

    def _finding(self, kind: FindingKind, t: datetime, details: dict[str, Any]) -> TripFinding:
        return TripFinding(self.waybill.id, kind, t, details)

    def _change(self, to: str, t: datetime, out: list[TripFinding], by: str = "report") -> None:
        st = self.state
        out.append(self._finding("state_changed", t, {"from": st.state, "to": to, "by": by}))
        st.state = to
        st.entered[to] = t
        st.out_since, st.out_told = None, False

    def _deadlines(self, now: datetime, out: list[TripFinding]) -> None:
        """What became due by ``now``, judged on the state before the report at ``now``."""
        st, w, cfg = self.state, self.waybill, self.config
        if not st.overdue_flagged and now > w.arrival_until and st.state in ("planned", "loading", "in_transit"):
            st.overdue_flagged = True
            out.append(self._finding("arrival_overdue", w.arrival_until,
                                     {"state": st.state, "arrival_until": w.arrival_until.isoformat()}))
        if st.state == "unloading" and cfg.complete_after_s is not None:
            due = st.entered["unloading"] + timedelta(seconds=cfg.complete_after_s)
            if now >= due:
                self._change("completed", due, out, by="dwell")

    def _departure(self, fix: Fix, out: list[TripFinding]) -> None:
        st, cfg = self.state, self.config
        if st.departure_flagged or fix.t < self.waybill.departure_from:
            return
        d = self._origin_distance_m(fix.lon, fix.lat)
        if st.closest_m is None or d < st.closest_m:
            st.closest_m = d
        if fix.speed_kmh >= cfg.moving_kmh and d - st.closest_m > cfg.away_m:
            st.departure_flagged = True
            out.append(self._finding("departure_without_loading", fix.t,
                                     {"distance_m": round(d, 1), "closest_m": round(st.closest_m, 1),
                                      "lon": fix.lon, "lat": fix.lat}))

    def _deviation(self, fix: Fix, out: list[TripFinding]) -> None:
        st, cfg = self.state, self.config
        d = self.corridor_distance_m(fix.lon, fix.lat)
        if d <= self.waybill.corridor_m / 2:
            st.out_since, st.out_told = None, False
            return
        if st.out_since is None:
            st.out_since = fix.t
        if not st.out_told and (fix.t - st.out_since).total_seconds() >= cfg.deviation_after_s:
            st.out_told = True
            out.append(self._finding("route_deviation", st.out_since,
                                     {"detected_at": fix.t.isoformat(), "distance_m": round(d, 1),
                                      "corridor_m": self.waybill.corridor_m, "grace_s": cfg.deviation_after_s,
                                      "lon": fix.lon, "lat": fix.lat}))
