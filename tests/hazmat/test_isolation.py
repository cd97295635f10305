"""Tenant isolation of every hazmat resource: an enterprise's users never see or
change another enterprise's records — by ID, in lists and counts, through search
or filters, or by guessing IDs — and a district regulator sees only the
enterprises under it; regulators read but do not edit."""

from __future__ import annotations

from icvcloud.model.hazmat import TripStateChange
from icvcloud.store.base import Scope

from .conftest import NOW, Hz, waybill_json


def ids(items: list[dict[str, object]], key: str = "id") -> set[object]:
    return {i[key] for i in items}


async def test_enterprises(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    r = await hzw.get("a_viewer", "/hazmat/enterprises")
    assert r.status_code == 200 and ids(r.json(), "org_id") == {a.org}
    assert (await hzw.get("a_viewer", f"/hazmat/enterprises/{a.org}")).json()["operation_licence_no"] == "LIC-A"
    assert (await hzw.get("a_viewer", f"/hazmat/enterprises/{b.org}")).status_code == 404
    body = {"operation_licence_no": "EVIL", "classes": ["1.1D"], "valid_until": "2030-01-01"}
    assert (await hzw.send("a_op", "PUT", f"/hazmat/enterprises/{b.org}", body)).status_code == 404
    assert (await hzw.get("b_op", f"/hazmat/enterprises/{b.org}")).json()["operation_licence_no"] == "LIC-B"
    # An enterprise edits its own; a viewer cannot.
    assert (await hzw.send("a_op", "PUT", f"/hazmat/enterprises/{a.org}", body)).status_code == 200
    assert (await hzw.send("a_viewer", "PUT", f"/hazmat/enterprises/{a.org}", body)).status_code == 403


async def test_vehicles(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    r = await hzw.get("a_viewer", "/hazmat/vehicles")
    assert ids(r.json(), "vehicle_id") == {a.tanker, a.van}
    assert (await hzw.get("a_viewer", "/hazmat/vehicles", org_id=b.org)).json() == []
    assert (await hzw.get("a_viewer", f"/hazmat/vehicles/{b.tanker}")).status_code == 404
    body = {"body": "van", "classes": ["1.1D"], "certificate_no": "X", "certificate_expiry": "2030-01-01"}
    assert (await hzw.send("a_op", "PUT", f"/hazmat/vehicles/{b.tanker}", body)).status_code == 404
    assert (await hzw.send("a_op", "DELETE", f"/hazmat/vehicles/{b.tanker}")).status_code == 404
    after = await hzw.hz.get_vehicle(Scope.all(), b.tanker)
    assert after is not None and after.body == "tank" and after.certificate_no.startswith("CERT-B")
    # Its own: allowed.
    assert (await hzw.send("a_op", "PUT", f"/hazmat/vehicles/{a.van}", body)).json()["body"] == "van"
    assert (await hzw.send("a_op", "DELETE", f"/hazmat/vehicles/{a.van}")).status_code == 204


async def test_people_and_search(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    page = (await hzw.get("a_viewer", "/hazmat/people")).json()
    assert page["total"] == 2 and ids(page["items"]) == {a.driver, a.escort}
    for q in ("Driver B", "DQ-B", "EQ-B", "b"):
        found = (await hzw.get("a_viewer", "/hazmat/people", q=q)).json()
        assert all(p["org_id"] == a.org for p in found["items"]), q
    assert (await hzw.get("a_viewer", "/hazmat/people", q="DQ-B")).json()["total"] == 0
    assert (await hzw.get("a_viewer", "/hazmat/people", org_id=b.org)).json() == {
        "total": 0, "limit": 100, "offset": 0, "items": []}
    assert (await hzw.get("a_viewer", "/hazmat/people", role="escort")).json()["total"] == 1
    assert (await hzw.get("a_viewer", f"/hazmat/people/{b.driver}")).status_code == 404
    body = {"name": "hijacked", "qualifications": []}
    assert (await hzw.send("a_op", "PUT", f"/hazmat/people/{b.driver}", body)).status_code == 404
    assert (await hzw.send("a_op", "DELETE", f"/hazmat/people/{b.escort}")).status_code == 404
    assert (await hzw.send("a_op", "POST", "/hazmat/people", {**body, "org_id": b.org})).status_code == 404
    assert (await hzw.get("b_op", f"/hazmat/people/{b.driver}")).json()["name"] == "Driver B"
    # Its own: created in its organisation by default.
    made = await hzw.send("a_op", "POST", "/hazmat/people", {"name": "New", "qualifications": [
        {"kind": "escort", "number": "EQ-N", "classes": ["3"], "expiry": "2027-01-01"}]})
    assert made.status_code == 201 and made.json()["org_id"] == a.org
    assert (await hzw.get("b_op", f"/hazmat/people/{made.json()['id']}")).status_code == 404


async def test_assignments(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    assert ids((await hzw.get("a_viewer", "/hazmat/assignments")).json()) == {a.assignment}
    assert (await hzw.get("a_viewer", "/hazmat/assignments", vehicle_id=b.tanker)).json() == []
    assert (await hzw.get("a_viewer", "/hazmat/assignments", person_id=b.driver)).json() == []
    cross = {"vehicle_id": b.tanker, "person_id": a.driver, "role": "driver"}
    assert (await hzw.send("a_op", "POST", "/hazmat/assignments", cross)).status_code == 404
    cross = {"vehicle_id": a.tanker, "person_id": b.driver, "role": "driver"}
    assert (await hzw.send("a_op", "POST", "/hazmat/assignments", cross)).status_code == 404
    # Even an administrator cannot pair a vehicle and a person of different enterprises.
    assert (await hzw.send("admin", "POST", "/hazmat/assignments", cross)).status_code == 422
    assert (await hzw.send("a_op", "DELETE", f"/hazmat/assignments/{b.assignment}")).status_code == 404
    assert ids((await hzw.get("b_op", "/hazmat/assignments")).json()) == {b.assignment}
    own = {"vehicle_id": a.van, "person_id": a.escort, "role": "escort"}
    r = await hzw.send("a_op", "POST", "/hazmat/assignments", own)
    assert r.status_code == 201 and r.json()["org_id"] == a.org
    assert (await hzw.send("a_op", "DELETE", f"/hazmat/assignments/{r.json()['id']}")).status_code == 204


async def test_waybills(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    page = (await hzw.get("a_viewer", "/hazmat/waybills")).json()
    assert page["total"] == 1 and ids(page["items"]) == {a.waybill}
    for params in ({"q": "WB-B"}, {"q": "Shipper B"}, {"org_id": b.org}, {"vehicle_id": b.tanker},
                   {"person_id": b.driver}):
        assert (await hzw.get("a_viewer", "/hazmat/waybills", **params)).json()["total"] == 0, params
    assert (await hzw.get("a_viewer", "/hazmat/waybills", q="WB-A")).json()["total"] == 1
    assert (await hzw.get("a_viewer", f"/hazmat/waybills/{b.waybill}")).status_code == 404
    cancel = {"reason": "mischief"}
    assert (await hzw.send("a_op", "POST", f"/hazmat/waybills/{b.waybill}/cancel", cancel)).status_code == 404
    assert (await hzw.get("b_op", f"/hazmat/waybills/{b.waybill}")).json()["state"] == "planned"
    # Creating one for another carrier, or with another carrier's vehicle and people.
    r = await hzw.send("a_op", "POST", "/hazmat/waybills", waybill_json(b.org, b.tanker, b.driver, b.escort))
    assert r.status_code == 404
    r = await hzw.send("a_op", "POST", "/hazmat/waybills", waybill_json(None, b.tanker, b.driver, b.escort))
    assert r.status_code == 422
    codes = {x["code"] for x in r.json()["reasons"]}
    assert {"vehicle_unregistered", "driver_unknown", "escort_unknown"} <= codes
    assert "Driver B" not in r.text and "鲁CB" not in r.text  # nothing about B's records leaks


async def test_guessed_ids(hzw: Hz) -> None:
    """Walking IDs in URLs finds exactly the caller's own records."""
    a = hzw.a
    top = max(hzw.b.waybill, hzw.b.escort, hzw.b.assignment, hzw.b.tanker) + 3
    for path, mine in (("/hazmat/people/{}", {a.driver, a.escort}), ("/hazmat/waybills/{}", {a.waybill}),
                       ("/hazmat/vehicles/{}", {a.tanker, a.van}), ("/hazmat/enterprises/{}", {a.org})):
        seen = {i for i in range(1, top + 1) if (await hzw.get("a_viewer", path.format(i))).status_code == 200}
        assert seen == mine, path
    for big in (2**31, 2**63 - 1):
        for path in ("/hazmat/people/{}", "/hazmat/waybills/{}", "/hazmat/vehicles/{}", "/hazmat/enterprises/{}"):
            assert (await hzw.get("admin", path.format(big))).status_code == 404, path


async def test_findings_are_scoped(hzw: Hz) -> None:
    found = (await hzw.get("a_viewer", "/hazmat/findings", within_days=365)).json()
    assert found and {f["org_id"] for f in found} == {hzw.a.org}
    found = (await hzw.get("bureau", "/hazmat/findings", within_days=365)).json()
    assert {f["org_id"] for f in found} == {hzw.a.org, hzw.b.org}


async def test_district_regulator_sees_its_jurisdiction_only(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    assert ids((await hzw.get("dist_a", "/hazmat/enterprises")).json(), "org_id") == {a.org}
    assert ids((await hzw.get("dist_a", "/hazmat/waybills")).json()["items"]) == {a.waybill}
    assert (await hzw.get("dist_a", "/hazmat/people")).json()["total"] == 2
    assert (await hzw.get("dist_a", f"/hazmat/waybills/{b.waybill}")).status_code == 404
    assert (await hzw.get("dist_a", f"/hazmat/people/{b.driver}")).status_code == 404
    # The core registry follows the same jurisdiction.
    vehicles = (await hzw.get("dist_a", "/vehicles")).json()
    assert {v["org_id"] for v in vehicles["items"]} == {a.org}
    orgs = {o["id"] for o in (await hzw.get("dist_a", "/organisations")).json()}
    assert orgs == {hzw.district_a, a.org}
    # The city bureau sees every district's.
    assert ids((await hzw.get("bureau", "/hazmat/waybills")).json()["items"]) == {a.waybill, b.waybill}
    assert (await hzw.get("bureau", "/vehicles")).json()["total"] == 4


async def test_regulators_read_but_do_not_edit(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    cancel = {"reason": "regulator"}
    assert (await hzw.send("dist_a_op", "POST", f"/hazmat/waybills/{a.waybill}/cancel", cancel)).status_code == 403
    assert (await hzw.send("dist_a_op", "POST", f"/hazmat/waybills/{b.waybill}/cancel", cancel)).status_code == 404
    body = {"name": "x", "qualifications": []}
    assert (await hzw.send("dist_a_op", "PUT", f"/hazmat/people/{a.driver}", body)).status_code == 403
    assert (await hzw.send("dist_a_op", "POST", "/hazmat/people", {**body, "org_id": a.org})).status_code == 403
    assert (await hzw.send("dist_a_op", "POST", "/hazmat/people", body)).status_code == 422  # not an enterprise
    r = await hzw.send("dist_a_op", "POST", "/hazmat/waybills", waybill_json(a.org, a.tanker, a.driver, a.escort))
    assert r.status_code == 403
    assert (await hzw.get("b_op", f"/hazmat/waybills/{b.waybill}")).json()["state"] == "planned"
    # An administrator may.
    r = await hzw.send("admin", "POST", f"/hazmat/waybills/{b.waybill}/cancel", cancel)
    assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["cancelled_by"] == "admin"


async def test_trips_checkins_and_dashboard(hzw: Hz) -> None:
    a, b = hzw.a, hzw.b
    await hzw.hz.apply_trip_changes([TripStateChange(a.waybill, "loading", "planned", NOW, "report"),
                                     TripStateChange(b.waybill, "loading", "planned", NOW, "report")])
    trip = await hzw.get("a_viewer", f"/hazmat/waybills/{a.waybill}/trip")
    assert trip.status_code == 200 and [h["state"] for h in trip.json()["history"]] == ["loading"]
    for user in ("a_viewer", "a_op", "dist_a"):
        assert (await hzw.get(user, f"/hazmat/waybills/{b.waybill}/trip")).status_code == 404, user
    # Check-ins: another enterprise's waybill does not exist; a regulator may not check anyone in;
    # only the waybill's own escort can be checked in as its escort.
    body = {"person_id": b.escort, "role": "escort"}
    assert (await hzw.send("a_op", "POST", f"/hazmat/waybills/{b.waybill}/checkins", body)).status_code == 404
    own = {"person_id": a.escort, "role": "escort"}
    assert (await hzw.send("dist_a_op", "POST", f"/hazmat/waybills/{a.waybill}/checkins", own)).status_code == 403
    assert (await hzw.send("a_viewer", "POST", f"/hazmat/waybills/{a.waybill}/checkins", own)).status_code == 403
    wrong = {"person_id": a.driver, "role": "escort"}
    assert (await hzw.send("a_op", "POST", f"/hazmat/waybills/{a.waybill}/checkins", wrong)).status_code == 422
    made = await hzw.send("a_op", "POST", f"/hazmat/waybills/{a.waybill}/checkins", own)
    assert made.status_code == 201 and made.json()["person_id"] == a.escort
    assert [c["id"] for c in (await hzw.get("a_viewer", f"/hazmat/waybills/{a.waybill}/trip")).json()["checkins"]] \
        == [made.json()["id"]]
    assert await hzw.hz.list_checkins(Scope.all(), b.waybill) == []
    # The dashboard counts only the caller's jurisdiction.
    dash_a = (await hzw.get("a_viewer", "/hazmat/dashboard")).json()
    assert dash_a["trips"]["loading"] == 1 and dash_a["vehicles"]["total"] == 2
    assert dash_a["vehicles"]["carrying"] == {"3": 1}  # the tanker (online) loading its petrol
    assert (await hzw.get("dist_a", "/hazmat/dashboard")).json()["trips"]["loading"] == 1
    bureau = (await hzw.get("bureau", "/hazmat/dashboard")).json()
    assert bureau["trips"]["loading"] == 2 and bureau["vehicles"]["total"] == 4
    assert bureau["vehicles"]["carrying"] == {"3": 2}
