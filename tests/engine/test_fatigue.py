"""Fatigue driving: continuous, rest, cumulative, the night rules in Beijing time."""

from __future__ import annotations

from datetime import timedelta

from icvcloud.engine import Engine, RuleProfiles
from icvcloud.model.alarms import Severity

from .helpers import T0, H, M, at_xy, bj, fold_events, of_type, run, square, timeline, vehicle

TRUCK = vehicle(1, "other")
COACH = vehicle(2, "coach")


def h(n: float) -> timedelta:
    return timedelta(hours=n)


def test_four_and_a_half_hours_without_rest() -> None:
    evs = run(Engine(), TRUCK, timeline([(4.5 * H, 70), (25 * M, 0)]))
    cont = of_type(evs, "fatigue.continuous")
    assert [e.phase for e in cont] == ["start", "end"]
    assert cont[0].start_time == T0 + h(4) and cont[0].severity == Severity.HIGH
    # Ends when the vehicle stopped for what turned out to be a full rest.
    assert cont[1].end_time == T0 + h(4.5) and cont[1].details["driven_s"] == 4.5 * H
    assert cont[1].details["stint_start"] == T0.isoformat()


def test_short_stop_does_not_reset_but_does_not_count() -> None:
    evs = fold_events(run(Engine(), TRUCK, timeline([(3 * H, 70), (10 * M, 0), (1.5 * H, 70), (25 * M, 0)])))
    (ep,) = of_type(evs, "fatigue.continuous")
    assert ep.start == T0 + h(3) + timedelta(minutes=10) + h(1)
    assert ep.end == T0 + h(4.5) + timedelta(minutes=10)


def test_twenty_minutes_rest_resets() -> None:
    evs = run(Engine(), TRUCK, timeline([(3 * H, 70), (20 * M, 0), (3 * H, 70), (25 * M, 0)]))
    assert of_type(evs, "fatigue.continuous") == []


def test_silence_counts_as_standing() -> None:
    # 3 h driving, 30 min with no report at all (terminal off), 2 h driving.
    reports = timeline([(3 * H, 70)]) + timeline([(2 * H, 70)], start=T0 + h(3.5))
    assert of_type(run(Engine(), TRUCK, reports), "fatigue.continuous") == []
    # Configured to hold the last state across silences of up to an hour, the same
    # data is 5.5 h of driving.
    p = RuleProfiles.from_dict({"defaults": {"fatigue": {"gap_as_rest_s": 3600}}})
    (ep,) = of_type(fold_events(run(Engine(p), TRUCK, reports)), "fatigue.continuous")
    assert ep.start == T0 + h(4)


def test_cumulative_rolling_24h_across_midnight() -> None:
    start = bj(2024, 5, 6, 15, 0)
    day = [(3 * H, 70), (30 * M, 0), (3 * H, 70), (30 * M, 0), (3 * H, 70), (30 * M, 0)]
    evs = fold_events(run(Engine(), TRUCK, timeline(day, start=start)))
    assert of_type(evs, "fatigue.continuous") == []
    (ep,) = of_type(evs, "fatigue.daily")
    # 3 + 3 + 2 h: the 8 h are used up at 00:00 Beijing; the episode ends at the rest.
    assert ep.start == bj(2024, 5, 7, 0, 0) and ep.end == bj(2024, 5, 7, 1, 0)
    assert ep.severity == Severity.MEDIUM
    # Per Beijing calendar day the same driving is 8 h on the 6th and 1 h on the 7th.
    p = RuleProfiles.from_dict({"defaults": {"fatigue": {"daily_mode": "calendar_day"}}})
    assert of_type(run(Engine(p), TRUCK, timeline(day, start=start)), "fatigue.daily") == []


