"""The rule engine's definitions: geofences, routes and rule profiles (read: viewer;
change: admin). Specs are validated in the engine's terms before they are stored;
the alarm consumer picks changes up within seconds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status

from icvcloud.store.alarms_base import Definition, DefinitionKind

from .alarm_schemas import DefinitionIn, DefinitionOut
from .alarm_services import AlarmServices, alarm_services
from .auth import Caller, Services, Viewer, require
from .schemas import MAX_ID, Error

router = APIRouter(tags=["rules"])

Admin = Annotated[Caller, Depends(require("admin"))]
DefId = Annotated[int, Path(ge=1, le=MAX_ID)]
_RESP: dict[int | str, dict[str, Any]] = {401: {"model": Error}, 403: {"model": Error}, 404: {"model": Error}}


def _out(d: Definition) -> DefinitionOut:
    return DefinitionOut(id=d.id, name=d.name, org_id=d.org_id, kind=d.kind, enabled=d.enabled, spec=d.spec,
                         updated_at=d.updated_at, updated_by=d.updated_by)


def _definition(a: AlarmServices, kind: DefinitionKind, req: DefinitionIn, caller: Caller,
                def_id: int = 0) -> Definition:
    try:
        geo_kind, spec = a.validate_definition(kind, req.spec)
    except (ValueError, TypeError, KeyError) as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"bad {kind}: {e}") from None
    return Definition(id=def_id, org_id=req.org_id, name=req.name, spec=spec, kind=geo_kind, enabled=req.enabled,
                      updated_at=datetime.now(UTC), updated_by=caller.user.username)


def _changed(a: AlarmServices) -> None:
    if a.definitions_changed is not None:
        a.definitions_changed()


def _crud(kind: DefinitionKind, path: str, label: str) -> None:
    """List, create, read, replace and delete one kind of definition under ``path``."""

    async def list_(caller: Viewer, services: Services) -> list[DefinitionOut]:
        a = alarm_services(services)
        return [_out(d) for d in await a.store.list_definitions(kind, caller.scope)]

    async def create(req: DefinitionIn, caller: Admin, services: Services) -> DefinitionOut:
        a = alarm_services(services)
        d = _definition(a, kind, req, caller)
        d.id = await a.store.add_definition(kind, d)
        _changed(a)
        return _out(d)

    async def get(def_id: DefId, caller: Viewer, services: Services) -> DefinitionOut:
        a = alarm_services(services)
        d = await a.store.get_definition(kind, caller.scope, def_id)
        if d is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {label} {def_id}")
        return _out(d)

    async def replace(def_id: DefId, req: DefinitionIn, caller: Admin, services: Services) -> DefinitionOut:
        a = alarm_services(services)
        d = _definition(a, kind, req, caller, def_id)
        if not await a.store.update_definition(kind, caller.scope, d):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {label} {def_id}")
        _changed(a)
        return _out(d)

    async def delete(def_id: DefId, caller: Admin, services: Services) -> Response:
        a = alarm_services(services)
        if not await a.store.delete_definition(kind, caller.scope, def_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {label} {def_id}")
        _changed(a)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    handlers: list[tuple[str, str, Callable[..., Awaitable[Any]], str, int]] = [
        ("GET", path, list_, f"The {label}s the caller sees (its organisations' and the global ones)", 200),
        ("POST", path, create, f"Create a {label} (admin)", 201),
        ("GET", path + "/{def_id}", get, f"One {label}", 200),
        ("PUT", path + "/{def_id}", replace, f"Replace a {label} (admin)", 200),
        ("DELETE", path + "/{def_id}", delete, f"Delete a {label} (admin)", 204),
    ]
    for method, p, fn, summary, code in handlers:
        fn.__name__ = f"{fn.__name__.strip('_')}_{kind}"
        router.add_api_route(p, fn, methods=[method], summary=summary, status_code=code, responses=_RESP,
                             response_model=None if method == "DELETE" else (
                                 list[DefinitionOut] if fn is list_ else DefinitionOut))


_crud("geofence", "/geofences", "geofence")
_crud("route", "/routes", "route")
_crud("profile", "/rule-profiles", "rule profile")
