"""A seeded hazmat world for the API and store tests, on both stores (SQLite and
PostgreSQL + PostGIS, like tests/api): a city bureau with two district sub-units,
an enterprise under each, their vehicles, people, assignments and a waybill each,
and users of every kind."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.api.hazmat_services import HazmatServices
from icvcloud.app.hazmat import hazmat_store
from icvcloud.hazmat.validation import Rules
from icvcloud.live import LiveHub
from icvcloud.model import Position, Vehicle
from icvcloud.model.hazmat import (
    Assignment,
    CargoLine,
    EnterpriseDetails,
    Person,
    Qualification,
    Site,
    VehicleHazmat,
    Waybill,
)
from icvcloud.store.base import Scope, Store
from icvcloud.store.hazmat_base import HazmatStore
from tests.api.conftest import PASSWORD_HASH, close_store, new_store

#: 10:00 Beijing time on 1 June 2026: "today" is 2026-06-01 locally.
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
TODAY = date(2026, 6, 1)
VALID = date(2027, 1, 1)
ALL = Scope.all()
ZIBO = (118.05, 36.81)


def area(lon: float, lat: float, r: float = 300.0) -> dict[str, Any]:
    return {"kind": "circle", "center": [lon, lat], "radius_m": r}


def waybill(org: int, vehicle: int, driver: int, escort: int | None, **kw: Any) -> Waybill:
    """A valid petrol trip two hours from NOW, inside the day."""
    d: dict[str, Any] = dict(
        id=0, org_id=org, shipper="齐鲁石化", consignee="张店加油站", vehicle_id=vehicle, driver_id=driver,
        escort_id=escort, cargo=[CargoLine("1203", "Motor spirit or gasoline or petrol", "3", "II", 20.0, "t")],
        origin=Site("齐鲁石化装车站", area(118.30, 36.80)), destination=Site("张店加油站", area(118.05, 36.81)),
        departure_from=NOW + timedelta(hours=2), departure_until=NOW + timedelta(hours=3),
        arrival_from=NOW + timedelta(hours=5), arrival_until=NOW + timedelta(hours=8),
        route=[(118.30, 36.80), (118.20, 36.81), (118.05, 36.81)], corridor_m=500.0, created_at=NOW,
        created_by="seed")
    d.update(kw)
    return Waybill(**d)


def waybill_json(org: int | None, vehicle: int, driver: int, escort: int | None, **kw: Any) -> dict[str, Any]:
    """The same trip as an API request body."""
    w = waybill(org or 0, vehicle, driver, escort)
    body: dict[str, Any] = {
        "shipper": w.shipper, "consignee": w.consignee, "vehicle_id": vehicle, "driver_id": driver,
        "escort_id": escort,
        "cargo": [{"un_number": "UN1203", "hazard_class": "3", "packing_group": "II", "quantity": 20, "unit": "t"}],
        "origin": w.origin.as_json(), "destination": w.destination.as_json(),
        "departure_from": w.departure_from.isoformat(), "departure_until": w.departure_until.isoformat(),
        "arrival_from": w.arrival_from.isoformat(), "arrival_until": w.arrival_until.isoformat(),
        "route": [list(p) for p in w.route], "corridor_m": 500}
    if org is not None:
        body["org_id"] = org
    body.update(kw)
    return body


def qual(kind: str, number: str, expiry: date = VALID, classes: tuple[str, ...] = ("2", "3", "8")) -> Qualification:
    return Qualification(kind=kind, number=number, classes=classes, expiry=expiry)  # type: ignore[arg-type]


@dataclass
class Side:
    """One enterprise's records."""

    org: int
    tanker: int  # online terminal
    van: int  # terminal never reported (offline)
    driver: int
    escort: int
    assignment: int
    waybill: int


