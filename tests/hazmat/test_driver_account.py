"""A driver's own account (read-only self), on both stores: it reads its own record,
the waybills naming it and their trips — and nothing else of its enterprise or any
other, by list, ID or search; a person with an account cannot be deleted."""

from __future__ import annotations

from icvcloud.api import issue_token
from icvcloud.model.hazmat import Person
from icvcloud.store.base import Scope
from tests.api.conftest import PASSWORD_HASH

from .conftest import NOW, Hz, qual, waybill

ALL = Scope.all()


async def driver_token(hzw: Hz, person_id: int, org: int, name: str = "wang") -> str:
    uid = await hzw.store.add_user(name, PASSWORD_HASH, "viewer", org)
    assert await hzw.hz.link_account(uid, person_id)
    return await issue_token(hzw.store, uid, "test")


async def test_a_driver_reads_only_their_own_records(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    # A second waybill of the same enterprise with another driver: not the account's.
    other = await hzw.hz.add_person(ALL, Person(id=0, org_id=a.org, name="Other", qualifications=[
        qual("driver", "DQ-OTHER")]), NOW)
    assert other is not None
    second = await hzw.hz.add_waybill(ALL, waybill(a.org, a.tanker, other, a.escort, number="WB-A2"))
    hzw.tokens["wang"] = await driver_token(hzw, a.driver, a.org)

    me = (await hzw.get("wang", "/me")).json()
    assert me["role"] == "driver" and me["person_id"] == a.driver and me["org_ids"] == [] and not me["sees_all"]
    assert (await hzw.get("wang", "/hazmat/me")).json()["id"] == a.driver
    page = (await hzw.get("wang", "/hazmat/me/waybills")).json()
    assert page["total"] == 1 and [w["id"] for w in page["items"]] == [a.waybill]
    assert (await hzw.get("wang", f"/hazmat/me/waybills/{a.waybill}/trip")).status_code == 200
    for wid in (second, b.waybill, 999_999):
        assert (await hzw.get("wang", f"/hazmat/me/waybills/{wid}/trip")).status_code == 404, wid
    # Everything else is closed to the account, its own enterprise's records too.
    for path in ("/vehicles", f"/vehicles/{a.tanker}", "/organisations", "/hazmat/waybills",
                 f"/hazmat/waybills/{a.waybill}", f"/hazmat/waybills/{a.waybill}/trip", "/hazmat/people",
                 f"/hazmat/people/{a.driver}", "/hazmat/vehicles", "/hazmat/enterprises", "/hazmat/findings",
                 "/hazmat/dashboard", "/reports/enterprises", "/reports/vehicles", "/alarms"):
        r = await hzw.get("wang", path)
        assert r.status_code == 403, (path, r.status_code)
    r = await hzw.send("wang", "POST", f"/hazmat/waybills/{a.waybill}/checkins",
                       {"person_id": a.escort, "role": "escort"})
    assert r.status_code == 403
    # The driver endpoints are for drivers' accounts only.
    assert (await hzw.get("a_op", "/hazmat/me")).status_code == 403
    assert (await hzw.get("admin", "/hazmat/me/waybills")).status_code == 403


async def test_a_person_with_an_account_is_not_deleted(hzw: Hz) -> None:
    a = hzw.a
    pid = await hzw.hz.add_person(ALL, Person(id=0, org_id=a.org, name="Li", qualifications=[
        qual("escort", "EQ-LI")]), NOW)
    assert pid is not None
    await driver_token(hzw, pid, a.org, "li")
    r = await hzw.send("a_op", "DELETE", f"/hazmat/people/{pid}")
    assert r.status_code == 409 and "account" in r.json()["detail"]
    assert await hzw.hz.get_person(ALL, pid) is not None
    assert not await hzw.hz.link_account(1, 999_999)  # no such person
