"""The waybill trip's state machine (icvcloud.hazmat.trip) over scripted reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icvcloud.hazmat.trip import Fix, Trip, TripConfig, TripFinding, TripState
from icvcloud.model.hazmat import CargoLine, Site, Waybill

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
LAT = 36.8
#: Loading site at 118.00° E, unloading at 118.10° E (~8.9 km apart), the route a
#: straight line between them, corridor 200 m wide (100 m either side).
ORIGIN = (118.00, LAT)
DEST = (118.10, LAT)
DEG_PER_100M_LAT = 100 / 111_195.0


def waybill(**over: object) -> Waybill:
    """Without an escort unless asked: the escort rule has tests of its own."""
    d: dict[str, object] = dict(
        id=42, org_id=3, shipper="S", consignee="C", vehicle_id=7, driver_id=1, escort_id=None,
        cargo=[CargoLine("1203", "GASOLINE", "3", "II", 10.0, "t")],
        origin=Site("depot", {"kind": "circle", "center": list(ORIGIN), "radius_m": 300}),
        destination=Site("station", {"kind": "polygon", "points": [
            [118.098, 36.798], [118.102, 36.798], [118.102, 36.802], [118.098, 36.802]]}),
        departure_from=T0, departure_until=T0 + timedelta(hours=1),
        arrival_from=T0 + timedelta(hours=1), arrival_until=T0 + timedelta(hours=3),
        route=[ORIGIN, DEST], corridor_m=200.0)
    d.update(over)
    return Waybill(**d)  # type: ignore[arg-type]


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def on_route(s: float, frac: float, off_m: float = 0.0, speed: float = 50.0) -> Fix:
    """A report at ``s`` seconds, ``frac`` of the way along the route, ``off_m`` north of it."""
    lon = ORIGIN[0] + (DEST[0] - ORIGIN[0]) * frac
    return Fix(at(s), lon, LAT + off_m / 100 * DEG_PER_100M_LAT, speed)


def changes(fs: list[TripFinding]) -> list[tuple[str, datetime]]:
    return [(f.details["to"], f.t) for f in fs if f.kind == "state_changed"]


def kinds(fs: list[TripFinding], kind: str) -> list[TripFinding]:
    return [f for f in fs if f.kind == kind]


def run(trip: Trip, fixes: list[Fix]) -> list[TripFinding]:
    out: list[TripFinding] = []
    for f in fixes:
        out += trip.report(f)
    return out


#: A whole trip: waits in the depot, drives the route, unloads, leaves.
SCRIPT = [
    Fix(at(0), 118.010, LAT, 30.0),  # planned, approaching (~890 m from the depot centre)
    Fix(at(60), 118.001, LAT, 5.0),  # inside the depot → loading
    Fix(at(600), 118.000, LAT, 0.0),
    Fix(at(1200), 118.002, LAT, 20.0),  # still inside (~180 m)
    Fix(at(1210), 118.005, LAT, 40.0),  # outside (~445 m) → in_transit
    on_route(1500, 0.3),
    on_route(2500, 0.7),
    Fix(at(3600), 118.0995, LAT, 10.0),  # inside the station → unloading
    Fix(at(5400), 118.1, LAT, 0.0),
    Fix(at(6000), 118.105, LAT, 30.0),  # left → completed
]


def test_scripted_trip_has_exact_state_change_times() -> None:
    trip = Trip(waybill())
    fs = run(trip, SCRIPT)
    assert changes(fs) == [("loading", at(60)), ("in_transit", at(1210)), ("unloading", at(3600)),
                           ("completed", at(6000))]
    assert [f.kind for f in fs] == ["state_changed"] * 4
    assert all(f.waybill_id == 42 for f in fs)
    assert trip.state.state == "completed"
    assert trip.state.entered["unloading"] == at(3600)
    # A closed trip ignores whatever follows, reports and ticks.
    assert trip.report(Fix(at(7000), 118.0, LAT, 50.0)) == []
    assert trip.tick(at(100_000)) == []


def test_dwell_in_unloading_site_completes_at_the_allowance_by_tick() -> None:
    trip = Trip(waybill(), TripConfig(complete_after_s=1800))
    run(trip, SCRIPT[:8])  # unloading since 3600
    assert trip.tick(at(3600 + 1799)) == []
    fs = trip.tick(at(3600 + 1800))  # due exactly now
    assert changes(fs) == [("completed", at(3600 + 1800))]
    assert fs[0].details["by"] == "dwell"
    # A report finding the allowance run out gives the same time.
    trip2 = Trip(waybill(), TripConfig(complete_after_s=1800))
    run(trip2, SCRIPT[:8])
    assert changes(trip2.report(Fix(at(9000), 118.1, LAT, 0.0))) == [("completed", at(5400))]


def test_deviation_out_and_back_gives_one_finding_per_episode() -> None:
    trip = Trip(waybill())
    run(trip, SCRIPT[:5])
    fs = run(trip, [on_route(1300, 0.2, 0), on_route(1310, 0.21, 300), on_route(1400, 0.22, 350),
                    on_route(1450, 0.23, 400), on_route(1500, 0.24, 300), on_route(1510, 0.25, 20)])
    devs = kinds(fs, "route_deviation")
    assert [d.phase for d in devs] == ["start", "end"]
    assert devs[0].t == at(1310)  # the episode's start: the first report outside
    assert devs[0].details["detected_at"] == at(1450).isoformat()
    assert 390 < devs[0].details["distance_m"] < 410
    assert (devs[1].t, devs[1].end) == (at(1310), at(1510))  # back inside at 1510: the same episode ends
    # Out again: a new episode, a second finding; reaching the station ends it.
    fs = run(trip, [on_route(1600, 0.3, 500), on_route(1700, 0.31, 500), on_route(1800, 0.32, 500)])
    devs = kinds(fs, "route_deviation")
    assert [(d.t, d.phase) for d in devs] == [(at(1600), "start")]
    fs = trip.report(Fix(at(3600), 118.0995, LAT, 10.0))
    assert [(f.kind, f.phase, f.t, f.end) for f in fs][:1] == [("route_deviation", "end", at(1600), at(3600))]
    assert changes(fs) == [("unloading", at(3600))]


def test_deviation_shorter_than_grace_gives_nothing() -> None:
    trip = Trip(waybill())
    run(trip, SCRIPT[:5])
    fs = run(trip, [on_route(1300, 0.2, 300), on_route(1360, 0.21, 300), on_route(1419, 0.22, 300),
                    on_route(1420, 0.23, 50), on_route(1430, 0.24, 300), on_route(1540, 0.25, 0)])
    assert kinds(fs, "route_deviation") == []
    assert trip.state.out_since is None


def test_single_gnss_jump_outside_the_corridor_gives_nothing() -> None:
    trip = Trip(waybill())
    run(trip, SCRIPT[:5])
    fixes = [on_route(1300 + 10 * i, 0.2 + 0.01 * i) for i in range(10)]
    fixes[4] = on_route(1340, 0.24, 5000)  # one point 5 km off
    assert kinds(run(trip, fixes), "route_deviation") == []


def test_arrival_overdue_by_tick_once() -> None:
    trip = Trip(waybill())
    run(trip, SCRIPT[:6])  # in transit
    assert trip.tick(at(3 * 3600)) == []  # not yet *passed*
    fs = trip.tick(at(3 * 3600 + 1))
    assert [(f.kind, f.t) for f in fs] == [("arrival_overdue", at(3 * 3600))]
    assert fs[0].details["state"] == "in_transit"
    assert trip.tick(at(4 * 3600)) == []
    assert trip.report(on_route(4 * 3600 + 10, 0.5)) == []


def test_no_overdue_once_unloading() -> None:
    trip = Trip(waybill())
    run(trip, SCRIPT[:8])
    assert kinds(trip.tick(at(3 * 3600 + 60)), "arrival_overdue") == []


def test_report_older_than_last_is_ignored_and_counted() -> None:
    trip = Trip(waybill())
    run(trip, SCRIPT[:2])  # loading since 60
    assert trip.report(Fix(at(1210), 118.005, LAT, 40.0)) != []  # in transit at 1210
    # A late report from inside the depot, and a duplicate: nothing happens.
    assert trip.report(Fix(at(1205), 118.0, LAT, 0.0)) == []
    assert trip.report(Fix(at(1210), 118.0, LAT, 0.0)) == []
    assert trip.state.stale == 2
    assert trip.state.state == "in_transit"
    assert trip.state.last_t == at(1210)


def test_departure_without_loading() -> None:
    trip = Trip(waybill())
    fs = run(trip, [Fix(at(-600), 118.03, LAT, 40.0),  # before the window: not watched
                    Fix(at(0), 118.01, LAT, 40.0),  # approaching: closest ~890 m
                    Fix(at(30), 118.015, LAT, 40.0),  # ~1335 m: moved away, but < 1 km more
                    Fix(at(60), 118.025, LAT, 40.0),  # ~2225 m: away without loading
                    Fix(at(90), 118.035, LAT, 40.0)])
    found = kinds(fs, "departure_without_loading")
    assert [f.t for f in found] == [at(60)]
    assert trip.state.state == "planned"
    # Stopping away from the site is no departure.
    trip2 = Trip(waybill())
    assert run(trip2, [Fix(at(0), 118.01, LAT, 40.0), Fix(at(60), 118.025, LAT, 0.0)]) == []


def test_state_round_trip_mid_trip_gives_identical_outputs() -> None:
    # The script with a deviation episode (1250–1450) and an arrival deadline passed in transit.
    full = [*SCRIPT[:5], on_route(1250, 0.15, 300), on_route(1300, 0.16, 300), on_route(1400, 0.17, 300),
            on_route(1450, 0.18, 0), *SCRIPT[5:]]
    wb = waybill(arrival_until=at(2000))
    whole = run(Trip(wb), full)
    assert [(f.kind, f.phase) for f in whole if f.kind != "state_changed"] == [
        ("route_deviation", "start"), ("route_deviation", "end"), ("arrival_overdue", "instant")]
    assert kinds(whole, "route_deviation")[0].t == at(1250)
    for cut in range(1, len(full)):
        a = Trip(wb)
        before = run(a, full[:cut])
        b = Trip(wb, state=TripState.from_dict(a.state.to_dict()))
        assert b.state == a.state
        out_a = run(a, full[cut:]) + a.tick(at(20_000))
        out_b = run(b, full[cut:]) + b.tick(at(20_000))
        assert out_a == out_b
        assert before + out_b == whole
        assert a.state.to_dict() == b.state.to_dict()


# -- escort presence

def test_escort_never_checked_in_is_absent_from_departure_until_unloading() -> None:
    trip = Trip(waybill(escort_id=2))
    fs = run(trip, SCRIPT)
    esc = kinds(fs, "escort_absent")
    # In transit at 1210; the report at 1500 is within the 300 s grace, the one at 2500 is not.
    assert [(f.phase, f.t, f.end) for f in esc] == [("start", at(1210), None), ("end", at(1210), at(3600))]
    assert esc[0].details["escort_id"] == 2


def test_escort_checked_in_before_departure_is_no_finding() -> None:
    trip = Trip(waybill(escort_id=2))
    assert trip.presence(at(-1800), True) == []  # card read half an hour before the window
    assert kinds(run(trip, SCRIPT), "escort_absent") == []
    # A check-in from an earlier trip (more than checkin_lead_s before the window) does not count.
    trip2 = Trip(waybill(escort_id=2))
    trip2.presence(at(-13 * 3600), True)
    assert len(kinds(run(trip2, SCRIPT), "escort_absent")) == 2


def test_escort_card_removed_in_transit_counts_after_the_grace() -> None:
    trip = Trip(waybill(escort_id=2))
    trip.presence(at(30), True)
    run(trip, SCRIPT[:6])  # in transit since 1210, report at 1500
    trip.presence(at(1600), False)  # card pulled
    assert trip.report(on_route(1800, 0.4)) == []  # absent 200 s: within the grace
    fs = trip.report(on_route(1900, 0.45))
    assert [(f.kind, f.phase, f.t) for f in fs] == [("escort_absent", "start", at(1600))]
    assert fs[0].details["card_removed"] is True
    # Back in at 2000 (learnt late, after a report at 2100): the episode ends at 2000.
    assert trip.report(on_route(2100, 0.5)) == []
    fs = trip.presence(at(2000), True)
    assert [(f.kind, f.phase, f.t, f.end) for f in fs] == [("escort_absent", "end", at(1600), at(2000))]
    assert kinds(run(trip, SCRIPT[6:]), "escort_absent") == []


def test_escort_rule_off_by_configuration() -> None:
    trip = Trip(waybill(escort_id=2), TripConfig(escort_check=False))
    assert kinds(run(trip, SCRIPT), "escort_absent") == []
