"""Route deviation, stops too long, offline — and tick(), which raises them before
a report does, and takes them back when the data disagrees."""

from __future__ import annotations

from datetime import timedelta

from icvcloud.engine import Engine, RuleProfiles
from icvcloud.model.alarms import Severity

from .helpers import T0, at_xy, corridor, fold_events, of_type, pos, run, square, vehicle

TRUCK = vehicle(1, "hazmat_tanker")


def s(n: float) -> timedelta:
    return timedelta(seconds=n)


def route_trip(out_from: float, out_to: float, every: float = 30, end: float = 900) -> list:
    """East along y = 0 at 20 m/s; between ``out_from`` and ``out_to`` seconds 500 m north of it."""
    reps = []
    t = 0.0
    while t <= end:
        y = 500.0 if out_from <= t <= out_to else 0.0
        reps.append(pos(t, *at_xy(20 * t, y), 72))
        t += every
    return reps


def test_route_deviation_longer_than_allowed() -> None:
    route = corridor(20, -1000, 30_000, deviation_after_s=120, vehicle_types=("hazmat_tanker",))
    evs = run(Engine(fences=[route]), TRUCK, route_trip(300, 600))
    dev = of_type(evs, "route.deviation")
    assert [e.phase for e in dev] == ["start", "end"]
    # Left the 100 m corridor (50 m off the line) 10 % into the 270→300 s segment,
    # came back 90 % into 600→630 s.
    left, back = T0 + s(273), T0 + s(627)
    assert dev[0].start_time == left + s(120) and dev[0].details["left_at"] == left.isoformat()
    assert dev[1].end_time == back and dev[0].severity == Severity.HIGH
    assert dev[0].details["route_ids"] == [20]


def test_short_excursion_is_not_a_deviation() -> None:
    route = corridor(20, -1000, 30_000, deviation_after_s=120)
    assert of_type(run(Engine(fences=[route]), TRUCK, route_trip(300, 360)), "route.deviation") == []


def test_route_assigned_through_the_context() -> None:
    route = corridor(21, -1000, 30_000)  # no deviation duration of its own: the rule's default (120 s)
    assert of_type(run(Engine(fences=[route]), TRUCK, route_trip(300, 600)), "route.deviation") == []
    assigned = vehicle(1, "hazmat_tanker", route_ids=(21,))
    (ep,) = of_type(fold_events(run(Engine(fences=[route]), assigned, route_trip(300, 600))), "route.deviation")
    assert ep.start == T0 + s(273 + 120)


def test_tick_raises_deviation_early_and_the_data_confirms_it() -> None:
    route = corridor(20, -1000, 30_000, deviation_after_s=120)
    e = Engine(fences=[route])
    trip = route_trip(300, 10_000, end=330)  # off the route from ~273 s, then no report
    run(e, TRUCK, trip)
    assert e.tick(T0 + s(380)) == []
    (early,) = e.tick(T0 + s(400))
    assert early.alarm_type == "route.deviation" and early.phase == "start"
    assert early.start_time == T0 + s(393)
    assert e.tick(T0 + s(430)) == []  # told once
    # The next report is still off the route: nothing new to tell.
    assert of_type(run(e, TRUCK, [pos(420, *at_xy(20 * 420, 500), 72)]), "route.deviation") == []
    # Back on it: the end.
    (end,) = of_type(run(e, TRUCK, [pos(450, *at_xy(20 * 450, 0), 72)]), "route.deviation")
    assert end.phase == "end" and end.key == early.key


def test_tick_alarm_retracted_when_the_data_shows_a_return_in_time() -> None:
    route = corridor(20, -1000, 30_000, deviation_after_s=120)
    e = Engine(fences=[route])
    run(e, TRUCK, [pos(0, *at_xy(0, 0), 72), pos(30, *at_xy(600, 500), 72)])  # left at 3 s
    (early,) = e.tick(T0 + s(200))
    # The next report (sparse) shows it back on the route; interpolating, it was back
    # at 60 + 60 s · 10 % … long before the 123 s mark: no deviation after all.
    evs = run(e, TRUCK, [pos(90, *at_xy(1800, 0), 72)])
    (gone,) = of_type(evs, "route.deviation")
    assert gone.retracted and gone.key == early.key and gone.phase == "end"
    assert e.stats.retractions == 1