@dataclass
class Hz:
    store: Store
    hz: HazmatStore
    services: HazmatServices
    client: httpx.AsyncClient
    bureau: int
    district_a: int
    district_b: int
    a: Side
    b: Side
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"/api/v1{path}", headers=self.auth(user), params=params)

    async def send(self, user: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(method, f"/api/v1{path}", headers=self.auth(user), json=body)


async def seed_side(store: Store, hz: HazmatStore, org: int, tag: str, devices: tuple[str, str]) -> Side:
    tanker = await store.add_vehicle(Vehicle(id=0, plate=f"鲁C{tag}1001", vehicle_type="hazmat_tanker", org_id=org,
                                             device_id=devices[0]))
    van = await store.add_vehicle(Vehicle(id=0, plate=f"鲁C{tag}2002", vehicle_type="hazmat_van", org_id=org,
                                          device_id=devices[1]))
    await store.write_positions([Position(device_id=devices[0], device_time=NOW - timedelta(minutes=1), seq=1,
                                          received_at=NOW - timedelta(seconds=50), lat=36.8, lon=118.1)])
    assert await hz.put_enterprise(ALL, EnterpriseDetails(org, f"91370300{tag}", f"LIC-{tag}", ("2", "3", "8"),
                                                          VALID), NOW)
    for v in (tanker, van):
        assert await hz.put_vehicle(ALL, VehicleHazmat(v, "tank", ("3", "8"), f"CERT-{tag}-{v}", VALID), NOW)
    driver = await hz.add_person(ALL, Person(0, org, f"Driver {tag}", "13800000000",
                                             [qual("driver", f"DQ-{tag}")]), NOW)
    escort = await hz.add_person(ALL, Person(0, org, f"Escort {tag}", "", [qual("escort", f"EQ-{tag}")]), NOW)
    assert driver is not None and escort is not None
    assignment = await hz.add_assignment(ALL, Assignment(0, tanker, driver, "driver"))
    wid = await hz.add_waybill(ALL, waybill(org, tanker, driver, escort, number=f"WB-{tag}",
                                            shipper=f"Shipper {tag}"))
    assert assignment is not None and wid is not None
    return Side(org, tanker, van, driver, escort, assignment, wid)


USERS = (("admin", "admin", None), ("bureau", "viewer", "bureau"), ("dist_a", "viewer", "district_a"),
         ("dist_a_op", "operator", "district_a"), ("a_op", "operator", "a"), ("a_viewer", "viewer", "a"),
         ("b_op", "operator", "b"))


@contextlib.asynccontextmanager
async def hazmat_world(kind: str, tmp_path: Path) -> AsyncIterator[Hz]:
    """The seeded world on the ``kind`` store ("sqlite" or "postgres"), served by the API."""
    store = new_store(kind, tmp_path)
    await store.open()
    try:
        bureau = await store.add_organisation("淄博市交通运输局", "regulator")
        dist_a = await store.add_organisation("张店区运输管理所", "regulator", parent_id=bureau)
        dist_b = await store.add_organisation("临淄区运输管理所", "regulator", parent_id=bureau)
        org_a = await store.add_organisation("张店危险品运输", parent_id=dist_a)
        org_b = await store.add_organisation("临淄化工物流", parent_id=dist_b)
        hz = hazmat_store(store)
        a = await seed_side(store, hz, org_a, "A", ("2001", "2002"))
        b = await seed_side(store, hz, org_b, "B", ("2003", "2004"))
        services = HazmatServices(store=hz, rules=Rules(), clock=lambda: NOW)
        app = create_app(ApiServices(store=store, hub=LiveHub(), hazmat=services))
        orgs = {"bureau": bureau, "district_a": dist_a, "a": org_a, "b": org_b}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://icv.test") as client:
            w = Hz(store, hz, services, client, bureau, dist_a, dist_b, a, b)
            for username, role, org in USERS:
                uid = await store.add_user(username, PASSWORD_HASH, role, orgs[org] if org else None)
                w.tokens[username] = await issue_token(store, uid, "test")
            yield w
    finally:
        await close_store(store)


@pytest.fixture(params=["sqlite", "postgres"])
async def hzw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hz]:
    async with hazmat_world(request.param, tmp_path) as w:
        yield w
