"""Data quality: invalid reports and GNSS jumps — findings, and kept out of the driving rules."""

from __future__ import annotations

from datetime import timedelta

from icvcloud.engine import Engine
from icvcloud.model.alarms import Severity

from .helpers import T0, along, at_xy, circle, fold_events, of_type, pos, run, vehicle

TRUCK = vehicle(1, "hazmat_tanker")


def s(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_no_fix_run() -> None:
    reps = [pos(0, speed=0), pos(30, speed=0, status=0b01), pos(60, speed=0, status=0b01), pos(90, speed=0)]
    evs = fold_events(run(Engine(), TRUCK, reps))
    (ep,) = of_type(evs, "data_quality.no_fix")
    assert (ep.start, ep.end) == (T0 + s(30), T0 + s(90))
    assert ep.severity == Severity.LOW and next(iter(evs.values())).details["reason"] == "no_fix"


def test_invalid_reports() -> None:
    reps = [
        pos(0, 0.0, 0.0, 0),  # zero fix
        pos(30, 36.81, 118.05, 0),  # latitude and longitude swapped
        pos(60, speed=float("nan")),
        pos(90, speed=300),
        pos(120, received=T0 + s(120 - 600)),  # 10 min in the future of its arrival
        pos(150, extras={"invalid_device_time": "2024-13-45 25:61:00"}),
        pos(180),
    ]
    evs = fold_events(run(Engine(), TRUCK, reps))
    got = {(f.alarm_type, f.start, f.end) for f in evs.values()}
    assert got == {
        ("data_quality.out_of_bounds", T0, T0 + s(60)),
        ("data_quality.invalid_speed", T0 + s(60), T0 + s(150)),  # the future report is not in the run
        ("data_quality.future_time", T0 + s(120), T0 + s(120)),
        ("data_quality.invalid_time", T0 + s(150), T0 + s(180)),
    }


def test_a_wrong_future_clock_stays_out_of_the_order() -> None:
    e = Engine()
    run(e, TRUCK, along([40] * 3, 30))
    # One report dated a year ahead, then the true ones go on: they are still in order.
    (finding,) = run(e, TRUCK, [pos(365 * 86400, *at_xy(0, 0), 40, received=T0 + s(61))])
    assert finding.alarm_type == "data_quality.future_time" and finding.phase == "instant"
    run(e, TRUCK, along([40] * 3, 30, start_s=90, x0=1000))
    assert e.stats.future == 1 and e.stats.late == 0


def test_single_jump_is_reported_and_ignored_by_location_rules() -> None:
    fence = circle(1, 5000, 0, 300, alarm_on_enter=True)
    reps = along([40] * 3, 30)  # at 0, 333, 667 m
    reps.insert(2, pos(45, *at_xy(5000, 0), 40))  # 4.7 km in 15 s: into the fence and back
    evs = run(Engine(fences=[fence]), TRUCK, reps)
    (jump,) = of_type(evs, "data_quality.gnss_jump")
    assert jump.phase == "instant" and jump.start_time == T0 + s(45)
    assert jump.details["distance_m"] > 4500 and jump.details["implied_kmh"] > 1000
    assert of_type(evs, "fence.enter") == []


def test_jump_does_not_make_overspeed() -> None:
    # The report's own speed field is plausible; the displacement is not.
    reps = [*along([50] * 3, 30), pos(100, *at_xy(9000, 0), 70), pos(110, *at_xy(9200, 0), 72),
            pos(120, *at_xy(600, 0), 50)]
    assert of_type(run(Engine(), TRUCK, reps), "overspeed") == []


def test_three_agreeing_reports_move_the_vehicle() -> None:
    fence = circle(1, 20_000, 0, 500, alarm_on_enter=True)
    # Towed 20 km with the terminal off; then reports from the new place.
    reps = [pos(0, *at_xy(0, 0), 0), pos(120, *at_xy(20_000, 0), 0), pos(150, *at_xy(20_010, 0), 0),
            pos(180, *at_xy(20_020, 0), 0), pos(210, *at_xy(20_030, 0), 0)]
    evs = run(Engine(fences=[fence]), TRUCK, reps)
    assert len(of_type(evs, "data_quality.gnss_jump")) == 1
    (enter,) = of_type(evs, "fence.enter")
    assert enter.start_time == T0 + s(180)  # accepted at the third agreeing report
