"""Electronic waybills (电子运单): create (checked: a 422 lists every reason it
cannot be issued), list with filters, detail, cancel (docs/hazmat.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse

from icvcloud.hazmat.validation import Context, validate_waybill
from icvcloud.model.hazmat import Waybill
from icvcloud.store.base import Scope
from icvcloud.store.hazmat_base import DuplicateNumber, NotAllowed, WaybillFilter

from .auth import Operator, Services, Viewer, write_scope
from .hazmat_access import INT4_MAX, WAYBILL_READ, WaybillId, carrier_of, not_found, refused
from .hazmat_schemas import CancelIn, Reason, WaybillIn, WaybillOut, WaybillPage, WaybillRefused
from .hazmat_services import HazmatServices, hazmat_services
from .hazmat_views import cargo_line, site, waybill_out
from .schemas import MAX_ID, Error

router = APIRouter(prefix="/hazmat", tags=["hazmat waybills"])

_WRITE: dict[int | str, dict[str, Any]] = {
    **WAYBILL_READ, 403: {"model": Error, "description": "Needs the operator role and the carrier's own user"}}


@router.get("/waybills", summary="Waybills the caller sees, newest planned departure first", responses=WAYBILL_READ)
async def list_waybills(
        caller: Viewer, services: Services,
        state: Annotated[str | None, Query(pattern=r"^(planned|loading|in_transit|unloading|completed|cancelled)$")]
        = None,
        org_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Carrier")] = None,
        vehicle_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
        person_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="As driver or escort")] = None,
        q: Annotated[str | None, Query(max_length=64, description="Number, shipper or consignee")] = None,
        start: Annotated[datetime | None, Query(description="Planned departure ≥")] = None,
        end: Annotated[datetime | None, Query(description="Planned departure <")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> WaybillPage:
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.utcoffset() is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} needs a UTC offset")
    if any(i is not None and i > INT4_MAX for i in (org_id, vehicle_id)):
        return WaybillPage(total=0, limit=limit, offset=offset, items=[])
    flt = WaybillFilter(state=state, org_id=org_id, vehicle_id=vehicle_id, person_id=person_id, q=q, start=start,
                        end=end, limit=limit, offset=offset)
    rows, total = await hazmat_services(services).store.list_waybills(caller.scope, flt)
    return WaybillPage(total=total, limit=limit, offset=offset, items=[waybill_out(w) for w in rows])


async def _context(h: HazmatServices, w: Waybill, now: datetime) -> Context:
    """What the waybill names, looked up within the carrier only: another
    enterprise's vehicle or person is "not of this carrier", never revealed."""
    carrier = Scope.of(w.org_id)
    return Context(enterprise=await h.store.get_enterprise(carrier, w.org_id),
                   vehicle=await h.store.get_vehicle(carrier, w.vehicle_id),
                   driver=await h.store.get_person(carrier, w.driver_id),
                   escort=await h.store.get_person(carrier, w.escort_id) if w.escort_id is not None else None,
                   un=h.un(), now=now)


@router.post("/waybills", summary="Issue a waybill (checked; 422 lists every reason it cannot be issued)",
             status_code=201, responses={**_WRITE, 409: {"model": Error, "description": "Number taken"},
                                         422: {"model": WaybillRefused}}, response_model=WaybillOut)
async def create_waybill(req: WaybillIn, caller: Operator, services: Services) -> Any:
    h = hazmat_services(services)
    org = await carrier_of(services, caller, req.org_id)
    now = h.clock()
    table = h.un()
    w = Waybill(id=0, org_id=org, number=req.number, shipper=req.shipper, consignee=req.consignee,
                vehicle_id=req.vehicle_id, driver_id=req.driver_id, escort_id=req.escort_id,
                cargo=[cargo_line(c, table) for c in req.cargo], origin=site(req.origin),
                destination=site(req.destination), departure_from=req.departure_from,
                departure_until=req.departure_until, arrival_from=req.arrival_from, arrival_until=req.arrival_until,
                route=[(float(lon), float(lat)) for lon, lat in req.route], corridor_m=req.corridor_m,
                created_at=now, created_by=caller.user.username)
    verdict = validate_waybill(w, await _context(h, w, now), h.rules)
    if not verdict.ok:
        body = WaybillRefused(detail="the waybill cannot be issued: " + "; ".join(p.message for p in verdict.problems),
                              reasons=[Reason(code=p.code, message=p.message) for p in verdict.problems])
        return JSONResponse(body.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    w.warnings = [p.message for p in verdict.warnings]
    try:
        wid = await h.store.add_waybill(write_scope(caller), w)
    except DuplicateNumber as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    if wid is None:
        raise not_found(f"organisation {org}")
    h.waybills_changed()
    return await get_waybill(wid, caller, services)


@router.get("/waybills/{waybill_id}", summary="One waybill", responses=WAYBILL_READ)
async def get_waybill(waybill_id: WaybillId, caller: Viewer, services: Services) -> WaybillOut:
    w = await hazmat_services(services).store.get_waybill(caller.scope, waybill_id)
    if w is None:
        raise not_found(f"waybill {waybill_id}")
    return waybill_out(w)


@router.post("/waybills/{waybill_id}/cancel", summary="Cancel a planned waybill",
             responses={**_WRITE, 409: {"model": Error, "description": "Not planned"}})
async def cancel_waybill(waybill_id: WaybillId, req: CancelIn, caller: Operator, services: Services) -> WaybillOut:
    h = hazmat_services(services)
    try:
        w = await h.store.cancel_waybill(write_scope(caller), waybill_id, req.reason, caller.user.username,
                                         h.clock())
    except NotAllowed as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    if w is None:
        raise refused(await h.store.get_waybill(caller.scope, waybill_id) is not None, f"waybill {waybill_id}")
    h.waybills_changed()
    return waybill_out(w)
