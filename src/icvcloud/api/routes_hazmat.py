"""Hazmat registry: enterprises' licences, vehicles' hazmat attributes, drivers and
escorts with their qualifications, assignments; document findings; the UN number
table (docs/hazmat.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from icvcloud.hazmat.findings import document_findings
from icvcloud.hazmat.validation import local_day
from icvcloud.model.hazmat import Assignment, EnterpriseDetails, Person, VehicleHazmat
from icvcloud.store.hazmat_base import InUse, PeopleFilter

from .auth import Operator, Services, Viewer, write_scope
from .hazmat_access import INT4_MAX, READ_ONLY, carrier_of, not_found, refused
from .hazmat_schemas import (
    AssignmentIn,
    AssignmentOut,
    EnterpriseIn,
    EnterpriseOut,
    FindingOut,
    PeoplePage,
    PersonIn,
    PersonOut,
    PersonUpdate,
    Role,
    UnEntryOut,
    VehicleHazmatIn,
    VehicleHazmatOut,
)
from .hazmat_services import hazmat_services
from .hazmat_views import (
    assignment_out,
    enterprise_out,
    finding_out,
    person_out,
    qualifications,
    un_out,
    vehicle_out,
)
from .schemas import MAX_ID, Error

router = APIRouter(prefix="/hazmat", tags=["hazmat registry"])

OrgId = Annotated[int, Path(ge=1, le=MAX_ID, description="Organisation (enterprise) ID")]
VehicleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Vehicle ID")]
PersonId = Annotated[int, Path(ge=1, le=MAX_ID, description="Person ID")]
AssignmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="Assignment ID")]
_READ: dict[int | str, dict[str, Any]] = {401: {"model": Error}, 404: {"model": Error, "description": "Not found "
                                                                       "(or not the caller's)"}}
_WRITE: dict[int | str, dict[str, Any]] = {**_READ, 403: {"model": Error, "description": "Needs the operator role "
                                                          "and the record's own enterprise"}}


# -- enterprises

@router.get("/enterprises", summary="Enterprises' hazmat registrations the caller sees", responses=_READ)
async def list_enterprises(caller: Viewer, services: Services) -> list[EnterpriseOut]:
    return [enterprise_out(e) for e in await hazmat_services(services).store.list_enterprises(caller.scope)]


@router.get("/enterprises/{org_id}", summary="One enterprise's hazmat registration", responses=_READ)
async def get_enterprise(org_id: OrgId, caller: Viewer, services: Services) -> EnterpriseOut:
    e = await hazmat_services(services).store.get_enterprise(caller.scope, org_id)
    if e is None:
        raise not_found(f"hazmat registration of organisation {org_id}")
    return enterprise_out(e)


@router.put("/enterprises/{org_id}", summary="Register or update an enterprise's licences and scope",
            responses=_WRITE)
async def put_enterprise(org_id: OrgId, req: EnterpriseIn, caller: Operator, services: Services) -> EnterpriseOut:
    h = hazmat_services(services)
    await carrier_of(services, caller, org_id)
    d = EnterpriseDetails(org_id=org_id, business_licence_no=req.business_licence_no,
                          operation_licence_no=req.operation_licence_no, classes=tuple(req.classes),
                          valid_from=req.valid_from, valid_until=req.valid_until)
    if not await h.store.put_enterprise(write_scope(caller), d, h.clock()):
        raise not_found(f"organisation {org_id}")
    return await get_enterprise(org_id, caller, services)


# -- vehicles

@router.get("/vehicles", summary="Vehicles' hazmat attributes the caller sees", responses=_READ)
async def list_vehicles(caller: Viewer, services: Services,
                        org_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> list[VehicleHazmatOut]:
    if org_id is not None and org_id > INT4_MAX:
        return []
    return [vehicle_out(v) for v in await hazmat_services(services).store.list_vehicles(caller.scope, org_id)]


@router.get("/vehicles/{vehicle_id}", summary="One vehicle's hazmat attributes", responses=_READ)
async def get_vehicle(vehicle_id: VehicleId, caller: Viewer, services: Services) -> VehicleHazmatOut:
    v = await hazmat_services(services).store.get_vehicle(caller.scope, vehicle_id)
    if v is None:
        raise not_found(f"hazmat vehicle {vehicle_id}")
    return vehicle_out(v)


async def _vehicle_visible(services: Services, caller: Viewer, vehicle_id: int) -> bool:
    return vehicle_id <= INT4_MAX and await services.store.get_vehicle(caller.scope, vehicle_id) is not None


@router.put("/vehicles/{vehicle_id}", summary="Set a vehicle's hazmat attributes", responses=_WRITE)
async def put_vehicle(vehicle_id: VehicleId, req: VehicleHazmatIn, caller: Operator,
                      services: Services) -> VehicleHazmatOut:
    h = hazmat_services(services)
    hv = VehicleHazmat(vehicle_id=vehicle_id, body=req.body, classes=tuple(req.classes),
                       certificate_no=req.certificate_no, certificate_expiry=req.certificate_expiry)
    if not await h.store.put_vehicle(write_scope(caller), hv, h.clock()):
        raise refused(await _vehicle_visible(services, caller, vehicle_id), f"vehicle {vehicle_id}")
    return await get_vehicle(vehicle_id, caller, services)


@router.delete("/vehicles/{vehicle_id}", summary="Remove a vehicle's hazmat attributes", status_code=204,
               responses=_WRITE)
async def delete_vehicle(vehicle_id: VehicleId, caller: Operator, services: Services) -> Response:
    h = hazmat_services(services)
    if not await h.store.delete_vehicle(write_scope(caller), vehicle_id):
        visible = await h.store.get_vehicle(caller.scope, vehicle_id) is not None
        raise refused(visible, f"hazmat vehicle {vehicle_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- people

@router.get("/people", summary="Drivers and escorts the caller sees", responses=_READ)
async def list_people(caller: Viewer, services: Services, role: Role | None = None,
                      org_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                      q: Annotated[str | None, Query(max_length=64, description="Name or certificate number")] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> PeoplePage:
    people, total = await hazmat_services(services).store.list_people(
        caller.scope, PeopleFilter(role=role, org_id=org_id, q=q, limit=limit, offset=offset))
    return PeoplePage(total=total, limit=limit, offset=offset, items=[person_out(p) for p in people])


@router.post("/people", summary="Add a driver or escort", status_code=201, responses=_WRITE)
async def add_person(req: PersonIn, caller: Operator, services: Services) -> PersonOut:
    h = hazmat_services(services)
    org = await carrier_of(services, caller, req.org_id)
    p = Person(id=0, org_id=org, name=req.name, phone=req.phone, qualifications=qualifications(req))
    pid = await h.store.add_person(write_scope(caller), p, h.clock())
    if pid is None:
        raise not_found(f"organisation {org}")
    return await get_person(pid, caller, services)


@router.get("/people/{person_id}", summary="One driver or escort", responses=_READ)
async def get_person(person_id: PersonId, caller: Viewer, services: Services) -> PersonOut:
    p = await hazmat_services(services).store.get_person(caller.scope, person_id)
    if p is None:
        raise not_found(f"person {person_id}")
    return person_out(p)


@router.put("/people/{person_id}", summary="Replace a person's name, phone and qualifications", responses=_WRITE)
async def update_person(person_id: PersonId, req: PersonUpdate, caller: Operator, services: Services) -> PersonOut:
    h = hazmat_services(services)
    p = Person(id=person_id, org_id=0, name=req.name, phone=req.phone, qualifications=qualifications(req))
    if not await h.store.update_person(write_scope(caller), p, h.clock()):
        raise refused(await h.store.get_person(caller.scope, person_id) is not None, f"person {person_id}")
    return await get_person(person_id, caller, services)


@router.delete("/people/{person_id}", summary="Delete a person (not one named on a waybill)", status_code=204,
               responses={**_WRITE, 409: {"model": Error, "description": "Named on waybills"}})
async def delete_person(person_id: PersonId, caller: Operator, services: Services) -> Response:
    h = hazmat_services(services)
    try:
        deleted = await h.store.delete_person(write_scope(caller), person_id)
    except InUse as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    if not deleted:
        raise refused(await h.store.get_person(caller.scope, person_id) is not None, f"person {person_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- assignments

@router.get("/assignments", summary="Drivers and escorts assigned to vehicles", responses=_READ)
async def list_assignments(caller: Viewer, services: Services,
                           vehicle_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                           person_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> list[AssignmentOut]:
    if vehicle_id is not None and vehicle_id > INT4_MAX:
        return []
    rows = await hazmat_services(services).store.list_assignments(caller.scope, vehicle_id, person_id)
    return [assignment_out(a) for a in rows]


@router.post("/assignments", summary="Assign a driver or escort to a vehicle (same enterprise)", status_code=201,
             responses=_WRITE)
async def add_assignment(req: AssignmentIn, caller: Operator, services: Services) -> AssignmentOut:
    h = hazmat_services(services)
    aid = await h.store.add_assignment(write_scope(caller), Assignment(id=0, vehicle_id=req.vehicle_id,
                                                                       person_id=req.person_id, role=req.role))
    if aid is None:
        person = await h.store.get_person(caller.scope, req.person_id)
        row = await services.store.get_vehicle(caller.scope, req.vehicle_id) if req.vehicle_id <= INT4_MAX else None
        if person is None or row is None:
            raise not_found(f"vehicle {req.vehicle_id} or person {req.person_id}")
        ws = write_scope(caller)
        if not (ws.allows(person.org_id) and ws.allows(row.vehicle.org_id)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, READ_ONLY)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "vehicle and person must belong to the same enterprise")
    return next(assignment_out(a) for a in await h.store.list_assignments(caller.scope, req.vehicle_id,
                                                                           req.person_id) if a.id == aid)


@router.delete("/assignments/{assignment_id}", summary="Remove an assignment", status_code=204, responses=_WRITE)
async def delete_assignment(assignment_id: AssignmentId, caller: Operator, services: Services) -> Response:
    h = hazmat_services(services)
    if not await h.store.delete_assignment(write_scope(caller), assignment_id):
        visible = any(a.id == assignment_id for a in await h.store.list_assignments(caller.scope))
        raise refused(visible, f"assignment {assignment_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- findings

@router.get("/findings", summary="Expired and expiring documents (licences, certificates, qualifications)",
            responses=_READ)
async def findings(caller: Viewer, services: Services,
                   within_days: Annotated[int | None, Query(ge=0, le=3650, description="Default: configured "
                                                                                        "(30)")] = None,
                   on: Annotated[date | None, Query(description="The day to judge on; default: today "
                                                                "(local time)")] = None) -> list[FindingOut]:
    h = hazmat_services(services)
    today = on or local_day(h.clock(), h.rules.utc_offset_h)
    people, _ = await h.store.list_people(caller.scope, PeopleFilter(limit=1_000_000))
    found = document_findings(today, enterprises=await h.store.list_enterprises(caller.scope),
                              vehicles=await h.store.list_vehicles(caller.scope), people=people,
                              window_days=h.expiring_within_days if within_days is None else within_days)
    return [finding_out(f) for f in found]


# -- UN numbers

@router.get("/un-numbers", summary="Search the UN number table by number or name", responses=_READ)
async def search_un(_caller: Viewer, services: Services,
                    q: Annotated[str, Query(min_length=1, max_length=64)],
                    limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[UnEntryOut]:
    return [un_out(e) for e in hazmat_services(services).un().search(q, limit)]


@router.get("/un-numbers/{un_number}", summary="One UN number", responses=_READ)
async def get_un(un_number: Annotated[str, Path(pattern=r"^(UN ?)?\d{4}$")], _caller: Viewer,
                 services: Services) -> UnEntryOut:
    e = hazmat_services(services).un().get(un_number)
    if e is None:
        raise not_found(f"UN number {un_number} in the table")
    return un_out(e)
