"""Issuing waybills through the API: a valid one is stored (number assigned,
planned); each reason it cannot be issued comes back in a 422 with a clear
message naming the document and its expiry; cancelling; listing with filters."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from icvcloud.model.hazmat import Person
from icvcloud.store.base import Scope

from .conftest import NOW, Hz, qual, waybill_json


async def create(hzw: Hz, **kw: Any) -> Any:
    a = hzw.a
    body = waybill_json(None, kw.pop("vehicle", a.tanker), kw.pop("driver", a.driver),
                        kw.pop("escort", a.escort), **kw)
    return await hzw.send("a_op", "POST", "/hazmat/waybills", body)


def reasons(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {x["code"]: x["message"] for x in r.json()["reasons"]}


async def test_a_valid_waybill_is_issued(hzw: Hz) -> None:
    r = await create(hzw)
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["state"] == "planned" and w["org_id"] == hzw.a.org and w["warnings"] == []
    assert w["number"] == f"HZ{w['id']:08d}" and w["created_by"] == "a_op"
    assert w["cargo"][0] == {"un_number": "1203", "name": "Motor spirit or gasoline or petrol", "hazard_class": "3",
                             "packing_group": "II", "quantity": 20.0, "unit": "t"}
    assert (await hzw.get("a_viewer", f"/hazmat/waybills/{w['id']}")).json() == w
    # A given number is kept, and unique per carrier.
    assert (await create(hzw, number="ZB-0001")).json()["number"] == "ZB-0001"
    assert (await create(hzw, number="ZB-0001")).status_code == 409
    assert (await hzw.get("a_viewer", "/hazmat/waybills", q="zb-0001")).json()["total"] == 1


async def test_expired_qualification_blocks_creation(hzw: Hz) -> None:
    a = hzw.a
    driver = await hzw.hz.get_person(Scope.all(), a.driver)
    assert driver is not None
    await hzw.hz.update_person(Scope.all(), replace(driver, qualifications=[
        qual("driver", "DQ-OLD", date(2026, 5, 31))]), NOW)
    got = reasons(await create(hzw))
    assert got == {"driver_expired": "driver Driver A: driver qualification certificate DQ-OLD (class 3) expired on "
                                     "2026-05-31"}
    r = await create(hzw)
    assert "DQ-OLD" in r.json()["detail"] and "2026-05-31" in r.json()["detail"]
    assert (await hzw.get("a_viewer", "/hazmat/waybills")).json()["total"] == 1  # nothing stored


async def test_qualification_expiring_before_arrival(hzw: Hz) -> None:
    escort = await hzw.hz.get_person(Scope.all(), hzw.a.escort)
    assert escort is not None
    await hzw.hz.update_person(Scope.all(), replace(escort, qualifications=[
        qual("escort", "EQ-SOON", date(2026, 6, 2))]), NOW)
    late = NOW + timedelta(days=1, hours=20)  # arrives 2026-06-03 local
    got = reasons(await create(hzw, arrival_until=late.isoformat()))
    assert got["escort_expired"] == ("escort Escort A: escort qualification certificate EQ-SOON (class 3) expires on "
                                     "2026-06-02, before the planned arrival (2026-06-03)")
    assert (await create(hzw)).status_code == 201  # arriving the same day: valid through its expiry date


async def test_wrong_classes(hzw: Hz) -> None:
    # Chlorine is 2.3: not in the vehicle's permitted classes (3, 8); the driver's "2" covers it.
    cargo = [{"un_number": "1017", "hazard_class": "2.3", "quantity": 1, "unit": "t"}]
    got = reasons(await create(hzw, cargo=cargo))
    assert set(got) == {"vehicle_class"}
    assert got["vehicle_class"] == "vehicle 鲁CA1001 is not permitted to carry class 2.3 (permitted: 3, 8)"
    # Sodium cyanide (6.1): outside the licence's scope and the people's qualifications too.
    cargo = [{"un_number": "1689", "hazard_class": "6.1", "packing_group": "I", "quantity": 1, "unit": "t"}]
    assert set(reasons(await create(hzw, cargo=cargo))) == {"vehicle_class", "licence_scope", "driver_class",
                                                             "escort_class"}
    # A line whose class is not the table's.
    cargo = [{"un_number": "1203", "hazard_class": "8", "packing_group": "II", "quantity": 1, "unit": "t"}]
    got = reasons(await create(hzw, cargo=cargo))
    assert got["class_mismatch"] == "cargo line 1: UN1203 (Motor spirit or gasoline or petrol) is class 3, not 8"
    cargo = [{"un_number": "1203", "hazard_class": "3", "packing_group": "III", "quantity": 1, "unit": "t"}]
    assert reasons(await create(hzw, cargo=cargo)) == {
        "packing_group": "cargo line 1: UN1203 takes packing group II, not III"}


async def test_unknown_un_number(hzw: Hz) -> None:
    cargo = [{"un_number": "0000", "hazard_class": "3", "quantity": 1, "unit": "t"}]
    assert reasons(await create(hzw, cargo=cargo)) == {"un_unknown": "cargo line 1: UN0000 is not a known UN number"}


async def test_missing_escort(hzw: Hz) -> None:
    got = reasons(await create(hzw, escort=None))
    assert set(got) == {"escort_missing"} and "escort (押运员) is required" in got["escort_missing"]
    assert set(reasons(await create(hzw, escort=hzw.a.driver))) == {"escort_is_driver"}
    # A person without an escort qualification.
    pid = await hzw.hz.add_person(Scope.all(), Person(0, hzw.a.org, "Helper", "", [qual("driver", "DQ-H")]), NOW)
    assert reasons(await create(hzw, escort=pid)) == {
        "escort_unqualified": "escort Helper holds no escort qualification certificate"}


async def test_offline_terminal_refuses_or_warns(hzw: Hz) -> None:
    got = reasons(await create(hzw, vehicle=hzw.a.van))
    assert got == {"terminal_offline": "vehicle 鲁CA2002: terminal 2002 is offline"}
    hzw.services.rules = replace(hzw.services.rules, offline_terminal="warn")
    r = await create(hzw, vehicle=hzw.a.van)
    assert r.status_code == 201 and r.json()["warnings"] == ["vehicle 鲁CA2002: terminal 2002 is offline"]


async def test_expired_documents_of_vehicle_and_enterprise(hzw: Hz) -> None:
    a = hzw.a
    v = await hzw.hz.get_vehicle(Scope.all(), a.tanker)
    e = await hzw.hz.get_enterprise(Scope.all(), a.org)
    assert v is not None and e is not None
    await hzw.hz.put_vehicle(Scope.all(), replace(v, certificate_expiry=date(2026, 5, 1)), NOW)
    await hzw.hz.put_enterprise(Scope.all(), replace(e, valid_until=date(2026, 4, 30)), NOW)
    got = reasons(await create(hzw))
    assert got == {
        "vehicle_certificate_expired": f"vehicle 鲁CA1001: transport certificate CERT-A-{a.tanker} expires on "
                                       "2026-05-01, before the planned arrival (2026-06-01)",
        "licence_expired": "carrier's road transport operation licence LIC-A expires on 2026-04-30, before the "
                           "planned arrival (2026-06-01)"}


async def test_windows_and_geometry(hzw: Hz) -> None:
    back = (NOW + timedelta(hours=1)).isoformat()
    assert "window" in reasons(await create(hzw, arrival_until=back))
    two, one = (NOW - timedelta(days=2)).isoformat(), (NOW - timedelta(days=1)).isoformat()
    past = {"departure_from": two, "departure_until": two, "arrival_from": one, "arrival_until": one}
    assert reasons(await create(hzw, **past))["window"] == "planned arrival window is already over"
    assert set(reasons(await create(hzw, route=[[118.0, 36.8], [118.0, 36.8]]))) == {"route"}
    bad_site = {"name": "x", "area": {"kind": "corridor", "sections": []}}
    assert set(reasons(await create(hzw, origin=bad_site))) == {"site"}
    bad_site = {"name": "x", "area": {"kind": "circle", "center": [118.0, 36.8]}}
    assert reasons(await create(hzw, destination=bad_site))["site"].startswith("unloading site area: radius_m")
    # Request-shape errors are the usual 422 (no reasons list).
    r = await create(hzw, departure_from="2026-06-01T12:00:00")
    assert r.status_code == 422 and "UTC offset" in r.text


async def test_cancel_and_filters(hzw: Hz) -> None:
    w = (await create(hzw)).json()
    path = f"/hazmat/waybills/{w['id']}/cancel"
    assert (await hzw.send("a_viewer", "POST", path, {"reason": "x"})).status_code == 403
    r = await hzw.send("a_op", "POST", path, {"reason": "customer postponed"})
    assert r.status_code == 200
    assert r.json()["state"] == "cancelled" and r.json()["cancel_reason"] == "customer postponed"
    assert (await hzw.send("a_op", "POST", path, {"reason": "again"})).status_code == 409
    listed = (await hzw.get("a_viewer", "/hazmat/waybills", state="cancelled")).json()
    assert [x["id"] for x in listed["items"]] == [w["id"]]
    assert (await hzw.get("a_viewer", "/hazmat/waybills", state="planned")).json()["total"] == 1
    assert (await hzw.get("a_viewer", "/hazmat/waybills", person_id=hzw.a.escort)).json()["total"] == 2
    later = (NOW + timedelta(hours=2, minutes=1)).isoformat()
    assert (await hzw.get("a_viewer", "/hazmat/waybills", start=later)).json()["total"] == 0
    assert (await hzw.get("a_viewer", "/hazmat/waybills", end=later)).json()["total"] == 2
    # A person named on a waybill cannot be deleted.
    assert (await hzw.send("a_op", "DELETE", f"/hazmat/people/{hzw.a.escort}")).status_code == 409
