"""A synthetic month (March 2026) for a small fleet, written straight into the
store (SQLite and PostgreSQL + PostGIS), whose report figures the tests work out by
hand. Times are Beijing local (UTC+8) unless a name says UTC.

Organisations: the city bureau; district A with enterprise A under it; district B
with enterprise B. Vehicles and what they do in March:

* A1 (terminal 3001) drives on days 1–10, each day an 11-report drive northward at
  10:00, one report per 30 s, 0.005° of latitude per step (``standard``); day 3 has
  a 10-minute gap before its last report, day 4 a 0.025° (2.78 km) jump in 120 s,
  day 6 a single-point drift (0.2° east, 15 s from its neighbours).
* A2 (3002) drives on day 2 with eight bad records among its 11 good ones (one of
  each kind), and on days 20 and 21.
* A3 (3003) has a provisioned terminal that never reached the platform.
* B1 (3004) stands still at 23:59 on 28 Feb and 31 Mar and at 00:01 on 1 Mar and
  1 Apr, and drives on day 15.
* B2 (3005) reported once, on 10 Feb, and never in March.
* B3 has no terminal.

Alarms (the alarm store's own API): A1 overspeed on day 5 handled after 10 min, A1
fatigue on day 7 handled after 2 h, A1 overspeed pre-warning on day 8 (low), A2
fence alarm on day 20 never handled, A2 data-quality finding on day 2, A2 fatigue
on day 21 retracted, B1 fatigue on day 15 escalated (deadline two days on) and
handled the next day, B1 overspeed at 23:50 on day 31 created 5 min before "now",
B1 overspeed at 00:05 on 1 April.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.live import LiveHub
from icvcloud.model import Position, Vehicle
from icvcloud.model.alarms import AlarmEvent, AlarmHandling, Severity
from icvcloud.reports.build import ReportSettings
from icvcloud.store.alarms_base import AlarmStore
from icvcloud.store.base import Scope, Store
from tests.api.conftest import PASSWORD_HASH, alarm_store, close_store, new_store

BJ = timedelta(hours=8)
#: "Now": 10:00 on 10 April 2026, Beijing. The default report is March 2026.
NOW = datetime(2026, 4, 10, 10, 0, tzinfo=UTC) - BJ
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
#: Kilometres per degree of latitude (the haversine along a meridian: R·Δφ).
KM_PER_DEG = 6371.0088 * math.pi / 180
STEP_DEG = 0.005
STEP_S = 30


def bj(day: date, hh: int, mm: int = 0, ss: float = 0) -> datetime:
    """A Beijing wall-clock time as UTC."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) + timedelta(seconds=ss) - BJ


def march(d: int) -> date:
    return date(2026, 3, d)


def pos(device: str, t: datetime, lat: float, lon: float, *, speed: float = 60.0, received: datetime | None = None,
        seq: int = 0, **kw: Any) -> Position:
    kw.setdefault("status", 3)  # ACC on, positioned
    return Position(device_id=device, device_time=t, seq=seq, received_at=received or t + timedelta(seconds=2),
                    lat=lat, lon=lon, speed_kmh=speed, **kw)


def drive(device: str, day: date, lon: float = 118.0, *, seq0: int = 0) -> list[Position]:
    """The standard drive: 11 reports from 10:00, 30 s and 0.005° north apart."""
    t0 = bj(day, 10)
    return [pos(device, t0 + timedelta(seconds=STEP_S * i), 36.0 + STEP_DEG * i, lon, seq=seq0 + i)
            for i in range(11)]


def a1_positions() -> list[Position]:
    out: list[Position] = []
    for d in range(1, 11):
        day = march(d)
        ps = drive("3001", day, seq0=100 * d)
        if d == 3:  # the last report comes 10 min after the one before: a time gap
            ps[10].device_time = ps[9].device_time + timedelta(minutes=10)
            ps[10].received_at = ps[10].device_time + timedelta(seconds=2)
        elif d == 4:  # the last step jumps 0.025° (2.78 km) in 120 s: plausible, but a distance gap
            ps[10].device_time = ps[9].device_time + timedelta(seconds=120)
            ps[10].received_at = ps[10].device_time + timedelta(seconds=2)
            ps[10].lat = ps[9].lat + 0.025
        elif d == 6:  # a drift spike between reports 5 and 6
            t = ps[5].device_time + timedelta(seconds=15)
            ps.append(pos("3001", t, ps[5].lat, 118.2, seq=100 * d + 50))
        out += ps
    return out


