"""The hazmat repository itself, on both stores: every read and write honours the
scope, and the store-level rules (unique numbers, cancelling only planned
waybills, people on waybills kept, assignments within one enterprise)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from icvcloud.model.hazmat import Assignment, EnterpriseDetails, Person, VehicleHazmat
from icvcloud.store.base import Scope
from icvcloud.store.hazmat_base import DuplicateNumber, InUse, NotAllowed, PeopleFilter, WaybillFilter

from .conftest import NOW, VALID, Hz, qual, waybill

ALL = Scope.all()
NOBODY = Scope.of()


async def test_reads_follow_the_scope(hzw: Hz) -> None:
    hz, a, b = hzw.hz, hzw.a, hzw.b
    sa = Scope.of(a.org)
    assert [e.org_id for e in await hz.list_enterprises(sa)] == [a.org]
    assert await hz.get_enterprise(sa, b.org) is None
    assert {v.vehicle_id for v in await hz.list_vehicles(sa)} == {a.tanker, a.van}
    assert await hz.list_vehicles(sa, b.org) == []
    assert await hz.get_vehicle(sa, b.tanker) is None
    people, total = await hz.list_people(sa, PeopleFilter())
    assert total == 2 and {p.id for p in people} == {a.driver, a.escort}
    assert await hz.list_people(sa, PeopleFilter(q="dq-b")) == ([], 0)
    assert await hz.get_person(sa, b.driver) is None
    assert [x.id for x in await hz.list_assignments(sa)] == [a.assignment]
    assert await hz.list_assignments(sa, b.tanker) == []
    rows, total = await hz.list_waybills(sa, WaybillFilter())
    assert total == 1 and rows[0].id == a.waybill
    assert await hz.list_waybills(sa, WaybillFilter(q="wb-b")) == ([], 0)
    assert await hz.get_waybill(sa, b.waybill) is None
    # The empty scope sees nothing; everything sees both.
    assert await hz.list_enterprises(NOBODY) == [] and await hz.list_vehicles(NOBODY) == []
    assert await hz.list_people(NOBODY, PeopleFilter()) == ([], 0)
    assert await hz.list_waybills(NOBODY, WaybillFilter()) == ([], 0)
    assert await hz.list_assignments(NOBODY) == []
    assert (await hz.list_waybills(ALL, WaybillFilter()))[1] == 2


async def test_writes_follow_the_scope(hzw: Hz) -> None:
    hz, a, b = hzw.hz, hzw.a, hzw.b
    sa = Scope.of(a.org)
    assert not await hz.put_enterprise(sa, EnterpriseDetails(b.org, "", "X", ("3",), VALID), NOW)
    assert not await hz.put_enterprise(ALL, EnterpriseDetails(hzw.bureau, "", "X", ("3",), VALID), NOW)  # regulator
    assert not await hz.put_vehicle(sa, VehicleHazmat(b.tanker, "van", (), "X", VALID), NOW)
    assert not await hz.delete_vehicle(sa, b.tanker)
    assert await hz.add_person(sa, Person(0, b.org, "x"), NOW) is None
    assert not await hz.update_person(sa, Person(b.driver, a.org, "x"), NOW)
    assert not await hz.delete_person(sa, b.driver)
    assert await hz.add_assignment(sa, Assignment(0, b.tanker, b.driver, "driver")) is None
    assert await hz.add_assignment(ALL, Assignment(0, a.tanker, b.driver, "driver")) is None  # two enterprises
    assert not await hz.delete_assignment(sa, b.assignment)
    assert await hz.add_waybill(sa, waybill(b.org, b.tanker, b.driver, b.escort)) is None
    assert await hz.cancel_waybill(sa, b.waybill, "x", "u", NOW) is None
    # B's records are as they were.
    p = await hz.get_person(ALL, b.driver)
    assert p is not None and p.name == "Driver B"
    w = await hz.get_waybill(ALL, b.waybill)
    assert w is not None and w.state == "planned"
    assert len(await hz.list_assignments(ALL, b.tanker)) == 1


async def test_people_roles_and_search(hzw: Hz) -> None:
    hz, a = hzw.hz, hzw.a
    p = await hz.get_person(ALL, a.driver)
    assert p is not None and p.qualifications == [qual("driver", "DQ-A")]
    assert (await hz.list_people(ALL, PeopleFilter(role="escort", org_id=a.org)))[1] == 1
    await hz.update_person(ALL, replace(p, name="王五", qualifications=[qual("escort", "EQ-W")]), NOW)
    assert (await hz.list_people(ALL, PeopleFilter(role="escort", org_id=a.org)))[1] == 2
    assert [x.id for x in (await hz.list_people(ALL, PeopleFilter(q="王")))[0]] == [a.driver]
    assert (await hz.list_people(ALL, PeopleFilter(q="dq-a")))[1] == 0
    assert (await hz.list_people(ALL, PeopleFilter(q="%")))[1] == 0  # literal, not a wildcard
    page, total = await hz.list_people(ALL, PeopleFilter(limit=1, offset=1))
    assert total == 4 and len(page) == 1


async def test_waybill_rules(hzw: Hz) -> None:
    hz, a = hzw.hz, hzw.a
    w = await hz.get_waybill(ALL, a.waybill)
    assert w is not None and w.number == "WB-A" and w.route[0] == (118.30, 36.80)
    assert w.cargo[0].un_number == "1203" and w.origin.area["radius_m"] == 300.0
    with pytest.raises(DuplicateNumber):
        await hz.add_waybill(ALL, waybill(a.org, a.tanker, a.driver, a.escort, number="WB-A"))
    with pytest.raises(InUse):
        await hz.delete_person(ALL, a.escort)
    cancelled = await hz.cancel_waybill(ALL, a.waybill, "postponed", "u1", NOW)
    assert cancelled is not None and cancelled.state == "cancelled" and cancelled.cancelled_at == NOW
    assert cancelled.cancel_reason == "postponed" and cancelled.cancelled_by == "u1"
    with pytest.raises(NotAllowed):
        await hz.cancel_waybill(ALL, a.waybill, "again", "u1", NOW)
    wid = await hz.add_waybill(ALL, waybill(a.org, a.tanker, a.driver, a.escort))
    assert wid is not None
    got = await hz.get_waybill(ALL, wid)
    assert got is not None and got.number == f"HZ{wid:08d}"
    assert (await hz.list_waybills(ALL, WaybillFilter(q=got.number.lower())))[1] == 1


async def test_assignments_and_vehicle_organisation(hzw: Hz) -> None:
    hz, a = hzw.hz, hzw.a
    again = await hz.add_assignment(ALL, Assignment(0, a.tanker, a.driver, "driver"))
    assert again == a.assignment  # assigning again is the same assignment
    pid = await hz.add_person(ALL, Person(0, a.org, "Spare", "", [qual("driver", "DQ-S")]), NOW)
    assert pid is not None
    aid = await hz.add_assignment(ALL, Assignment(0, a.van, pid, "driver"))
    assert aid is not None and await hz.delete_person(ALL, pid)
    assert [x.id for x in await hz.list_assignments(ALL, a.van)] == []  # went with the person
    v = await hz.get_vehicle(ALL, a.tanker)
    assert v is not None and v.org_id == a.org and v.online and v.device_id == "2001"
    van = await hz.get_vehicle(ALL, a.van)
    assert van is not None and not van.online
