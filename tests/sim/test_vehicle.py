"""Kinematics of the simulated vehicles, sampled once per simulated second."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest

from icvcloud.sim.geo import haversine_m, heading_deg
from icvcloud.sim.roads import RoadNetwork
from icvcloud.sim.route import Route
from icvcloud.sim.vehicle import PROFILES, VEHICLE_TYPES, Vehicle


@dataclass
class Sample:
    t: int
    lon: float
    lat: float
    x: float
    y: float
    s: float
    speed_kmh: float
    heading_deg: float
    road_limit_kmh: float
    permitted_kmh: float
    expressway: bool
    overspeeding: bool
    stop_kind: str | None
    mileage_km: float
    fuel_l: float
    acc_on: bool
    route_id: int


def drive(v: Vehicle, seconds: int) -> list[Sample]:
    out = []
    for t in range(1, seconds + 1):
        v.step(float(t))
        r = v.route
        out.append(Sample(t, v.lon, v.lat, v.x_m, v.y_m, v.s, v.speed_kmh, v.heading_deg, v.road_limit_kmh,
                          v.permitted_kmh, r.expressway[r.segment_at(v.s)], v.overspeeding, v.stop_kind,
                          v.mileage_km, v.fuel_l, v.acc_on, id(r)))
    return out


@pytest.fixture(scope="module")
def tracks(network: RoadNetwork) -> dict[str, list[list[Sample]]]:
    """Three hours of eight vehicles of each type."""
    out: dict[str, list[list[Sample]]] = {}
    for vtype in VEHICLE_TYPES:
        out[vtype] = [drive(Vehicle(network, vtype, seed=f"kin:{vtype}:{i}", t0_s=0.0), 3 * 3600) for i in range(8)]
    return out


def test_speed_within_limits_except_deliberate_overspeed(tracks: dict[str, list[list[Sample]]]) -> None:
    for vtype, runs in tracks.items():
        cap = PROFILES[vtype]
        for run in runs:
            for smp in run:
                if smp.overspeeding:
                    continue
                assert smp.speed_kmh <= smp.road_limit_kmh + 1e-6, (vtype, smp)
                assert smp.speed_kmh <= (cap.cap_expressway_kmh if smp.expressway else cap.cap_kmh) + 1e-6


def test_only_hazmat_overspeeds_and_it_does(tracks: dict[str, list[list[Sample]]]) -> None:
    for vtype, runs in tracks.items():
        episodes = [smp for run in runs for smp in run if smp.overspeeding and smp.speed_kmh > smp.permitted_kmh + 1]
        if vtype == "hazmat_tanker":
            assert episodes, "hazmat tankers should overspeed now and then"
            # Bounded: never more than the largest episode factor over the type's cap.
            assert max(smp.speed_kmh / smp.permitted_kmh for smp in episodes) <= 1.25 + 1e-6
        else:
            assert not episodes


def test_acceleration_and_braking_bounded(tracks: dict[str, list[list[Sample]]]) -> None:
    for vtype, runs in tracks.items():
        p = PROFILES[vtype]
        for run in runs:
            for a, b in itertools.pairwise(run):
                dv = (b.speed_kmh - a.speed_kmh) / 3.6
                assert dv <= p.accel_ms2 + 1e-9
                if b.stop_kind is None:  # arriving at a stop ends the last step's approach at 0
                    assert dv >= -p.decel_ms2 * 1.2


def test_heading_matches_direction_of_travel(tracks: dict[str, list[list[Sample]]]) -> None:
    checked = 0
    for runs in tracks.values():
        for run in runs:
            for a, b in itertools.pairwise(run):
                moved = math.hypot(b.x - a.x, b.y - a.y)
                # Within one straight segment the displacement is exactly along the heading.
                if moved > 3.0 and a.heading_deg == b.heading_deg and a.route_id == b.route_id:
                    bearing = heading_deg(b.x - a.x, b.y - a.y)
                    diff = abs((bearing - b.heading_deg + 180) % 360 - 180)
                    assert diff < 0.5, (a, b)
                    checked += 1
    assert checked > 10_000


def test_mileage_matches_distance_travelled(tracks: dict[str, list[list[Sample]]]) -> None:
    for runs in tracks.values():
        for run in runs:
            travelled_m = sum(haversine_m(a.lon, a.lat, b.lon, b.lat) for a, b in itertools.pairwise(run))
            odometer_m = (run[-1].mileage_km - run[0].mileage_km) * 1000
            assert travelled_m > 1000
            assert odometer_m == pytest.approx(travelled_m, rel=0.01)


def test_fuel_is_used_and_engine_stops_on_long_dwells(tracks: dict[str, list[list[Sample]]]) -> None:
    saw_engine_off = False
    for runs in tracks.values():
        for run in runs:
            refuelled = any(b.fuel_l > a.fuel_l for a, b in itertools.pairwise(run))
            assert run[-1].fuel_l < run[0].fuel_l or refuelled
            assert all(s.speed_kmh == 0 for s in run if not s.acc_on)
            saw_engine_off |= any(not s.acc_on and s.stop_kind == "depot" for s in run)
    assert saw_engine_off


def test_buses_stop_at_every_stop_of_their_line(network: RoadNetwork) -> None:
    bus = Vehicle(network, "bus", seed="line-7", start_s=0.0, t0_s=0.0)
    assert bus.line is not None and bus.bus_stops_s
    gaps = [b - a for a, b in zip(bus.bus_stops_s, bus.bus_stops_s[1:], strict=False)]
    assert all(400 <= g <= 600 for g in gaps)
    visits: list[tuple[float, int]] = []  # (position, seconds dwelt)
    laps = 0
    prev_kind = None
    for t in range(1, 4 * 3600):
        bus.step(float(t))
        kind = bus.stop_kind
        if kind == "bus_stop":
            assert bus.speed_kmh == 0
            if prev_kind != "bus_stop":
                visits.append((bus.s, 0))
            visits[-1] = (visits[-1][0], visits[-1][1] + 1)
        if kind == "depot" and prev_kind != "depot":
            laps += 1
            if laps == 1:
                assert [round(s, 3) for s, _ in visits] == [round(s, 3) for s in bus.bus_stops_s]
        prev_kind = kind
    assert laps >= 2
    assert bus.route is bus.line  # the same line, lap after lap
    assert all(19 <= secs <= 41 for _, secs in visits)


def test_sanitation_is_slow_and_stops_often(tracks: dict[str, list[list[Sample]]]) -> None:
    for run in tracks["sanitation"]:
        assert max(s.speed_kmh for s in run) <= 30 + 1e-6
        work_stops = sum(1 for a, b in itertools.pairwise(run) if b.stop_kind == "work" != a.stop_kind)
        moving_km = (run[-1].mileage_km - run[0].mileage_km)
        assert work_stops >= moving_km  # at least one every kilometre (planned every 150–400 m)


def test_coaches_travel_between_districts(network: RoadNetwork) -> None:
    coach = Vehicle(network, "coach", seed="coach-1", t0_s=0.0)
    routes: list[Route] = []
    for t in range(1, 6 * 3600):
        coach.step(float(t))
        if not routes or routes[-1] is not coach.route:
            routes.append(coach.route)
    assert len(routes) >= 2
    for r in routes:
        assert network.nodes[r.start_node].district != network.nodes[r.end_node].district


def test_deterministic_and_independent_of_step_size(network: RoadNetwork) -> None:
    a = Vehicle(network, "hazmat_tanker", seed=42, t0_s=0.0)
    b = Vehicle(network, "hazmat_tanker", seed=42, t0_s=0.0)
    for t in range(1, 1801):
        a.step(float(t))
    b.step(1800.0)  # split into one-second steps internally
    assert (a.lon, a.lat, a.speed_kmh, a.mileage_km, a.stop_kind) == (b.lon, b.lat, b.speed_kmh, b.mileage_km,
                                                                        b.stop_kind)
    c = Vehicle(network, "hazmat_tanker", seed=43, t0_s=0.0)
    c.step(1800.0)
    assert (c.lon, c.lat) != (a.lon, a.lat)


def test_state_is_plausible_for_reports(network: RoadNetwork) -> None:
    v = Vehicle(network, "coach", seed=3)
    v.step(1000.0)  # the first step sets the clock
    v.step(1010.0)
    assert 0 <= v.heading_deg < 360
    assert 0 <= v.altitude_m < 1000
    assert v.mileage_km > 0 and v.fuel_l > 0
    assert v.moving == (v.speed_kmh > 0)
    assert v.road_name
    assert v.time_s == 1010.0

