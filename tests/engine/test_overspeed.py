"""Overspeed: limits by vehicle type, road class, fence and corridor section;
minimum duration, episodes with peak, pre-warning, severity."""

from __future__ import annotations

from datetime import timedelta

from icvcloud.engine import Engine, RuleProfiles
from icvcloud.model.alarms import Severity
from icvcloud.model.fences import CorridorSection, Fence

from .helpers import T0, along, at_xy, corridor, fold_events, of_type, run, square, vehicle

HAZMAT = vehicle(1, "hazmat_tanker")


def secs(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_hazmat_default_60_episode_with_peak() -> None:
    evs = run(Engine(), HAZMAT, along([50, 50, 70, 72, 75, 65, 50, 50]))
    os_ = of_type(evs, "overspeed")
    assert [e.phase for e in os_] == ["start", "end"]
    start, end = os_
    # The run begins at the first over-limit report; it counts once it lasted 10 s.
    assert start.start_time == T0 + secs(20) and start.end_time is None
    assert start.details["limit_kmh"] == 60.0 and start.details["limit_source"] == "vehicle_type:default"
    assert start.severity == Severity.HIGH  # 72 is 20 % over 60
    assert end.key == start.key and end.end_time == T0 + secs(60)  # the first report back within the limit
    assert end.details["peak_speed_kmh"] == 75 and end.details["peak_over_pct"] == 25.0
    assert end.details["duration_s"] == 40.0
    # The same run also passed through the 55–60 band before and after: no warning
    # for 50 km/h (outside the band), so none here.
    assert of_type(evs, "overspeed.warning") == []


def test_single_spike_is_not_an_episode() -> None:
    evs = run(Engine(), HAZMAT, along([50, 90, 50, 50], 30))
    assert of_type(evs, "overspeed") == []


def test_reports_further_apart_than_max_gap_are_separate_runs() -> None:
    e = Engine()
    first = along([70, 70], 10)
    later = along([70, 70, 40], 10, start_s=400, x0=800)  # 380 s later: a new run
    evs = fold_events(run(e, HAZMAT, first + later))
    eps = sorted(of_type(evs, "overspeed"), key=lambda f: f.start)
    assert [(f.start, f.end) for f in eps] == [(T0, T0 + secs(10)), (T0 + secs(400), T0 + secs(420))]


def test_expressway_corridor_raises_hazmat_limit_to_80() -> None:
    e = Engine(fences=[corridor(5, -1000, 10_000, road_class="expressway")])
    assert of_type(run(e, HAZMAT, along([75, 78, 78, 75])), "overspeed") == []
    evs = run(Engine(fences=[corridor(5, -1000, 10_000, road_class="expressway")]), HAZMAT,
              along([75, 85, 88, 75], start_s=0))
    (start, _end) = of_type(evs, "overspeed")
    assert start.details["limit_kmh"] == 80.0 and start.details["limit_source"] == "vehicle_type:expressway"
    # Off the expressway the same speeds are over 60.
    evs = run(Engine(fences=[corridor(5, -1000, 10_000, y=5000, road_class="expressway")]), HAZMAT,
              along([75, 78, 78, 75]))
    assert of_type(evs, "overspeed")[0].details["limit_kmh"] == 60.0


def test_fence_and_section_limits_apply_to_every_type() -> None:
    school = square(7, 0, 0, 2000, speed_limit_kmh=30.0)
    bus = vehicle(2, "bus")  # no type limit off expressways
    evs = run(Engine(fences=[school]), bus, along([28, 35, 36, 20]))
    (start, _) = of_type(evs, "overspeed")
    assert start.details["limit_source"] == "fence:7" and start.details["limit_kmh"] == 30.0
    road = Fence(id=8, name="S29", kind="corridor", road_class="expressway", sections=(
        CorridorSection((at_xy(-1000, 0), at_xy(1000, 0)), 60, speed_limit_kmh=100),
        CorridorSection((at_xy(1000, 0), at_xy(5000, 0)), 60, speed_limit_kmh=60, name="bridge")))
    taxi = vehicle(3, "taxi")
    # 90 km/h: fine on the first section (100), over on the bridge (60); at 25 m/s the
    # report at 40 s is at 1000 m, where the sections meet: the lower limit applies.
    evs = fold_events(run(Engine(fences=[road]), taxi, along([90] * 8 + [50], 10)))
    (ep,) = of_type(evs, "overspeed")
    assert ep.details["limit_source"] == "section" and ep.details["limit_kmh"] == 60.0
    assert ep.start == T0 + secs(40)


def test_pre_warning_band() -> None:
    evs = run(Engine(), HAZMAT, along([50, 57, 58, 59, 50]))
    (start, end) = of_type(evs, "overspeed.warning")
    assert start.severity == Severity.LOW and start.start_time == T0 + secs(10) and end.end_time == T0 + secs(40)
    p = RuleProfiles.from_dict({"defaults": {"overspeed": {"warning_band_kmh": 0}}})
    assert of_type(run(Engine(p), HAZMAT, along([50, 57, 58, 59, 50])), "overspeed.warning") == []


def test_severity_escalates_with_an_update() -> None:
    evs = run(Engine(), HAZMAT, along([64, 65, 80, 95, 50]))
    os_ = of_type(evs, "overspeed")
    assert [(e.phase, e.severity) for e in os_] == [
        ("start", Severity.MEDIUM), ("update", Severity.HIGH), ("update", Severity.CRITICAL),
        ("end", Severity.CRITICAL)]
    assert len({e.key for e in os_}) == 1


def test_limit_configurable_per_group() -> None:
    p = RuleProfiles.from_dict({"profile": [{"name": "slow", "groups": ["urban"],
                                             "overspeed": {"limits_kmh": {"hazmat_tanker": {"default": 50}}}}]})
    urban = vehicle(1, "hazmat_tanker", group="urban")
    assert of_type(run(Engine(p), urban, along([55, 56, 57, 40])), "overspeed")
    assert not of_type(run(Engine(p), HAZMAT, along([55, 56, 57, 40])), "overspeed")


def test_minimum_duration_configurable() -> None:
    p = RuleProfiles.from_dict({"defaults": {"overspeed": {"min_duration_s": 0}}})
    evs = run(Engine(p), HAZMAT, along([50, 90, 50, 50], 30))
    (ep,) = of_type(fold_events(evs), "overspeed")
    assert ep.start == T0 + secs(30) and ep.end == T0 + secs(60)