def test_cumulative_window_forgets_yesterday() -> None:
    # 7 h yesterday morning, then 2 h the next afternoon: never 8 h within 24 h.
    reports = timeline([(3.5 * H, 70), (30 * M, 0), (3.5 * H, 70), (30 * M, 0)], start=bj(2024, 5, 6, 6, 0))
    reports += timeline([(2 * H, 70), (30 * M, 0)], start=bj(2024, 5, 7, 12, 0))
    assert of_type(run(Engine(), TRUCK, reports), "fatigue.daily") == []


def test_night_two_hours_for_coaches() -> None:
    trip = timeline([(2.5 * H, 80), (30 * M, 0)], start=bj(2024, 5, 6, 22, 0))
    evs = fold_events(run(Engine(), COACH, trip))
    (ep,) = of_type(evs, "fatigue.night")
    assert ep.start == bj(2024, 5, 7, 0, 0) and ep.end == bj(2024, 5, 7, 0, 30)
    assert of_type(evs, "fatigue.continuous") == []
    # Trucks have no night rule; coaches starting earlier drive only 1.5 h of night.
    assert of_type(run(Engine(), TRUCK, trip), "fatigue.night") == []
    early = timeline([(2.5 * H, 80), (30 * M, 0)], start=bj(2024, 5, 6, 21, 0))
    assert of_type(run(Engine(), COACH, early), "fatigue.night") == []


def test_night_episode_ends_with_the_night() -> None:
    evs = fold_events(run(Engine(), COACH, timeline([(3.5 * H, 80), (30 * M, 0)], start=bj(2024, 5, 7, 3, 30))))
    (ep,) = of_type(evs, "fatigue.night")
    assert ep.start == bj(2024, 5, 7, 5, 30) and ep.end == bj(2024, 5, 7, 6, 0)
    assert ep.details["reason"] == "night_ended"


def test_night_rule_configurable_per_group() -> None:
    p = RuleProfiles.from_dict({"profile": [{"name": "n", "groups": ["g"],
                                             "fatigue": {"night_continuous_s": 3600,
                                                         "night_vehicle_types": ["bus"]}}]})
    bus = vehicle(3, "bus", group="g")
    evs = fold_events(run(Engine(p), bus, timeline([(1.5 * H, 50), (30 * M, 0)], start=bj(2024, 5, 6, 23, 0))))
    (ep,) = of_type(evs, "fatigue.night")
    assert ep.start == bj(2024, 5, 7, 0, 0)


def test_small_hours_on_restricted_roads() -> None:
    mountain = square(9, 0, 0, 5000, road_class="class3")
    lon, lat = at_xy(0, 0)
    trip = timeline([(1.5 * H, 60), (30 * M, 0)], start=bj(2024, 5, 7, 1, 0), lon=lon, lat=lat)
    evs = fold_events(run(Engine(fences=[mountain]), COACH, trip))
    (ep,) = of_type(evs, "night_driving.restricted")
    assert ep.start == bj(2024, 5, 7, 2, 0) and ep.end == bj(2024, 5, 7, 2, 30)
    assert ep.severity == Severity.HIGH
    # On an expressway the same trip is allowed; and trucks are not concerned.
    motorway = square(9, 0, 0, 5000, road_class="expressway")
    assert of_type(run(Engine(fences=[motorway]), COACH, trip), "night_driving.restricted") == []
    assert of_type(run(Engine(fences=[mountain]), TRUCK, trip), "night_driving.restricted") == []
    # Restricted everywhere (the 接驳 rule for long-distance coaches).
    p = RuleProfiles.from_dict({"defaults": {"fatigue": {"restricted_everywhere": True}}})
    assert of_type(run(Engine(p), COACH, trip), "night_driving.restricted")


def test_fatigue_can_be_limited_to_types() -> None:
    p = RuleProfiles.from_dict({"defaults": {"fatigue": {"vehicle_types": ["coach"]}}})
    assert of_type(run(Engine(p), TRUCK, timeline([(4.5 * H, 70), (25 * M, 0)])), "fatigue.continuous") == []
    assert of_type(run(Engine(p), COACH, timeline([(4.5 * H, 70), (25 * M, 0)])), "fatigue.continuous")
