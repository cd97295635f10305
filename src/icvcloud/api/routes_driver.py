"""A driver's or escort's own account (read-only self): their record, the waybills
that name them, and those waybills' trips — nothing else of the enterprise
(docs/hazmat.md, "Roles"). The account is made with
``icv user add NAME --role driver --person ID``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from icvcloud.model.hazmat import Person
from icvcloud.store.base import Scope
from icvcloud.store.hazmat_base import WaybillFilter

from .auth import Driver, Services
from .hazmat_access import WaybillId, not_found
from .hazmat_schemas import PersonOut, WaybillPage
from .hazmat_services import hazmat_services
from .hazmat_views import person_out, waybill_out
from .routes_trips import TripOut, trip_view
from .schemas import Error

router = APIRouter(prefix="/hazmat/me", tags=["drivers' own accounts"])
_READ: dict[int | str, dict[str, Any]] = {
    401: {"model": Error}, 403: {"model": Error, "description": "Not a driver's or escort's own account"}}


async def _me(caller: Driver, services: Services) -> tuple[Person, Scope]:
    assert caller.person_id is not None
    p = await hazmat_services(services).store.get_person(Scope.all(), caller.person_id)
    if p is None:
        raise not_found("person for this account")
    return p, Scope.of(p.org_id)


@router.get("", summary="The driver's or escort's own record and qualifications", responses=_READ)
async def me(caller: Driver, services: Services) -> PersonOut:
    p, _ = await _me(caller, services)
    return person_out(p)


@router.get("/waybills", summary="The waybills naming the caller as driver or escort, newest first",
            responses=_READ)
async def my_waybills(caller: Driver, services: Services,
                      state: Annotated[str | None, Query(
                          pattern=r"^(planned|loading|in_transit|unloading|completed|cancelled)$")] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> WaybillPage:
    p, scope = await _me(caller, services)
    rows, total = await hazmat_services(services).store.list_waybills(
        scope, WaybillFilter(state=state, person_id=p.id, limit=limit, offset=offset))
    return WaybillPage(total=total, limit=limit, offset=offset, items=[waybill_out(w) for w in rows])


@router.get("/waybills/{waybill_id}/trip", summary="The trip of a waybill naming the caller",
            responses={**_READ, 404: {"model": Error, "description": "No such waybill naming the caller"}})
async def my_trip(waybill_id: WaybillId, caller: Driver,
                  services: Services) -> TripOut:
    p, scope = await _me(caller, services)
    w = await hazmat_services(services).store.get_waybill(scope, waybill_id)
    if w is None or p.id not in (w.driver_id, w.escort_id):
        raise not_found(f"waybill {waybill_id}")
    return await trip_view(services, scope, w)
