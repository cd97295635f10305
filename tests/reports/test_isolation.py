"""Tenant isolation through the reports: an enterprise user sees only itself in every
report and format and cannot name another enterprise (404, as if it did not exist);
a district regulator sees its subtree; the city bureau everything."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from .conftest import Fleet

PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}
A_NAME, B_NAME = "张店危险品运输", "临淄化工物流"


async def _org_ids_everywhere(fleet: Fleet, user: str) -> set[int]:
    """The organisations a user's reports mention, in every format."""
    seen: set[int] = set()
    for report in ("enterprises", "vehicles"):
        key = "org_id"
        items = (await fleet.get(user, f"/{report}", **PERIOD)).json()["items"]
        seen |= {i[key] for i in items}
        rows = csv.DictReader(io.StringIO((await fleet.get(user, f"/{report}", format="csv",
                                                           **PERIOD)).content.decode("utf-8-sig")))
        seen |= {int(r[key]) for r in rows}
        ws = openpyxl.load_workbook(io.BytesIO((await fleet.get(user, f"/{report}", format="xlsx",
                                                                **PERIOD)).content)).worksheets[0]
        col = [c.value for c in ws[2]].index(key)
        seen |= {int(r[col]) for r in ws.iter_rows(min_row=3, values_only=True)}
    return seen


@pytest.mark.parametrize(("user", "own", "other"), [("a_viewer", "A", "B"), ("b_viewer", "B", "A"),
                                                     ("dist_a", "A", "B")])
async def test_enterprise_and_district_see_their_own(fleet: Fleet, user: str, own: str, other: str) -> None:
    org = {"A": fleet.org_a, "B": fleet.org_b}
    names = {"A": A_NAME, "B": B_NAME}
    assert await _org_ids_everywhere(fleet, user) == {org[own]}
    ent = (await fleet.get(user, "/enterprises", **PERIOD)).json()["items"]
    assert [(e["org_id"], e["rank"]) for e in ent] == [(org[own], 1)]
    for report in ("enterprises", "vehicles", "daily"):
        page = (await fleet.get(user, f"/{report}", format="html", **PERIOD)).text
        assert names[other] not in page and f"鲁C{other}1888" not in page
    # Naming the other enterprise: 404, in every report and format, never its figures.
    for report in ("vehicles", "daily"):
        for fmt in ("json", "csv", "xlsx", "html"):
            r = await fleet.get(user, f"/{report}", org_id=org[other], format=fmt, **PERIOD)
            assert r.status_code == 404, (report, fmt)
        assert (await fleet.get(user, f"/{report}", org_id=org[own], **PERIOD)).status_code == 200
    # The daily series adds up the caller's vehicles only (A: 152 records, B: 13).
    days = (await fleet.get(user, "/daily", **PERIOD)).json()["items"]
    assert sum(d["records"] for d in days) == {"A": 152, "B": 13}[own]
    assert {d["vehicles"] for d in days} == {3}


async def test_district_cannot_name_the_bureau_or_a_sibling(fleet: Fleet) -> None:
    for org in (fleet.bureau, fleet.district_b, fleet.org_b, 10**6, 2**40):
        assert (await fleet.get("dist_a", "/vehicles", org_id=org, **PERIOD)).status_code == 404
    assert (await fleet.get("dist_a", "/vehicles", org_id=fleet.district_a, **PERIOD)).json()["items"] == []


async def test_bureau_and_admin_see_everything(fleet: Fleet) -> None:
    for user in ("bureau", "admin"):
        assert await _org_ids_everywhere(fleet, user) == {fleet.org_a, fleet.org_b}
        vehicles = (await fleet.get(user, "/vehicles", org_id=fleet.org_b, **PERIOD)).json()["items"]
        assert {v["vehicle_id"] for v in vehicles} == {fleet.v["B1"], fleet.v["B2"], fleet.v["B3"]}
    assert (await fleet.get("admin", "/vehicles", org_id=10**6, **PERIOD)).status_code == 404


async def test_needs_a_token(fleet: Fleet) -> None:
    for report in ("enterprises", "vehicles", "daily"):
        r = await fleet.client.get(f"/api/v1/reports/{report}")
        assert r.status_code == 401
