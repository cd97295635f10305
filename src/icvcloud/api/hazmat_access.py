"""Who may change which hazmat record: reads follow the caller's scope (a regulator
its jurisdiction, an enterprise itself); writes only the caller's own enterprise
(administrators: any). A record outside the caller's scope does not exist for it
(404, never 403, so IDs cannot be probed); one it may see but not change is 403."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path, status

from icvcloud.store.base import Scope

from .auth import Caller, write_scope
from .schemas import MAX_ID, Error
from .services import ApiServices

WaybillId = Annotated[int, Path(ge=1, le=MAX_ID, description="Waybill ID")]
#: The answers of an endpoint reading one waybill, besides 200.
WAYBILL_READ: dict[int | str, dict[str, Any]] = {
    401: {"model": Error}, 404: {"model": Error, "description": "No such waybill (or not the caller's)"}}

#: Core registry IDs (organisations, vehicles) are int4 in PostgreSQL.
INT4_MAX = 2**31 - 1
READ_ONLY = "only the enterprise's own users (or an administrator) change its hazmat records"


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")


def refused(visible: bool, what: str) -> HTTPException:
    """A write the store refused: 403 if the caller may see the record, else 404."""
    return HTTPException(status.HTTP_403_FORBIDDEN, READ_ONLY) if visible else not_found(what)


async def carrier_of(services: ApiServices, caller: Caller, org_id: int | None) -> int:
    """The enterprise a new record belongs to: ``org_id`` or the caller's organisation;
    it must be an enterprise the caller may write for."""
    target = org_id if org_id is not None else caller.user.org_id
    if target is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give org_id: the enterprise the record belongs to")
    if target > INT4_MAX or not caller.scope.allows(target):
        raise not_found(f"organisation {target}")
    orgs = await services.store.list_organisations(Scope.of(target))
    if not orgs:
        raise not_found(f"organisation {target}")
    if not write_scope(caller).allows(target):
        raise HTTPException(status.HTTP_403_FORBIDDEN, READ_ONLY)
    if orgs[0].kind != "enterprise":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"organisation {target} is not an enterprise")
    return target
