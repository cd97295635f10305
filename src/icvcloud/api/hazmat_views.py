"""Hazmat records ↔ request and response bodies."""

from __future__ import annotations

from icvcloud.hazmat.findings import Finding
from icvcloud.hazmat.un_numbers import UnEntry, UnTable, normalise_un
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

from .hazmat_schemas import (
    AssignmentOut,
    CargoLineIn,
    CargoLineOut,
    EnterpriseOut,
    FindingOut,
    PersonOut,
    PersonUpdate,
    QualificationIO,
    SiteIO,
    UnEntryOut,
    VehicleHazmatOut,
    WaybillOut,
)


def enterprise_out(e: EnterpriseDetails) -> EnterpriseOut:
    return EnterpriseOut(org_id=e.org_id, name=e.name, business_licence_no=e.business_licence_no,
                         operation_licence_no=e.operation_licence_no, classes=list(e.classes),
                         valid_from=e.valid_from, valid_until=e.valid_until, updated_at=e.updated_at)


def vehicle_out(v: VehicleHazmat) -> VehicleHazmatOut:
    return VehicleHazmatOut(vehicle_id=v.vehicle_id, org_id=v.org_id, plate=v.plate, device_id=v.device_id,
                            online=v.online, body=v.body, classes=list(v.classes), certificate_no=v.certificate_no,
                            certificate_expiry=v.certificate_expiry, updated_at=v.updated_at)


def qualifications(req: PersonUpdate) -> list[Qualification]:
    return [Qualification(kind=q.kind, number=q.number, classes=tuple(q.classes), expiry=q.expiry)
            for q in req.qualifications]


def person_out(p: Person) -> PersonOut:
    return PersonOut(id=p.id, org_id=p.org_id, name=p.name, phone=p.phone, updated_at=p.updated_at,
                     qualifications=[QualificationIO(kind=q.kind, number=q.number, classes=list(q.classes),
                                                     expiry=q.expiry) for q in p.qualifications])


def assignment_out(a: Assignment) -> AssignmentOut:
    return AssignmentOut(id=a.id, vehicle_id=a.vehicle_id, person_id=a.person_id, role=a.role, org_id=a.org_id)


def cargo_line(c: CargoLineIn, table: UnTable) -> CargoLine:
    """A request's cargo line; the name defaults to the UN table's (when the number is known)."""
    un = normalise_un(c.un_number)
    entry = table.get(un)
    name = c.name or (entry.name_en if entry is not None else "")
    return CargoLine(un_number=un, name=name, hazard_class=c.hazard_class, packing_group=c.packing_group,
                     quantity=c.quantity, unit=c.unit)


def site(s: SiteIO) -> Site:
    return Site(name=s.name, address=s.address, area=dict(s.area))


def waybill_out(w: Waybill) -> WaybillOut:
    return WaybillOut(
        id=w.id, org_id=w.org_id, number=w.number, state=w.state, state_at=w.state_at, shipper=w.shipper,
        consignee=w.consignee,
        vehicle_id=w.vehicle_id, driver_id=w.driver_id, escort_id=w.escort_id,
        cargo=[CargoLineOut(un_number=c.un_number, name=c.name, hazard_class=c.hazard_class,
                            packing_group=c.packing_group,  # type: ignore[arg-type]
                            quantity=c.quantity, unit=c.unit)  # type: ignore[arg-type]
               for c in w.cargo],
        origin=SiteIO(name=w.origin.name, address=w.origin.address, area=w.origin.area),
        destination=SiteIO(name=w.destination.name, address=w.destination.address, area=w.destination.area),
        departure_from=w.departure_from, departure_until=w.departure_until, arrival_from=w.arrival_from,
        arrival_until=w.arrival_until, route=w.route, corridor_m=w.corridor_m, warnings=w.warnings,
        created_at=w.created_at, created_by=w.created_by, cancelled_at=w.cancelled_at,
        cancel_reason=w.cancel_reason, cancelled_by=w.cancelled_by)


def finding_out(f: Finding) -> FindingOut:
    return FindingOut(status=f.status, document=f.document, number=f.number, expiry=f.expiry,
                      days_left=f.days_left, org_id=f.org_id, subject=f.subject, subject_id=f.subject_id,
                      subject_name=f.subject_name, detail=f.detail, message=f.message)


def un_out(e: UnEntry) -> UnEntryOut:
    return UnEntryOut(un_number=e.un_number, hazard_class=e.hazard_class,
                      subsidiary_hazards=list(e.subsidiary_hazards), packing_groups=list(e.packing_groups),
                      name_en=e.name_en, name_zh=e.name_zh)
