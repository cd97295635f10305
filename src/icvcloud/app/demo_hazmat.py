"""The demo's hazmat world: the transport enterprises' licences, their tankers' and
vans' certificates, drivers and escorts, a restricted zone on one trip's road, and an
electronic waybill for every simulated hazmat vehicle but one — each a whole trip
the simulator then drives, from a depot of 临淄 (齐鲁化工区) for the tankers.

So the demo shows trips being monitored (loading → in transit → unloading →
completed) and a few findings, all made on purpose and documented here:

* one waybill's approved route is a parallel road ~1 km north for the middle third
  of the trip: a route deviation;
* one waybill's escort never checks in: escort absent;
* one waybill's arrival window is far too tight for its route: arrival overdue;
* one hazmat vehicle has no waybill: moving without a waybill;
* trips that cross the restricted zone: entering a restricted zone;
* an enterprise licence and an escort's qualification expire within the month, a
  driver's qualification has expired: document findings.

Every waybill vehicle gets a driver and an escort of its own (assigned to it).

Everything is written straight to the store (the registry would refuse nothing of
it: the documents on waybills are valid, the vehicles permitted for the classes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import shapely

from icvcloud.model.hazmat import (
    Assignment,
    CargoLine,
    Checkin,
    EnterpriseDetails,
    Person,
    PersonRole,
    Qualification,
    Site,
    VehicleHazmat,
    Waybill,
)
from icvcloud.protocols.jt808.wire import CST
from icvcloud.sim.identity import seeded
from icvcloud.store.alarms_base import AlarmStore, Definition
from icvcloud.store.base import Scope, Store

from .hazmat import hazmat_store

log = logging.getLogger("icvcloud.demo")

ALL = Scope.all()
#: The enterprises (name → licence, classes, days of validity left).
ENTERPRISES = {
    "淄博鲁中危险品运输有限公司": ("鲁交运管许可淄字370305000123号", ("2", "3", "8"), 400),
    "齐鲁化工物流有限公司": ("鲁交运管许可淄字370305000456号", ("2", "3", "5.1", "6.1", "8", "9"), 20),
}
#: Cargo the tankers carry: UN number, class, packing group, tonnes (names from the UN table).
CARGO: tuple[tuple[str, str, str | None, float], ...] = (
    ("1203", "3", "II", 20.0), ("1230", "3", "II", 18.0), ("1789", "8", "II", 15.0), ("1830", "8", "II", 22.0),
    ("1075", "2.1", None, 9.5), ("1824", "8", "II", 16.0))
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN_DRIVER = ("建国", "志强", "海涛", "永刚", "国华", "明亮", "立军", "宏伟", "振东", "卫平", "兴旺", "长江")
GIVEN_ESCORT = ("晓燕", "丽娟", "春梅", "秀英", "桂兰", "玉芳", "淑珍", "海霞", "雪梅", "美玲", "红霞", "文静")
#: A zone closed to hazmat vehicles all day (a school district); its centre is put on
#: one demo trip's road, so the demo shows a restricted-zone entry.
RESTRICTED_ZONE = {"kind": "circle", "radius_m": 400, "vehicle_types": ["hazmat_tanker", "hazmat_van"],
                   "forbidden": [{"start": "00:00", "end": "00:00"}]}
ZONE_NAME = "学校周边危化品禁行区"
SITE_RADIUS_M = 300.0
CORRIDOR_M = 300.0
#: Average speed assumed for a trip's planned arrival window.
PLANNING_KMH = 40.0


@dataclass
class DemoHazmat:
    waybills: int = 0
    vehicles: int = 0
    people: int = 0


def _cert(prefix: str, n: int) -> str:
    return f"{prefix}{370305198000000000 + n * 7919}"


def _simplify(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    line = shapely.LineString(points).simplify(0.0002)  # ~20 m: the corridor is 300 m wide
    return [(round(x, 6), round(y, 6)) for x, y in line.coords]


def _shifted(points: list[tuple[float, float]], dlat: float) -> list[tuple[float, float]]:
    """The middle third moved north by ``dlat`` degrees (a parallel road)."""
    n = len(points)
    if n < 3:
        points = [points[0], ((points[0][0] + points[-1][0]) / 2, (points[0][1] + points[-1][1]) / 2), points[-1]]
        n = 3
    a, b = n // 3, max(n // 3 + 1, 2 * n // 3)
    return [(x, y + dlat) if a <= i < b else (x, y) for i, (x, y) in enumerate(points)]


def _circle(lonlat: tuple[float, float]) -> dict[str, Any]:
    return {"kind": "circle", "center": [round(lonlat[0], 6), round(lonlat[1], 6)], "radius_m": SITE_RADIUS_M}


async def provision_hazmat(store: Store, alarms: AlarmStore | None, fleet: Any, org_ids: dict[str, int],
                           now: datetime) -> DemoHazmat:
    """Registry, zone, waybills and check-ins for the demo fleet (idempotent: skipped
    when the registry already has hazmat vehicles, as after a restart)."""
    hz = hazmat_store(store)
    out = DemoHazmat()
    if await hz.list_vehicles(ALL):
        return out
    today = now.astimezone(CST).date()
    fleet.build()
    rng = seeded(f"{fleet.seed}:hazmat")
    net = fleet.network
    chem_park = net.depots_by_district.get("临淄区") or net.depots
    for name, (licence, classes, days) in ENTERPRISES.items():
        org = org_ids[name]
        await hz.put_enterprise(ALL, EnterpriseDetails(
            org_id=org, business_licence_no=f"91370305MA3C{org:06d}X", operation_licence_no=licence,
            classes=classes, valid_until=today + timedelta(days=days), valid_from=date(2021, 3, 1)), now)
        # A driver whose qualification has expired (on no waybill: it would be refused).
        await _person(hz, org, "郑卫东", "driver", _cert("D", org * 1000), classes, today - timedelta(days=3), now)
        out.people += 1
    hazmat = [(spec, v) for spec, v in zip(fleet.vehicle_specs(), fleet.vehicles, strict=True)
              if spec.vehicle_type in ("hazmat_tanker", "hazmat_van")]
    # The van (or the last hazmat vehicle, if the fleet has no van) drives with no waybill.
    zone: tuple[float, float] | None = None
    stray = next((i for i, (spec, _) in enumerate(hazmat) if spec.vehicle_type == "hazmat_van"), len(hazmat) - 1)
    for i, (spec, sim) in enumerate(hazmat):
        row = await store.vehicle_for_device(spec.device_id)
        if row is None or row.org_id is None or row.org_id not in org_ids.values():
            continue
        org = row.org_id
        tank = spec.vehicle_type == "hazmat_tanker"
        classes = ("2", "3", "8") if tank else ("5.1", "6.1", "8", "9")
        await hz.put_vehicle(ALL, VehicleHazmat(
            vehicle_id=row.id, body="tank" if tank else "van", classes=classes,
            certificate_no=f"鲁交运管淄字{370305000000 + row.id}号",
            certificate_expiry=today + timedelta(days=200 + 30 * (i % 7))), now)
        out.vehicles += 1
        if i == stray:
            continue  # drives with no waybill
        if tank:
            route = net.random_route(rng, origin=rng.choice(chem_park), min_length_m=8000, max_length_m=40000)
        else:
            route = net.random_route(rng, min_length_m=5000, max_length_m=30000)
        sim.begin(route)
        if zone is None and i >= 5 and route.length_m > 10_000:
            zone = route.lonlat_at(0.6 * route.length_m)
        pts = _simplify(route.vertices_lonlat())
        licence_classes = ENTERPRISES[next(n for n, o in org_ids.items() if o == org)][1]
        expiry = today + timedelta(days=300 + 37 * (i % 11))
        driver = await _person(hz, org, SURNAMES[i % 20] + GIVEN_DRIVER[i % 12], "driver", _cert("D", i),
                               licence_classes, expiry, now)
        escort = await _person(hz, org, SURNAMES[(i + 7) % 20] + GIVEN_ESCORT[i % 12], "escort",
                               _cert("E", i), licence_classes, today + timedelta(days=12) if i == 4 else expiry, now)
        out.people += 2
        for pid, role in ((driver, "driver"), (escort, "escort")):
            await hz.add_assignment(ALL, Assignment(id=0, vehicle_id=row.id, person_id=pid, role=role))  # type: ignore[arg-type]
        un, cls, pg, qty = CARGO[i % len(CARGO)] if tank else ("1824", "8", "II", 8.0)
        travel = timedelta(hours=route.length_m / 1000 / PLANNING_KMH)
        tight = i == 2
        wb = Waybill(
            id=0, org_id=org, shipper="齐鲁石化" if tank else "淄博化工原料公司",
            consignee=f"{route.road_name(len(route) - 1) or '张店'}收货站", vehicle_id=row.id,
            driver_id=driver, escort_id=escort,
            cargo=[_cargo(un, cls, pg, qty)],
            origin=Site("齐鲁化工区装车站" if tank else "装货点", _circle(pts[0])),
            destination=Site("卸货站", _circle(pts[-1])),
            departure_from=now - timedelta(minutes=10),
            departure_until=now + (timedelta(minutes=5) if tight else timedelta(hours=1)),
            arrival_from=now + (timedelta(minutes=5) if tight else travel / 2),
            arrival_until=now + (timedelta(minutes=10) if tight else 2 * travel + timedelta(hours=1)),
            route=_shifted(pts, 0.01) if i == 1 else pts, corridor_m=CORRIDOR_M,
            created_at=now, created_by="demo")
        wid = await hz.add_waybill(ALL, wb)
        if wid is None:
            continue
        out.waybills += 1
        if i != 3:  # the fourth trip's escort never checks in
            await hz.add_checkin(ALL, Checkin(0, wid, wb.escort_id or 0, "escort", now, "demo"))
    if alarms is not None and zone is not None:
        spec = {**RESTRICTED_ZONE, "center": [round(zone[0], 6), round(zone[1], 6)]}
        await alarms.add_definition("geofence", Definition(id=0, org_id=None, name=ZONE_NAME, spec=spec,
                                                           kind="circle"))
    log.info("demo hazmat: %d vehicles, %d people, %d waybills", out.vehicles, out.people, out.waybills)
    return out


async def _person(hz: Any, org: int, name: str, kind: PersonRole, number: str, classes: tuple[str, ...], expiry: date,
                  now: datetime) -> int:
    pid = await hz.add_person(ALL, Person(id=0, org_id=org, name=name, phone=f"1386433{org:02d}{len(name):02d}",
                                          qualifications=[Qualification(kind, number, classes, expiry)]), now)
    assert pid is not None
    return int(pid)


def _cargo(un: str, cls: str, pg: str | None, qty: float) -> CargoLine:
    from icvcloud.hazmat.un_numbers import un_table

    e = un_table().get(un)
    return CargoLine(un_number=un, name=e.name_en if e is not None else un, hazard_class=cls, packing_group=pg,
                     quantity=qty, unit="t")