def test_hazmat_stop_too_long_outside_permitted_places() -> None:
    stop = [pos(0, *at_xy(0, 0), 40)] + [pos(t, *at_xy(50, 0), 0) for t in range(60, 2400, 300)] + \
        [pos(2460, *at_xy(600, 0), 40)]
    evs = run(Engine(), TRUCK, stop)
    st = of_type(evs, "stop.too_long")
    assert [e.phase for e in st] == ["start", "end"]
    assert st[0].start_time == T0 + s(60 + 1800) and st[1].end_time == T0 + s(2460)
    # In a depot where stopping is permitted: nothing. A bus: not concerned by default.
    depot = square(30, 0, 0, 200, stop_permitted=True)
    assert of_type(run(Engine(fences=[depot]), TRUCK, stop), "stop.too_long") == []
    assert of_type(run(Engine(), vehicle(2, "bus"), stop), "stop.too_long") == []


def test_a_place_permitted_during_the_stop_permits_it() -> None:
    # The waybill naming the depot as the truck's loading site is issued while it waits there.
    stop = [pos(0, *at_xy(0, 0), 40)] + [pos(t, *at_xy(50, 0), 0) for t in range(60, 2400, 300)]
    e = Engine()
    run(e, TRUCK, stop[:3])  # standing since 60 s, outside any fence
    e.set_fences([square(30, 0, 0, 200, stop_permitted=True)])
    assert of_type(run(e, TRUCK, stop[3:]), "stop.too_long") == []
    assert of_type(e.tick(T0 + s(4000)), "stop.too_long") == []


def test_tick_raises_the_stop_before_the_next_report() -> None:
    e = Engine()
    run(e, TRUCK, [pos(0, *at_xy(0, 0), 0, status=0b10)])  # engine off: parked, so not offline either
    assert e.tick(T0 + s(1799)) == []
    (ep,) = e.tick(T0 + s(1801))
    assert ep.alarm_type == "stop.too_long" and ep.start_time == T0 + s(1800)
    # The next report confirms (still standing): no duplicate.
    assert of_type(run(e, TRUCK, [pos(2000, *at_xy(0, 0), 0, status=0b10)]), "stop.too_long") == []


def test_offline_while_driving_not_while_parked() -> None:
    bus = vehicle(2, "bus")
    e = Engine()
    run(e, bus, [pos(0, *at_xy(0, 0), 50, received=T0 + s(1))])
    assert e.tick(T0 + s(1 + 1199)) == []
    (off,) = e.tick(T0 + s(1 + 1200))
    assert off.alarm_type == "offline" and off.category == "connectivity" and off.start_time == T0
    assert off.key == f"2|offline|{int(T0.timestamp() * 1e6)}"
    assert e.tick(T0 + s(3000)) == []
    (back,) = run(e, bus, [pos(3000, *at_xy(100, 0), 50, received=T0 + s(3001))])
    assert back.key == off.key and back.phase == "end" and back.end_time == T0 + s(3000)
    # Parked (ACC off, standing): terminals sleep; no offline alarm unless configured.
    e = Engine()
    run(e, bus, [pos(0, *at_xy(0, 0), 0, status=0b10)])
    assert e.tick(T0 + s(86_400)) == []
    p = RuleProfiles.from_dict({"defaults": {"offline": {"parked_offline_after_s": 7200}}})
    e = Engine(p)
    run(e, bus, [pos(0, *at_xy(0, 0), 0, status=0b10)])
    assert e.tick(T0 + s(7100)) == [] and len(e.tick(T0 + s(7300))) == 1
