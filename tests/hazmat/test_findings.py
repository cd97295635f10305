"""Document findings at the window's boundaries, and the findings endpoint."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from icvcloud.hazmat.findings import document_findings, status_of
from icvcloud.model.hazmat import EnterpriseDetails, Person, Qualification, VehicleHazmat

from .conftest import Hz

TODAY = date(2026, 6, 1)


def test_boundaries() -> None:
    assert status_of(TODAY - timedelta(days=1), TODAY) == "expired"  # expired yesterday
    assert status_of(TODAY, TODAY) == "expiring"  # valid through today
    assert status_of(TODAY + timedelta(days=30), TODAY) == "expiring"  # the window's last day
    assert status_of(TODAY + timedelta(days=31), TODAY) is None
    assert status_of(TODAY + timedelta(days=7), TODAY, window_days=7) == "expiring"
    assert status_of(TODAY + timedelta(days=8), TODAY, window_days=7) is None
    assert status_of(TODAY, TODAY, window_days=0) == "expiring"
    assert status_of(TODAY + timedelta(days=1), TODAY, window_days=0) is None


def test_every_kind_of_document() -> None:
    e = EnterpriseDetails(7, "BL", "LIC-7", ("3",), TODAY - timedelta(days=1), name="鲁中危运")
    v = VehicleHazmat(11, "tank", ("3",), "CERT-11", TODAY, org_id=7, plate="鲁C12345")
    p = Person(5, 7, "张三", qualifications=[Qualification("driver", "DQ-1", ("3",), TODAY + timedelta(days=30)),
                                              Qualification("escort", "EQ-1", ("3",), TODAY + timedelta(days=31))])
    found = document_findings(TODAY, enterprises=[e], vehicles=[v], people=[p])
    assert [(f.status, f.document, f.number, f.days_left, f.subject, f.subject_id) for f in found] == [
        ("expired", "operation_licence", "LIC-7", -1, "enterprise", 7),
        ("expiring", "transport_certificate", "CERT-11", 0, "vehicle", 11),
        ("expiring", "qualification", "DQ-1", 30, "person", 5),
    ]
    assert found[0].message == "enterprise 鲁中危运: road transport operation licence LIC-7 expired on 2026-05-31"
    assert found[2].message == "person 张三: driver qualification certificate DQ-1 expires on 2026-07-01"
    assert document_findings(TODAY, people=[p], window_days=31)[-1].number == "EQ-1"
    with pytest.raises(ValueError):
        document_findings(TODAY, window_days=-1)


async def test_findings_endpoint(hzw: Hz) -> None:
    # The seeded documents are valid until 2027-01-01: 214 days after NOW's local date.
    assert (await hzw.get("a_viewer", "/hazmat/findings")).json() == []
    found = (await hzw.get("a_viewer", "/hazmat/findings", within_days=214)).json()
    assert {f["number"] for f in found} == {"LIC-A", f"CERT-A-{hzw.a.tanker}", f"CERT-A-{hzw.a.van}", "DQ-A", "EQ-A"}
    assert {f["days_left"] for f in found} == {214} and {f["status"] for f in found} == {"expiring"}
    assert (await hzw.get("a_viewer", "/hazmat/findings", within_days=213)).json() == []
    found = (await hzw.get("a_viewer", "/hazmat/findings", on="2027-01-02")).json()
    assert {f["status"] for f in found} == {"expired"} and len(found) == 5