def a2_positions() -> list[Position]:
    day2 = march(2)
    good = drive("3002", day2, seq0=200)
    t = bj(day2, 10, 0, 5)  # bad records at 10:00:05, :35, … between the good ones

    def at(i: int) -> datetime:
        return t + timedelta(seconds=STEP_S * i)

    bad = [
        pos("3002", at(0), 0.0, 0.0, seq=300),  # position: zero coordinates (outside China)
        pos("3002", at(1), 36.0, 118.0, received=at(1) - timedelta(minutes=10), seq=301),  # time: 10 min ahead
        pos("3002", at(2), 36.0, 118.0, received=at(2) + timedelta(days=8), seq=302),  # time: 8 days late
        pos("3002", at(3), 36.0, 118.0, seq=303, extras={"invalid_device_time": "260231250000"}),  # time: flagged
        pos("3002", at(4), 36.0, 118.0, speed=170.0, seq=304),  # speed
        pos("3002", at(5), 36.0, 118.0, heading_deg=360, seq=305),  # heading
        pos("3002", at(6), 36.0, 118.0, altitude_m=9500, seq=306),  # altitude
        pos("3002", at(7), 36.0, 118.0, status=1, seq=307),  # no fix (ACC on, not positioned)
    ]
    return good + bad + drive("3002", march(20), seq0=400) + drive("3002", march(21), seq0=500)


def b1_positions() -> list[Position]:
    return [pos("3004", bj(date(2026, 2, 28), 23, 59), 37.0, 118.5, seq=1, speed=0.0),
            pos("3004", bj(march(1), 0, 1), 37.0, 118.5, seq=2, speed=0.0),
            *drive("3004", march(15), 118.5, seq0=10),
            pos("3004", bj(march(31), 23, 59), 37.0, 118.5, seq=30, speed=0.0),
            pos("3004", bj(date(2026, 4, 1), 0, 1), 37.0, 118.5, seq=31, speed=0.0)]


@dataclass
class Fleet:
    store: Store
    alarms: AlarmStore
    services: ApiServices
    client: httpx.AsyncClient
    kind: str
    bureau: int
    district_a: int
    district_b: int
    org_a: int
    org_b: int
    v: dict[str, int] = field(default_factory=dict)  # vehicle IDs by name (A1…B3)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"/api/v1/reports{path}", headers=self.auth(user), params=params)


USERS = (("admin", "admin", None), ("bureau", "viewer", "bureau"), ("dist_a", "viewer", "district_a"),
         ("a_viewer", "viewer", "a"), ("a_op", "operator", "a"), ("b_viewer", "viewer", "b"))


async def _alarm(alarms: AlarmStore, key: str, vid: int, device: str, org: int, alarm_type: str, category: str,
                 severity: Severity, start: datetime, created: datetime) -> int:
    e = AlarmEvent(key, vid, device, org, alarm_type, category, "instant", severity,  # type: ignore[arg-type]
                   start, end_time=start)
    (change,) = await alarms.apply_events([e], created, merge_window_s=0)
    return change.alarm.id


async def _handle(alarms: AlarmStore, alarm_id: int, action: str, at: datetime,
                  deadline: datetime | None = None) -> None:
    h = AlarmHandling(alarm_id, action, "seed", at, deadline=deadline)  # type: ignore[arg-type]
    assert await alarms.handle_alarm(Scope.all(), h) is not None


