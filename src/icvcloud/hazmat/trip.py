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
  Back inside (or the trip leaving ``in_transit``) ends the episode (phase ``end``,
  same start); leaving again starts a new one;
* ``escort_absent`` — the waybill names an escort, the trip is ``in_transit`` and
  the escort has not been present for ``escort_grace_s``: never checked in (IC card
  0x0702 or manual check-in, at most ``checkin_lead_s`` before the departure window)
  since the departure, or their card removed. Dated at the departure (or the removal); a
  check-in ends it (phase ``end``); leaving ``in_transit`` ends it too;
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
FindingKind = Literal["state_changed", "departure_without_loading", "route_deviation", "arrival_overdue",
                      "escort_absent"]
FindingPhase = Literal["start", "end", "instant"]
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
    #: Whether a waybill's escort must be present (checked in) while in transit.
    escort_check: bool = True
    #: In transit this long (s) without the escort present is a finding.
    escort_grace_s: float = 300.0
    #: Check-ins this long (s) before the departure window opens still count.
    checkin_lead_s: float = 12 * 3600.0


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
    t: datetime  # device time (UTC); an episode's start, also on its end
    details: dict[str, Any] = field(default_factory=dict, hash=False)
    phase: FindingPhase = "instant"
    #: An ending episode's end time.
    end: datetime | None = None


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
    #: The escort's presence changes (time, present), in time order.
    escort: list[tuple[datetime, bool]] = field(default_factory=list)
    #: The open escort-absent episode's start.
    escort_absent_since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "last_t": _ts(self.last_t), "stale": self.stale,
                "entered": {k: v.isoformat() for k, v in self.entered.items()}, "closest_m": self.closest_m,
                "departure_flagged": self.departure_flagged, "overdue_flagged": self.overdue_flagged,
                "out_since": _ts(self.out_since), "out_told": self.out_told,
                "escort": [[t.isoformat(), p] for t, p in self.escort],
                "escort_absent_since": _ts(self.escort_absent_since)}

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
                   out_since=_dt(d.get("out_since")), out_told=bool(d.get("out_told", False)),
                   escort=[(datetime.fromisoformat(t), bool(p)) for t, p in d.get("escort", [])],
                   escort_absent_since=_dt(d.get("escort_absent_since")))


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
        self._escort(fix.t, out)
        return out

    def tick(self, now: datetime) -> list[TripFinding]:
        """Time-driven findings: overdue arrival and completion by dwell, due by ``now``
        (UTC, the clock of device times)."""
        out: list[TripFinding] = []
        if self.state.state not in _CLOSED:
            self._deadlines(now, out)
            self._escort(now, out)
        return out

    def presence(self, t: datetime, present: bool) -> list[TripFinding]:
        """The escort checked in (``present``) or their card was removed, at ``t``.
        Check-ins may come late (a manual one is learnt at the next reload): an open
        absence that a check-in before now covers ends at the check-in's time."""
        st = self.state
        if st.state in _CLOSED:
            return []
        if t < self.waybill.departure_from - timedelta(seconds=self.config.checkin_lead_s):
            return []  # an earlier trip's
        if (t, present) in st.escort:
            return []
        st.escort.append((t, present))
        st.escort.sort(key=lambda e: e[0])
        out: list[TripFinding] = []
        if present and st.escort_absent_since is not None:
            self._end_escort(max(t, st.escort_absent_since), out)
        return out

    # ------------------------------------------------------------------ pieces

    def _finding(self, kind: FindingKind, t: datetime, details: dict[str, Any],
                 phase: FindingPhase = "instant", end: datetime | None = None) -> TripFinding:
        return TripFinding(self.waybill.id, kind, t, details, phase, end)

    def _change(self, to: str, t: datetime, out: list[TripFinding], by: str = "report") -> None:
        st = self.state
        if st.out_told and st.out_since is not None:
            out.append(self._finding("route_deviation", st.out_since, {"ended_by": to}, "end", t))
        if st.escort_absent_since is not None:
            self._end_escort(t, out)
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
            due = st.entered.get("unloading", self.waybill.arrival_from) + timedelta(seconds=cfg.complete_after_s)
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
            if st.out_told and st.out_since is not None:
                out.append(self._finding("route_deviation", st.out_since, {"distance_m": round(d, 1)}, "end",
                                         fix.t))
            st.out_since, st.out_told = None, False
            return
        if st.out_since is None:
            st.out_since = fix.t
        if not st.out_told and (fix.t - st.out_since).total_seconds() >= cfg.deviation_after_s:
            st.out_told = True
            out.append(self._finding("route_deviation", st.out_since,
                                     {"detected_at": fix.t.isoformat(), "distance_m": round(d, 1),
                                      "corridor_m": self.waybill.corridor_m, "grace_s": cfg.deviation_after_s,
                                      "lon": fix.lon, "lat": fix.lat}, "start"))

    def _escort_present(self, at: datetime) -> tuple[bool, datetime | None]:
        """Whether the escort is present at ``at``, and since when they are not (their
        card's removal; None: never checked in)."""
        present, since = False, None
        for t, p in self.state.escort:
            if t > at:
                break
            present, since = p, (None if p else t)
        return present, since

    def _escort(self, now: datetime, out: list[TripFinding]) -> None:
        st, cfg = self.state, self.config
        if not cfg.escort_check or self.waybill.escort_id is None or st.state != "in_transit":
            return
        if st.escort_absent_since is not None:
            return
        departed = st.entered.get("in_transit", self.waybill.departure_from)
        present, since = self._escort_present(now)
        absent_since = max(departed, since) if since is not None else departed
        if present or (now - absent_since).total_seconds() < cfg.escort_grace_s:
            return
        st.escort_absent_since = absent_since
        out.append(self._finding("escort_absent", st.escort_absent_since,
                                 {"escort_id": self.waybill.escort_id, "grace_s": cfg.escort_grace_s,
                                  "card_removed": since is not None}, "start"))

    def _end_escort(self, t: datetime, out: list[TripFinding]) -> None:
        st = self.state
        assert st.escort_absent_since is not None
        out.append(self._finding("escort_absent", st.escort_absent_since, {"escort_id": self.waybill.escort_id},
                                 "end", t))
        st.escort_absent_since = None
