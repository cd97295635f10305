"""Organisations: regulators and the enterprises they supervise."""

from __future__ import annotations

from fastapi import APIRouter

from .auth import Services, Viewer
from .schemas import Error, OrganisationOut

router = APIRouter(tags=["organisations"])


@router.get("/organisations", summary="Organisations the caller may see",
            responses={401: {"model": Error}})
async def list_organisations(caller: Viewer, services: Services) -> list[OrganisationOut]:
    orgs = await services.store.list_organisations(caller.scope)
    return [OrganisationOut.model_validate(o, from_attributes=True) for o in orgs]
