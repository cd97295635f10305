"""The pure parts: metrics from facts, the score and ranking, report periods."""

from __future__ import annotations

from datetime import date

import pytest
from pytest import approx

from icvcloud.reports.metrics import Tally, day_tally, rates, summarise
from icvcloud.reports.periods import Period, PeriodError, last_complete_month, period
from icvcloud.reports.scoring import Weights, rank, score
from icvcloud.store.reports_base import ReportVehicle, VehicleDay

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def vehicle(contact: date | None = None, *, terminal: bool = True) -> ReportVehicle:
    return ReportVehicle(1, "鲁C00001", 7, "hazmat_tanker", terminal, contact)


def test_summary_over_three_days() -> None:
    facts = [
        VehicleDay(1, D2, records=10, qualified=8, mileage_km=20.0, complete_km=15.0, running_s=1800,
                   overspeed_alarms=2, alarms_due=2, alarms_in_time=1),
        VehicleDay(1, D3, records=5, qualified=0, bad_position=5),
    ]
    s = summarise(vehicle(), facts, D1, D3)
    # Networked from its first records (day 2): 2 of 3 days; online on day 2 only (day 3 all bad).
    assert (s.networked, s.networked_from, s.networked_days, s.online_days) == (True, D2, 2, 1)
    r = rates(s.tally())
    assert r.data_qualification == approx(8 / 15)
    assert r.track_completeness == approx(0.75)
    assert (r.online_rate, r.online_day_rate, r.network_rate) == (1.0, 0.5, 1.0)
    assert (r.overspeed_per_100, r.fatigue_per_100, r.alarm_handling_rate) == (100.0, 0.0, 0.5)
    assert (r.mileage_km, r.running_h) == (20.0, 0.5)
    # Day by day: not networked on day 1; day 3 networked but not online.
    assert (day_tally(s, None, D1).networked, day_tally(s, facts[1], D3).online) == (0, 0)
    assert rates(day_tally(s, facts[0], D2)).online_rate == 1.0


def test_contact_before_the_records_counts() -> None:
    s = summarise(vehicle(D1), [], D1, D3)
    assert (s.networked, s.networked_days, s.online_days) == (True, 3, 0)
    assert rates(s.tally()).online_rate == 0.0
    never = summarise(vehicle(None, terminal=False), [], D1, D3)
    t = never.tally()
    assert (t.vehicles, t.networked) == (1, 0)
    r = rates(t)
    assert r.network_rate == 0.0
    assert None is r.online_rate is r.data_qualification is r.track_completeness is r.alarm_handling_rate
    assert r.overspeed_per_100 is None and r.drift_rate is None


def test_tallies_add() -> None:
    a = Tally(vehicles=2, networked=2, online=1, records=10, qualified=9)
    a.add(Tally(vehicles=1, networked=0, records=5, qualified=5, mileage_km=3.5))
    assert (a.vehicles, a.networked, a.online, a.records, a.qualified, a.mileage_km) == (3, 2, 1, 15, 14, 3.5)
    assert rates(Tally()).network_rate is None


def test_score_weights_and_missing_components() -> None:
    perfect = rates(Tally(vehicles=4, networked=4, online=4, records=10, qualified=10, mileage_km=5, complete_km=5,
                          alarms_due=1, alarms_in_time=1))
    assert score(perfect, Weights()) == 100.0
    # Everything perfect but the handling rate 0: 100 − 20 (its weight of 100).
    half = rates(Tally(vehicles=4, networked=4, online=4, records=10, qualified=10, mileage_km=5, complete_km=5,
                       alarms_due=1))
    assert score(half, Weights()) == approx(80.0)
    # Without alarms due, handling is left out: 80 of the 80 remaining weight.
    assert score(rates(Tally(vehicles=1, networked=1, online=1, records=1, qualified=1, mileage_km=1,
                             complete_km=1)), Weights()) == approx(100.0)
    # 2 overspeed vehicles of 4 online: component 0.5, weight 10: 100 − 5.
    over = rates(Tally(vehicles=4, networked=4, online=4, records=1, qualified=1, mileage_km=1, complete_km=1,
                       overspeed_vehicles=2))
    assert score(over, Weights()) == approx(100 - 10 * 0.5 * 100 / 80)
    assert score(rates(Tally()), Weights()) is None
    only_online = Weights(network_rate=0, online_rate=1, track_completeness=0, data_qualification=0,
                          alarm_handling_rate=0, overspeed=0, fatigue=0)
    assert score(rates(Tally(vehicles=4, networked=4, online=1)), only_online) == approx(25.0)
    with pytest.raises(ValueError, match="online_rate"):
        Weights(online_rate=-1)


def test_rank_ties_and_unscored() -> None:
    assert rank([70.0, 90.0, 90.004, None, 50.0]) == [3, 1, 1, None, 4]
    assert rank([]) == []


def test_periods() -> None:
    assert last_complete_month(date(2026, 4, 10)) == Period(date(2026, 3, 1), date(2026, 3, 31))
    assert last_complete_month(date(2026, 1, 1)) == Period(date(2025, 12, 1), date(2025, 12, 31))
    assert period(None, None, date(2024, 3, 5)) == Period(date(2024, 2, 1), date(2024, 2, 29))
    assert period(date(2026, 2, 10), None, date(2026, 4, 1)) == Period(date(2026, 2, 10), date(2026, 2, 28))
    assert period(None, date(2026, 2, 10), date(2026, 4, 1)) == Period(date(2026, 2, 1), date(2026, 2, 10))
    assert period(date(2024, 1, 1), date(2024, 12, 31), date(2026, 1, 1)).days == 366
    for start, end in ((date(2026, 3, 2), date(2026, 3, 1)), (date(2024, 1, 1), date(2025, 1, 1)),
                       (date(1999, 12, 31), None), (None, date(2100, 1, 1))):
        with pytest.raises(PeriodError):
            period(start, end, date(2026, 4, 1))
    p = Period(date(2026, 3, 1), date(2026, 3, 16))
    assert list(p.spans(7)) == [(date(2026, 3, 1), date(2026, 3, 7)), (date(2026, 3, 8), date(2026, 3, 14)),
                                (date(2026, 3, 15), date(2026, 3, 16))]
