"""The synthetic month (conftest) reported by the real stores and API, against
figures worked out by hand from what the fleet did."""

from __future__ import annotations

from datetime import date
from typing import Any

from pytest import approx

from icvcloud.engine.geo import CHINA_BOUNDS
from icvcloud.reports.repository import report_store
from icvcloud.store.base import Scope
from icvcloud.store.reports_base import CHINA_BOUNDS as REPORT_BOUNDS
from icvcloud.store.reports_base import FactRules

from .conftest import KM_PER_DEG, MARCH, NOW, Fleet, march

K = KM_PER_DEG
STEP = 0.005 * K  # one standard step, km


def by(items: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {i[key]: i for i in items}


async def test_vehicle_facts(fleet: Fleet) -> None:
    """The per-vehicle figures, each worked out from the conftest's story."""
    r = await fleet.get("admin", "/vehicles", start="2026-03-01", end="2026-03-31")
    assert r.status_code == 200, r.text
    v = by(r.json()["items"], "vehicle_id")
    a1, a2, a3 = v[fleet.v["A1"]], v[fleet.v["A2"]], v[fleet.v["A3"]]
    b1, b2, b3 = v[fleet.v["B1"]], v[fleet.v["B2"]], v[fleet.v["B3"]]

    # A1: ten drives of 11 records, plus the drift point on day 6: 111 records, 110 qualified.
    assert (a1["records"], a1["qualified"], a1["drift_points"]) == (111, 110, 1)
    # Mileage: 7 standard days × 10 steps × 0.005°; day 3 also 10 steps (the last one 10 min long);
    # day 4: 9 steps + the 0.025° jump; day 6: 10 steps (the drift point is left out, its neighbours
    # linked): (0.35 + 0.05 + 0.045 + 0.025 + 0.05)° = 0.52° of latitude.
    assert a1["mileage_km"] == approx(0.52 * K, abs=1e-3)
    # Incomplete: day 3's last step (600 s > 300 s), day 4's jump (2.78 km > 2 km): 0.52° − 0.005° − 0.025°.
    assert a1["track_completeness"] == approx(0.49 / 0.52, abs=1e-6)
    # Running: 7 × 300 s + day 3 270 s (the gap step is not counted) + day 4 (270 + 120) s + day 6 300 s.
    assert a1["running_h"] == approx((7 * 300 + 270 + 390 + 300) / 3600, abs=1e-3)
    assert (a1["networked"], a1["networked_days"], a1["online_days"]) == (True, 31, 10)
    assert a1["data_qualification"] == approx(110 / 111, abs=1e-6)
    # Overspeed (day 5) and fatigue (day 7); the pre-warning on day 8 is neither and needs no handling.
    assert (a1["overspeed_alarms"], a1["fatigue_alarms"]) == (1, 1)
    # Due: both (handled); in time: the overspeed (10 min), not the fatigue (2 h > 30 min).
    assert (a1["alarms_due"], a1["alarms_handled_in_time"], a1["alarm_handling_rate"]) == (2, 1, 0.5)

    # A2: day 2 has 11 good + 8 bad records, days 20 and 21 11 each: 41 records, 33 qualified.
    assert (a2["records"], a2["qualified"]) == (41, 33)
    assert (a2["bad_position"], a2["bad_time"], a2["bad_speed"], a2["bad_heading"], a2["bad_altitude"],
            a2["no_fix"], a2["drift_points"]) == (1, 3, 1, 1, 1, 1, 0)
    assert a2["data_qualification"] == approx(33 / 41, abs=1e-6)
    # Bad records do not break the track: 3 standard drives, all complete.
    assert a2["mileage_km"] == approx(3 * 10 * STEP, abs=1e-3) and a2["track_completeness"] == 1.0
    # Networked from its first records (day 2): 30 days; online on days 2, 20, 21.
    assert (a2["networked_days"], a2["online_days"]) == (30, 3)
    # The fatigue alarm was retracted; the fence alarm is due (deadline passed), never handled; the
    # data-quality finding needs no handling.
    assert (a2["fatigue_alarms"], a2["alarms_due"], a2["alarms_handled_in_time"]) == (0, 1, 0)
    assert a2["alarm_handling_rate"] == 0.0

    # A3: terminal provisioned, never heard from; B3: no terminal.
    for x in (a3, b3):
        assert (x["networked"], x["networked_days"], x["records"], x["mileage_km"]) == (False, 0, 0, 0.0)
        assert x["data_qualification"] is None and x["track_completeness"] is None
        assert x["alarm_handling_rate"] is None

    # B1: the 00:01 report on 1 Mar, the day-15 drive, the 23:59 report on 31 Mar (28 Feb 23:59 and
    # 1 Apr 00:01 belong to other months): 13 records; its standing reports add no mileage.
    assert (b1["records"], b1["qualified"], b1["online_days"], b1["networked_days"]) == (13, 13, 3, 31)
    assert b1["mileage_km"] == approx(10 * STEP, abs=1e-3)
    assert b1["running_h"] == approx(300 / 3600, abs=1e-3)
    # Overspeed at 23:50 on 31 Mar counts (the one at 00:05 on 1 Apr does not) but is not yet due
    # (created 5 min before now); the escalated fatigue alarm was handled before its supervision deadline.
    assert (b1["overspeed_alarms"], b1["fatigue_alarms"], b1["alarms_due"], b1["alarms_handled_in_time"]) == (
        1, 1, 1, 1)

    # B2: a report in February only: networked all month, never online.
    assert (b2["networked"], b2["networked_days"], b2["online_days"], b2["records"]) == (True, 31, 0, 0)


async def test_enterprise_ranking(fleet: Fleet) -> None:
    r = await fleet.get("bureau", "/enterprises")  # default period: the last complete month (now is 10 April)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == ("2026-03-01", "2026-03-31")
    assert [i["org_id"] for i in body["items"]] == [fleet.org_a, fleet.org_b]
    a, b = body["items"]

    # A: 3 vehicles, A1 and A2 networked and online.
    assert (a["vehicles"], a["networked"], a["online"]) == (3, 2, 2)
    assert a["network_rate"] == approx(2 / 3, abs=1e-6) and a["online_rate"] == 1.0
    # Vehicle-days: online 10 + 3, networked 31 + 30.
    assert a["online_day_rate"] == approx(13 / 61, abs=1e-6)
    # Records 111 + 41, qualified 110 + 33.
    assert (a["records"], a["qualified"]) == (152, 143)
    assert a["data_qualification"] == approx(143 / 152, abs=1e-6)
    # Mileage 0.52° + 0.15°, complete 0.49° + 0.15°.
    assert a["mileage_km"] == approx(0.67 * K, abs=1e-3)
    assert a["track_completeness"] == approx(0.64 / 0.67, abs=1e-6)
    assert a["running_h"] == approx((3060 + 900) / 3600, abs=1e-3)
    # A1 drifted, A2 did not: 1 of 2 online vehicles.
    assert a["drift_rate"] == 0.5
    # One overspeed vehicle (A1) and one fatigue vehicle (A1; A2's was retracted) per 2 online.
    assert (a["overspeed_vehicles"], a["overspeed_per_100"], a["fatigue_vehicles"], a["fatigue_per_100"]) == (
        1, 50.0, 1, 50.0)
    # Due 2 (A1) + 1 (A2), in time 1.
    assert (a["alarms_due"], a["alarms_handled_in_time"]) == (3, 1)
    assert a["alarm_handling_rate"] == approx(1 / 3, abs=1e-6)

    # B: 3 vehicles, B1 and B2 networked, B1 online.
    assert (b["vehicles"], b["networked"], b["online"]) == (3, 2, 1)
    assert (b["network_rate"], b["online_rate"]) == (approx(2 / 3, abs=1e-6), 0.5)
    assert b["online_day_rate"] == approx(3 / 62, abs=1e-6)
    assert (b["data_qualification"], b["track_completeness"], b["drift_rate"]) == (1.0, 1.0, 0.0)
    assert (b["overspeed_per_100"], b["fatigue_per_100"], b["alarm_handling_rate"]) == (100.0, 100.0, 1.0)

    # Scores with the default weights (network 10, online 20, track 15, data 15, handling 20,
    # overspeed 10, fatigue 10; the last two as 1 − per-100/100), out of 100:
    score_a = 10 * 2 / 3 + 20 * 1 + 15 * 64 / 67 + 15 * 143 / 152 + 20 / 3 + 10 * 0.5 + 10 * 0.5  # 71.77
    score_b = 10 * 2 / 3 + 20 * 0.5 + 15 + 15 + 20 + 0 + 0  # 66.67
    assert a["score"] == approx(round(score_a, 2)) and b["score"] == approx(round(score_b, 2))
    assert (a["rank"], b["rank"]) == (1, 2)


async def test_daily_series_and_day_boundaries(fleet: Fleet) -> None:
    r = await fleet.get("admin", "/daily", org_id=fleet.org_b, start="2026-03-01", end="2026-03-31")
    assert r.status_code == 200, r.text
    days = by(r.json()["items"], "day")
    assert len(days) == 31
    # 00:01 on 1 March (16:01 UTC on 28 Feb) is 1 March's; 23:59 on 28 Feb is not in the month.
    assert days["2026-03-01"]["records"] == 1
    assert days["2026-03-31"]["records"] == 1  # 23:59 on 31 March; 00:01 on 1 April is April's
    assert days["2026-03-15"]["records"] == 11
    # Day 1: B1 online, B1 and B2 networked (B3 has no terminal).
    d1 = days["2026-03-01"]
    assert (d1["vehicles"], d1["networked"], d1["online"], d1["online_rate"]) == (3, 2, 1, 0.5)
    assert days["2026-03-02"]["online"] == 0 and days["2026-03-02"]["online_rate"] == 0.0
    assert days["2026-03-02"]["data_qualification"] is None  # no records that day
    # The overspeed at 23:50 on 31 March is 31 March's.
    assert days["2026-03-31"]["overspeed_vehicles"] == 1
    # Reported alone, 1 April holds the 00:01 report and the 00:05 overspeed.
    r = await fleet.get("admin", "/daily", org_id=fleet.org_b, start="2026-04-01", end="2026-04-01")
    (apr1,) = r.json()["items"]
    assert (apr1["records"], apr1["overspeed_vehicles"]) == (1, 1)
    # And 28 February the 23:59 report.
    r = await fleet.get("admin", "/daily", org_id=fleet.org_b, start="2026-02-28", end="2026-02-28")
    assert r.json()["items"][0]["records"] == 1


async def test_days_add_up_to_the_month(fleet: Fleet) -> None:
    """A day reported alone gives what it gives inside the month, and the days add up."""
    month = (await fleet.get("admin", "/daily", org_id=fleet.org_a, start="2026-03-01",
                             end="2026-03-31")).json()["items"]
    ent = by((await fleet.get("admin", "/enterprises", start="2026-03-01", end="2026-03-31")).json()["items"],
             "org_id")[fleet.org_a]
    for key in ("records", "qualified", "alarms_due", "alarms_handled_in_time"):
        assert sum(d[key] for d in month) == ent[key], key
    assert sum(d["mileage_km"] for d in month) == approx(ent["mileage_km"], abs=1e-2)
    for day in ("2026-03-03", "2026-03-04", "2026-03-06"):
        (alone,) = (await fleet.get("admin", "/daily", org_id=fleet.org_a, start=day, end=day)).json()["items"]
        assert alone == by(month, "day")[day]
    d6 = by(month, "day")["2026-03-06"]
    assert (d6["records"], d6["qualified"], d6["drift_rate"]) == (12, 11, 1.0)  # A1's drift day
    d3 = by(month, "day")["2026-03-03"]
    assert d3["track_completeness"] == approx(0.9, abs=1e-6)  # 9 of 10 equal steps complete
    d4 = by(month, "day")["2026-03-04"]
    assert d4["track_completeness"] == approx(0.045 / 0.070, abs=1e-6)


async def test_store_facts_directly(fleet: Fleet) -> None:
    """The repository answers per vehicle and day, within the scope it is given."""
    rs = report_store(fleet.store)
    rules = FactRules()
    first, last = MARCH
    ids = [fleet.v[n] for n in ("A1", "A2", "B1")]
    facts = await rs.vehicle_days(Scope.of(fleet.org_a), ids, first, last, rules, NOW)
    assert {f.vehicle_id for f in facts} == {fleet.v["A1"], fleet.v["A2"]}  # B1 is outside the scope
    day6 = next(f for f in facts if f.vehicle_id == fleet.v["A1"] and f.day == march(6))
    assert (day6.records, day6.qualified, day6.drift_points, day6.jump_steps) == (12, 11, 1, 0)
    listed = await rs.report_vehicles(Scope.of(fleet.org_b), first, last, rules)
    assert [x.vehicle_id for x in listed] == [fleet.v["B1"], fleet.v["B2"], fleet.v["B3"]]
    assert [x.contact_day for x in listed] == [first, first, None]
    assert await rs.vehicle_days(Scope.of(), ids, first, last, rules, NOW) == []
    feb = await rs.vehicle_days(Scope.all(), [fleet.v["B1"]], date(2026, 2, 28), date(2026, 2, 28), rules, NOW)
    assert [(f.day, f.records) for f in feb] == [(date(2026, 2, 28), 1)]


def test_china_bounds_agree_with_the_engine() -> None:
    assert REPORT_BOUNDS == CHINA_BOUNDS