async def seed(store: Store, kind: str) -> Fleet:
    bureau = await store.add_organisation("淄博市交通运输局", "regulator")
    dist_a = await store.add_organisation("张店区运输管理所", "regulator", parent_id=bureau)
    dist_b = await store.add_organisation("临淄区运输管理所", "regulator", parent_id=bureau)
    org_a = await store.add_organisation("张店危险品运输", parent_id=dist_a)
    org_b = await store.add_organisation("临淄化工物流", parent_id=dist_b)
    v: dict[str, int] = {}
    for name, org, device in (("A1", org_a, "3001"), ("A2", org_a, "3002"), ("A3", org_a, "3003"),
                              ("B1", org_b, "3004"), ("B2", org_b, "3005"), ("B3", org_b, None)):
        v[name] = await store.add_vehicle(Vehicle(id=0, plate=f"鲁C{name}888", vehicle_type="hazmat_tanker",
                                                  org_id=org, device_id=device))
    await store.write_positions(a1_positions())
    await store.write_positions(a2_positions())
    await store.write_positions(b1_positions())
    await store.write_positions([pos("3005", datetime(2026, 2, 10, 2, tzinfo=UTC), 36.5, 118.2)])

    alarms = alarm_store(store)
    a1, a2, b1 = v["A1"], v["A2"], v["B1"]
    t = bj(march(5), 10, 2)
    aid = await _alarm(alarms, "a1-over", a1, "3001", org_a, "overspeed", "driving", Severity.MEDIUM, t,
                       t + timedelta(seconds=30))
    await _handle(alarms, aid, "phone_call", t + timedelta(minutes=10, seconds=30))  # in time (30 min)
    t = bj(march(7), 10, 3)
    aid = await _alarm(alarms, "a1-fat", a1, "3001", org_a, "fatigue.continuous", "driving", Severity.HIGH, t,
                       t + timedelta(seconds=30))
    await _handle(alarms, aid, "text_to_driver", t + timedelta(hours=2, seconds=30))  # late
    t = bj(march(8), 10, 4)
    await _alarm(alarms, "a1-warn", a1, "3001", org_a, "overspeed.warning", "driving", Severity.LOW, t, t)
    t = bj(march(20), 10, 1)
    await _alarm(alarms, "a2-fence", a2, "3002", org_a, "fence.enter", "fence", Severity.HIGH, t, t)  # never handled
    t = bj(march(2), 10, 1)
    await _alarm(alarms, "a2-dq", a2, "3002", org_a, "data_quality.out_of_bounds", "data_quality", Severity.LOW,
                 t, t)
    t = bj(march(21), 10, 2)
    gone = AlarmEvent("a2-fat", a2, "3002", org_a, "fatigue.continuous", "driving", "start", Severity.HIGH, t)
    await alarms.apply_events([gone], t, merge_window_s=0)
    retract = AlarmEvent("a2-fat", a2, "3002", org_a, "fatigue.continuous", "driving", "end", Severity.HIGH, t,
                         end_time=t, retracted=True)
    await alarms.apply_events([retract], t + timedelta(minutes=1), merge_window_s=0)
    t = bj(march(15), 10, 3)
    aid = await _alarm(alarms, "b1-fat", b1, "3004", org_b, "fatigue.daily", "driving", Severity.MEDIUM, t,
                       t + timedelta(minutes=1))
    await _handle(alarms, aid, "escalated", bj(march(15), 12), deadline=bj(march(17), 12))
    await _handle(alarms, aid, "phone_call", bj(march(16), 9))  # after 30 min, before the supervision deadline
    t = bj(march(31), 23, 50)
    await _alarm(alarms, "b1-over", b1, "3004", org_b, "overspeed", "driving", Severity.MEDIUM, t,
                 NOW - timedelta(minutes=5))  # late data: still within its deadline
    t = bj(date(2026, 4, 1), 0, 5)
    await _alarm(alarms, "b1-april", b1, "3004", org_b, "overspeed", "driving", Severity.MEDIUM, t, t)

    services = ApiServices(store=store, hub=LiveHub())
    services.reports = ReportSettings(clock=lambda: NOW)  # type: ignore[attr-defined]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services)), base_url="http://icv.test")
    f = Fleet(store, alarms, services, client, kind, bureau, dist_a, dist_b, org_a, org_b, v)
    orgs = {"bureau": bureau, "district_a": dist_a, "a": org_a, "b": org_b}
    for username, role, org in USERS:
        uid = await store.add_user(username, PASSWORD_HASH, role, orgs[org] if org else None)
        f.tokens[username] = await issue_token(store, uid, "test")
    return f


@pytest.fixture(params=["sqlite", "postgres"])
async def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Fleet]:
    store = new_store(request.param, tmp_path)
    await store.open()
    try:
        f = await seed(store, request.param)
        try:
            yield f
        finally:
            await f.client.aclose()
    finally:
        await close_store(store)
