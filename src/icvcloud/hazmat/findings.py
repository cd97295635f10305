"""Findings about documents: enterprises' operation licences, vehicles' transport
certificates and people's qualifications that have expired or expire soon.

A document is valid through its expiry date. On ``today`` it is *expired* if its
expiry date is before today, *expiring* if it falls within ``window_days`` from
today (today included: a document that expires today is expiring, not expired)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from icvcloud.model.hazmat import EnterpriseDetails, Person, VehicleHazmat

DocumentKind = Literal["operation_licence", "transport_certificate", "qualification"]
FindingStatus = Literal["expired", "expiring"]
DEFAULT_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Finding:
    status: FindingStatus
    document: DocumentKind
    number: str
    expiry: date
    #: Days from today to the expiry date: 0 expires today, negative already expired.
    days_left: int
    org_id: int | None
    #: What holds the document: "enterprise", "vehicle" or "person", its ID and name/plate.
    subject: Literal["enterprise", "vehicle", "person"]
    subject_id: int
    subject_name: str
    #: A qualification's kind (driver, escort); empty for other documents.
    detail: str = ""

    @property
    def message(self) -> str:
        what = {"operation_licence": "road transport operation licence",
                "transport_certificate": "vehicle transport certificate",
                "qualification": f"{self.detail} qualification certificate"}[self.document]
        if self.status == "expired":
            return (f"{self.subject} {self.subject_name}: {what} {self.number} expired on "
                    f"{self.expiry.isoformat()}")
        return f"{self.subject} {self.subject_name}: {what} {self.number} expires on {self.expiry.isoformat()}"


def status_of(expiry: date, today: date, window_days: int = DEFAULT_WINDOW_DAYS) -> FindingStatus | None:
    if expiry < today:
        return "expired"
    if expiry <= today + timedelta(days=window_days):
        return "expiring"
    return None


def document_findings(today: date, *, enterprises: Iterable[EnterpriseDetails] = (),
                      vehicles: Iterable[VehicleHazmat] = (), people: Iterable[Person] = (),
                      window_days: int = DEFAULT_WINDOW_DAYS) -> list[Finding]:
    """Expired and expiring documents, expired first, then by expiry date."""
    if window_days < 0:
        raise ValueError("window_days must be ≥ 0")
    out: list[Finding] = []

    def add(expiry: date, document: DocumentKind, number: str, org_id: int | None,
            subject: Literal["enterprise", "vehicle", "person"], subject_id: int, name: str, detail: str = "") -> None:
        status = status_of(expiry, today, window_days)
        if status is not None:
            out.append(Finding(status, document, number, expiry, (expiry - today).days, org_id, subject, subject_id,
                               name, detail))

    for e in enterprises:
        add(e.valid_until, "operation_licence", e.operation_licence_no, e.org_id, "enterprise", e.org_id, e.name)
    for v in vehicles:
        add(v.certificate_expiry, "transport_certificate", v.certificate_no, v.org_id, "vehicle", v.vehicle_id,
            v.plate)
    for p in people:
        for q in p.qualifications:
            add(q.expiry, "qualification", q.number, p.org_id, "person", p.id, p.name, q.kind)
    out.sort(key=lambda f: (f.status != "expired", f.expiry, f.subject, f.subject_id, f.number))
    return out
