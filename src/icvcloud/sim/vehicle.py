# ruff: noqa: PLR1730  (plain ifs, not min()/max() calls, in the per-step hot path)
"""A deterministic kinematic vehicle: one point moving along routes of a RoadNetwork.

No car following and no junction interaction (that is what SUMO is for, see
docs/simulation.md): the model only has to produce plausible GNSS tracks. Per step
the speed moves towards a target with bounded acceleration and braking; the target
is the road limit (capped by the vehicle type) times the driver's preference, and
is lowered so the vehicle can still brake in time for the next stop (bus stop,
traffic light, work stop, route end), turn or lower limit ahead. All randomness
comes from the vehicle's own seeded ``random.Random``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .identity import seeded
from .roads import RoadNetwork
from .route import Route

#: Steps longer than this are split (a stalled event loop must not let vehicles jump).
MAX_STEP_S = 1.0
#: Dwells at least this long switch the engine off (ACC off in the reports).
ENGINE_OFF_AFTER_S = 120.0
SIGNAL_PROBABILITY = 0.35
SIGNAL_DWELL_S = (10.0, 60.0)
#: Stops closer than this to the previous one are merged into it.
MIN_STOP_GAP_M = 15.0


@dataclass(frozen=True, slots=True)
class VehicleProfile:
    """How one vehicle type drives and where it goes."""

    vehicle_type: str
    cap_kmh: float  # the type's own maximum off expressways
    cap_expressway_kmh: float
    accel_ms2: float
    decel_ms2: float
    desire: tuple[float, float]  # fraction of the permitted speed the driver aims for
    tank_l: float
    consumption_l_per_100km: float
    idle_l_per_h: float
    depot_dwell_s: tuple[float, float]
    #: "loop" (a fixed line), "local" (within a district), "any", "intercity" (to another district)
    route_kind: str
    route_length_m: tuple[float, float]
    stop_spacing_m: tuple[float, float] | None = None  # bus stops or work stops along the way
    stop_dwell_s: tuple[float, float] = (0.0, 0.0)
    stop_kind: str = "stop"
    overspeed_per_h: float = 0.0  # deliberate episodes per hour of driving
    overspeed_factor: tuple[float, float] = (1.0, 1.0)
    overspeed_s: tuple[float, float] = (0.0, 0.0)
    plate_colour: int = 1  # JT/T 808 plate colour: 1 blue, 2 yellow


PROFILES: dict[str, VehicleProfile] = {
    # Dangerous goods: 60 km/h on ordinary roads, 80 on expressways (the transport
    # rules), with occasional overspeed episodes so alarm rules have work to do.
    "hazmat_tanker": VehicleProfile(
        "hazmat_tanker", 60, 80, 1.0, 2.5, (0.85, 1.0), 300, 35, 2.0, (600, 1800), "any", (5000, 60000),
        overspeed_per_h=2.0, overspeed_factor=(1.1, 1.25), overspeed_s=(30, 120), plate_colour=2),
    "coach": VehicleProfile(
        "coach", 80, 100, 1.2, 2.5, (0.85, 1.0), 250, 25, 2.5, (600, 1800), "intercity", (10000, 120000),
        plate_colour=2),
    "bus": VehicleProfile(
        "bus", 50, 60, 1.5, 2.5, (0.75, 0.95), 200, 30, 3.0, (180, 480), "loop", (6000, 20000),
        stop_spacing_m=(400, 600), stop_dwell_s=(20, 40), stop_kind="bus_stop", plate_colour=1),
    "sanitation": VehicleProfile(
        "sanitation", 30, 30, 1.0, 2.5, (0.35, 1.0), 150, 40, 2.0, (600, 1800), "local", (2000, 10000),
        stop_spacing_m=(150, 400), stop_dwell_s=(10, 60), stop_kind="work", plate_colour=2),
}

VEHICLE_TYPES = tuple(PROFILES)


def turn_speed_ms(turn_deg: float) -> float:
    """Speed to slow to for a change of heading (a U-turn is taken at walking pace)."""
    if turn_deg >= 150:
        return 3.0
    if turn_deg >= 75:
        return 6.0
    if turn_deg >= 45:
        return 10.0
    return 16.0


class Vehicle:
    """One vehicle. ``step(now_s)`` advances it to ``now_s`` (seconds on any clock
    that only moves forward; the fleet uses Unix time)."""

    __slots__ = (
        "_accel",
        "_b_plan",
        "_cons",
        "_decel",
        "_desire",
        "_dwell_left",
        "_eff",
        "_i",
        "_idle_l_per_s",
        "_kc",
        "_ks",
        "_l_per_m",
        "_over",
        "_over_left",
        "_over_rate",
        "_stop_s",
        "_stops",
        "_t",
        "_v",
        "acc_on",
        "bus_stops_s",
        "district",
        "fuel_l",
        "line",
        "mileage_km",
        "network",
        "profile",
        "rng",
        "route",
        "s",
        "stop_kind",
        "vehicle_type",
        "x_m",
        "y_m",
    )

    def __init__(
        self,
        network: RoadNetwork,
        vehicle_type: str = "bus",
        *,
        seed: int | str | random.Random = 0,
        profile: VehicleProfile | None = None,
        district: str | None = None,
        start_s: float | None = None,
        t0_s: float | None = None,
    ) -> None:
        self.network = network
        self.profile = p = profile or PROFILES[vehicle_type]
        self.vehicle_type = p.vehicle_type
        self.rng = rng = seeded(seed)
        self._accel = p.accel_ms2
        self._decel = p.decel_ms2
        # Plan braking below the vehicle's limit, so a discrete step never needs more.
        self._b_plan = p.decel_ms2 * 0.8
        self._l_per_m = p.consumption_l_per_100km / 100_000.0
        self._idle_l_per_s = p.idle_l_per_h / 3600.0
        self._over = 1.0
        self._over_left = 0.0
        self._over_rate = p.overspeed_per_h / 3600.0
        self._desire = rng.uniform(*p.desire)
        self._dwell_left = 0.0
        self._t: float | None = t0_s
        self._v = 0.0
        self.stop_kind: str | None = None
        self.acc_on = True
        self.mileage_km = round(rng.uniform(5_000, 300_000), 1)
        self.fuel_l = p.tank_l * rng.uniform(0.4, 1.0)
        self.district = district if district is not None else self._pick_district()
        self.bus_stops_s: list[float] = []
        self.line: Route | None = None
        if p.route_kind == "loop":
            lo, hi = p.route_length_m
            self.line = network.loop_route(rng, district=self.district, min_length_m=lo, max_length_m=hi)
            route = self.line
            self.bus_stops_s = self._spaced_stops(route)
        else:
            route = self._new_route(None)
        self.route = route
        s0 = rng.uniform(0.0, 0.9 * route.length_m) if start_s is None else min(max(0.0, start_s), route.length_m)
        self._start(route, s0)

    # ------------------------------------------------------------ planning

    def _pick_district(self) -> str:
        by = self.network.depots_by_district
        names = sorted(d for d in by if d and len(by[d]) >= 3)
        if not names:
            return ""
        return self.rng.choices(names, weights=[len(by[d]) for d in names])[0]

    def _new_route(self, origin: int | None) -> Route:
        p, net, rng = self.profile, self.network, self.rng
        lo, hi = p.route_length_m
        if p.route_kind == "loop":
            assert self.line is not None
            return self.line
        if p.route_kind == "local":
            return net.random_route(rng, origin=origin, district=self.district or None, min_length_m=lo,
                                    max_length_m=hi)
        return net.random_route(rng, origin=origin, min_length_m=lo, max_length_m=hi,
                                leave_district=p.route_kind == "intercity")

    def _spaced_stops(self, route: Route) -> list[float]:
        spacing = self.profile.stop_spacing_m
        if spacing is None:
            return []
        out = []
        s = self.rng.uniform(*spacing) / 2
        while s < route.length_m - 100.0:
            out.append(s)
            s += self.rng.uniform(*spacing)
        return out

    def _start(self, route: Route, s0: float) -> None:
        """Begin driving ``route`` from ``s0``: effective limits, stops and speed points."""
        p, rng = self.profile, self.rng
        self.route = route
        cap, cap_x = p.cap_kmh / 3.6, p.cap_expressway_kmh / 3.6
        eff = [min(lim, cap_x if x else cap) for lim, x in zip(route.limit_ms, route.expressway, strict=True)]
        self._eff = eff
        cons: list[tuple[float, float]] = []
        for i in range(1, len(eff)):
            if eff[i] < eff[i - 1] and route.seg_start[i] > s0:
                cons.append((route.seg_start[i], eff[i]))
        cons += [(s, turn_speed_ms(deg)) for s, deg in route.turns if s > s0]
        cons.sort()
        self._cons = cons
        self._kc = 0
        kind = p.stop_kind
        planned: list[tuple[float, float, str]] = []
        if p.route_kind == "loop":
            planned = [(s, rng.uniform(*p.stop_dwell_s), kind) for s in self.bus_stops_s if s > s0]
        elif p.stop_spacing_m is not None:
            planned = [(s0 + s, rng.uniform(*p.stop_dwell_s), kind) for s in self._spaced_stops(route)
                       if s0 + s < route.length_m - 100.0]
        marks = [s for s, _, _ in planned] + [route.length_m]
        for s, _, signal in route.junctions:
            # A light right at a stop is folded into the stop: the vehicle halts once.
            if signal and s > s0 + 1.0 and rng.random() < SIGNAL_PROBABILITY \
                    and all(abs(s - m) >= MIN_STOP_GAP_M for m in marks):
                planned.append((s, rng.uniform(*SIGNAL_DWELL_S), "signal"))
        kept = sorted(st for st in planned if st[0] > s0 + 1.0)
        kept.append((route.length_m, rng.uniform(*p.depot_dwell_s), "depot"))
        self._stops = kept
        self._ks = 0
        self._stop_s = kept[0][0]
        self.s = s0
        self._i = i = route.segment_at(s0)
        off = s0 - route.seg_start[i]
        self.x_m = route.x0[i] + route.ux[i] * off
        self.y_m = route.y0[i] + route.uy[i] * off

    def begin(self, route: Route) -> None:
        """Drive ``route`` from its start (the demo gives such whole trips e-waybills)."""
        self._dwell_left = 0.0
        self.stop_kind = None
        self.acc_on = True
        self._start(route, 0.0)

    # ------------------------------------------------------------ stepping

    def step(self, now_s: float) -> None:
        t = self._t
        self._t = now_s
        if t is None or now_s <= t:
            return
        dt = now_s - t
        while dt > 1e-9:
            h = dt if dt <= MAX_STEP_S else MAX_STEP_S
            self._advance(h)
            dt -= h

    def _advance(self, h: float) -> None:
        if self._dwell_left > 0.0:
            if self._dwell_left > h:
                self._dwell_left -= h
                if self.acc_on:
                    self.fuel_l = max(0.0, self.fuel_l - self._idle_l_per_s * h)
                return
            h -= self._dwell_left
            self._dwell_left = 0.0
            self._depart()
            if h <= 1e-9:
                return
        r = self.route
        i = self._i
        s = self.s
        v = self._v
        eff = self._eff[i]
        if self._over_rate > 0.0:
            self._overspeed(h, v, eff)
        over = self._over
        hard = eff * over
        soft = hard * self._desire
        # Highest speed from which the vehicle can still slow to cv by position cs,
        # allowing for this step's travel at that speed: v² + 2·b·h·v ≤ cv² + 2·b·d.
        b = self._b_plan
        bh = b * h
        horizon = s + v * v / (2.0 * b) + v * h + 30.0
        cons = self._cons
        n = len(cons)
        j = self._kc
        while j < n:
            cs, cv = cons[j]
            if cs > horizon:
                break
            cv *= over
            vs = math.sqrt(bh * bh + cv * cv + 2.0 * b * max(cs - s, 0.0)) - bh
            if vs < hard:
                hard = vs
            j += 1
        stop_s = self._stop_s
        if stop_s <= horizon:
            vs = math.sqrt(bh * bh + 2.0 * b * max(stop_s - s, 0.0)) - bh
            if vs < hard:
                hard = vs
        if soft > hard:
            soft = hard
        if v < soft:
            v += self._accel * h
            if v > soft:
                v = soft
        else:
            v -= self._decel * h
            if v < soft:
                v = soft
        if v > hard:
            v = hard
        ds = v * h
        arrived = s + ds >= stop_s - 0.5
        if arrived:
            ds = max(stop_s - s, 0.0)
            s = stop_s
            v = 0.0
        else:
            s += ds
        seg_end = r.seg_end
        last = len(seg_end) - 1
        while i < last and s > seg_end[i]:
            i += 1
        off = s - r.seg_start[i]
        self.x_m = r.x0[i] + r.ux[i] * off
        self.y_m = r.y0[i] + r.uy[i] * off
        self.s = s
        self._v = v
        self._i = i
        k = self._kc
        while k < n and cons[k][0] <= s:
            k += 1
        self._kc = k
        if ds > 0.0:
            self.mileage_km += ds / 1000.0
            self.fuel_l = max(0.0, self.fuel_l - ds * self._l_per_m)
        if arrived:
            self._arrive()

    def _overspeed(self, h: float, v: float, eff: float) -> None:
        """Start, run and end a deliberate overspeed episode (hazmat)."""
        if self._over_left > 0.0:
            self._over_left -= h
        elif self._over > 1.0:
            # Episode over: brake back to the limit at the normal rate, then stop flagging.
            self._over = max(1.0, (v - self._decel * h) / eff) if eff > 0 else 1.0
        elif v > 5.0 and self.rng.random() < self._over_rate * h:
            p = self.profile
            self._over = self.rng.uniform(*p.overspeed_factor)
            self._over_left = self.rng.uniform(*p.overspeed_s)

    def _arrive(self) -> None:
        _, dwell, kind = self._stops[self._ks]
        self._ks += 1
        self._stop_s = self._stops[self._ks][0] if self._ks < len(self._stops) else math.inf
        self.stop_kind = kind
        self._dwell_left = dwell
        self._over = 1.0
        self._over_left = 0.0
        if dwell >= ENGINE_OFF_AFTER_S:
            self.acc_on = False
        if kind == "depot" and self.fuel_l < 0.25 * self.profile.tank_l:
            self.fuel_l = self.profile.tank_l

    def _depart(self) -> None:
        kind = self.stop_kind
        self.stop_kind = None
        self.acc_on = True
        self._desire = self.rng.uniform(*self.profile.desire)
        if kind == "depot":
            self._start(self._new_route(self.route.end_node), 0.0)

    # ------------------------------------------------------------ state

    @property
    def lon(self) -> float:
        return self.network.projection.to_lonlat(self.x_m, self.y_m)[0]

    @property
    def lat(self) -> float:
        return self.network.projection.to_lonlat(self.x_m, self.y_m)[1]

    @property
    def speed_kmh(self) -> float:
        return self._v * 3.6

    @property
    def heading_deg(self) -> float:
        return self.route.heading[self._i]

    @property
    def altitude_m(self) -> float:
        return self.route.alt_m[self._i]

    @property
    def moving(self) -> bool:
        return self._v > 0.0

    @property
    def overspeeding(self) -> bool:
        """In a deliberate overspeed episode (or braking back to the limit after one)."""
        return self._over > 1.0

    @property
    def road_limit_kmh(self) -> float:
        return self.route.limit_ms[self._i] * 3.6

    @property
    def permitted_kmh(self) -> float:
        """The road limit capped by the vehicle type (60/80 for dangerous goods)."""
        return self._eff[self._i] * 3.6

    @property
    def road_name(self) -> str:
        return self.route.road_name(self._i)

    @property
    def time_s(self) -> float | None:
        return self._t
