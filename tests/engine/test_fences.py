"""Geofences: entry/exit (also between sparse reports), dwell, forbidden hours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from icvcloud.engine import Engine, VehicleContext
from icvcloud.model.alarms import Severity
from icvcloud.model.fences import TimeWindow

from .helpers import T0, along, at_xy, bj, circle, fold_events, of_type, pos, run, square, vehicle

TRUCK = vehicle(1, "hazmat_tanker")


def s(n: float) -> timedelta:
    return timedelta(seconds=n)


@pytest.mark.parametrize("kind", ["circle", "rectangle", "polygon"])
def test_crossing_between_two_sparse_reports(kind: str) -> None:
    """The fence lies entirely between two reports 60 s apart: both boundary crossings
    are found on the segment and dated by interpolation."""
    fence = (circle(3, 1000, 0, 200, alarm_on_enter=True, alarm_on_exit=True) if kind == "circle" else
             square(3, 1000, 0, 200, kind, alarm_on_enter=True, alarm_on_exit=True))
    a, b = pos(0, *at_xy(0, 0), 60), pos(60, *at_xy(2000, 0), 60)
    evs = run(Engine(fences=[fence]), TRUCK, [a, b])
    (enter,) = of_type(evs, "fence.enter")
    (exit_,) = of_type(evs, "fence.exit")
    assert enter.phase == exit_.phase == "instant"
    # 800 m and 1200 m of 2000 m → 24 s and 36 s.
    assert enter.start_time == T0 + s(24) and exit_.start_time == T0 + s(36)
    assert enter.details["fence_id"] == 3 and enter.severity == Severity.LOW
    x, _ = at_xy(800, 0)
    assert enter.lon == pytest.approx(x, abs=1e-7)


def test_point_in_polygon_alone_would_miss_it() -> None:
    # Both reports outside; only the segment says the vehicle crossed.
    fence = square(3, 1000, 0, 50, forbidden=(TimeWindow("00:00", "00:00"),))
    evs = fold_events(run(Engine(fences=[fence]), TRUCK, [pos(0, *at_xy(0, 0), 60), pos(120, *at_xy(2000, 0), 60)]))
    (ep,) = of_type(evs, "fence.forbidden")
    assert (ep.start, ep.end) == (T0 + s(57), T0 + s(63))


def test_no_interpolation_across_long_gaps() -> None:
    fence = circle(3, 1000, 0, 200, alarm_on_enter=True)
    # 10 minutes apart (more than interpolate_max_gap_s): a pass-through is not guessed,
    evs = run(Engine(fences=[fence]), TRUCK, [pos(0, *at_xy(0, 0), 10), pos(600, *at_xy(2000, 0), 10)])
    assert of_type(evs, "fence.enter") == []
    # and an entry is dated at the report that first shows the vehicle inside.
    evs = run(Engine(fences=[fence]), TRUCK, [pos(0, *at_xy(0, 0), 10), pos(600, *at_xy(1000, 0), 10)])
    assert of_type(evs, "fence.enter")[0].start_time == T0 + s(600)


def test_dense_entry_and_exit() -> None:
    fence = circle(4, 300, 0, 100, alarm_on_enter=True, alarm_on_exit=True)
    evs = run(Engine(fences=[fence]), TRUCK, along([36] * 10, 10))  # 100 m per report eastwards
    (enter,), (exit_,) = of_type(evs, "fence.enter"), of_type(evs, "fence.exit")
    assert enter.start_time == T0 + s(20) and exit_.start_time == T0 + s(40)


def test_forbidden_hours_for_hazmat_in_the_urban_core() -> None:
    core = square(5, 0, 0, 3000, forbidden=(TimeWindow("07:00", "19:00"),), vehicle_types=("hazmat_tanker",))
    day = [pos(bj(2024, 5, 6, 9, 59, 30), *at_xy(-4000, 0), 40), pos(bj(2024, 5, 6, 10, 0, 30), *at_xy(-2000, 0), 40),
           pos(bj(2024, 5, 6, 10, 30), *at_xy(0, 0), 0), pos(bj(2024, 5, 6, 10, 33), *at_xy(4000, 0), 40)]
    evs = run(Engine(fences=[core]), TRUCK, day)
    forb = of_type(evs, "fence.forbidden")
    assert [e.phase for e in forb] == ["start", "end"]
    assert forb[0].severity == Severity.HIGH and forb[0].start_time == bj(2024, 5, 6, 10, 0)
    assert forb[1].end_time == bj(2024, 5, 6, 10, 32, 15)
    # A bus is not concerned; nor is the truck at night.
    assert of_type(run(Engine(fences=[core]), vehicle(2, "bus"), day), "fence.forbidden") == []


def test_forbidden_window_opening_while_inside() -> None:
    core = square(5, 0, 0, 3000, forbidden=(TimeWindow("22:00", "06:00"),))
    reports = [pos(bj(2024, 5, 6, 21, 50), *at_xy(0, 0), 0), pos(bj(2024, 5, 6, 22, 10), *at_xy(0, 0), 0),
               pos(bj(2024, 5, 7, 6, 20), *at_xy(0, 0), 0), pos(bj(2024, 5, 7, 6, 30), *at_xy(0, 0), 0)]
    evs = fold_events(run(Engine(fences=[core]), TRUCK, reports))
    (ep,) = of_type(evs, "fence.forbidden")
    assert (ep.start, ep.end) == (bj(2024, 5, 6, 22, 0), bj(2024, 5, 7, 6, 0))


def test_dwell_too_long() -> None:
    depot = circle(6, 0, 0, 300, max_dwell_s=3600)
    reports = [pos(t, *at_xy(0, 0), 0) for t in range(0, 5401, 600)] + [pos(5460, *at_xy(0, 1000), 40)]
    evs = run(Engine(fences=[depot]), TRUCK, reports)
    dwell = of_type(evs, "fence.dwell")
    assert [e.phase for e in dwell] == ["start", "end"]
    assert dwell[0].start_time == T0 + s(3600) and dwell[0].details["entered_at"] == T0.isoformat()
    assert dwell[1].end_time == T0 + s(5400 + 60 * 0.3)  # left the 300 m circle 30 % into the last segment


def test_fences_by_group_and_org() -> None:
    f = circle(7, 0, 0, 500, alarm_on_enter=True, groups=("line-7",), org_ids=(10,))
    reports = [pos(0, *at_xy(-1000, 0), 40), pos(60, *at_xy(0, 0), 40)]
    yes = VehicleContext(1, "d1", org_id=10, vehicle_type="bus", group="line-7")
    other_group = VehicleContext(2, "d2", org_id=10, vehicle_type="bus", group="line-8")
    other_org = VehicleContext(3, "d3", org_id=11, vehicle_type="bus", group="line-7")
    assert of_type(run(Engine(fences=[f]), yes, reports), "fence.enter")
    assert not of_type(run(Engine(fences=[f]), other_group, reports), "fence.enter")
    assert not of_type(run(Engine(fences=[f]), other_org, reports), "fence.enter")


def test_fence_removed_while_inside() -> None:
    f = circle(8, 0, 0, 500, alarm_on_exit=True, max_dwell_s=60)
    e = Engine(fences=[f])
    evs = run(e, TRUCK, [pos(0, *at_xy(0, 0), 0), pos(120, *at_xy(0, 0), 0)])
    assert [x.phase for x in of_type(evs, "fence.dwell")] == ["start"]
    e.set_fences([])
    evs = run(e, TRUCK, [pos(180, *at_xy(0, 0), 0)])
    assert [x.phase for x in of_type(evs, "fence.dwell")] == ["end"]


def test_ten_thousand_fences_only_near_ones_matter() -> None:
    far = [circle(100 + i, 20_000 + (i % 100) * 500, 20_000 + (i // 100) * 500, 100, alarm_on_enter=True)
           for i in range(10_000)]
    near = circle(1, 500, 0, 100, alarm_on_enter=True)
    evs = run(Engine(fences=[*far, near]), TRUCK, along([36] * 10, 10))
    assert [e.details["fence_id"] for e in of_type(evs, "fence.enter")] == [1]


def test_tick_raises_dwell_then_the_exit_ends_it() -> None:
    depot = circle(6, 0, 0, 300, max_dwell_s=3600)
    e = Engine(fences=[depot])
    BUS = vehicle(2, "bus")  # noqa: N806
    run(e, BUS, [pos(0, *at_xy(0, 0), 0, status=0b10)])  # parked inside, engine off
    assert e.tick(T0 + s(3599)) == []
    (early,) = e.tick(T0 + s(3601))
    assert early.alarm_type == "fence.dwell" and early.start_time == T0 + s(3600) and early.phase == "start"
    # A back-filled report from inside, older than the tick, changes nothing told;
    assert run(e, BUS, [pos(1800, *at_xy(10, 0), 0, status=0b10)]) == []
    # leaving ends it, dated at the crossing.
    (end,) = of_type(run(e, BUS, [pos(3900, *at_xy(10, 0), 0), pos(3960, *at_xy(10, 1000), 40)]), "fence.dwell")
    assert end.key == early.key and end.phase == "end"
    crossed = T0 + s(3900 + 60 * (300**2 - 10**2) ** 0.5 / 1000)  # the circle's edge at x = 10 m
    assert abs((end.end_time - crossed).total_seconds()) < 1e-3
