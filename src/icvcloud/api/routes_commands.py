"""Commands to vehicles: send one (operator), see how each went."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from icvcloud.alarm_feed import command_json
from icvcloud.model.commands import CommandError, TerminalOffline

from .alarm_schemas import CommandOut, CommandPage, CommandRequest
from .alarm_services import alarm_services
from .auth import Operator, Services, Viewer
from .schemas import MAX_ID, Error

router = APIRouter(tags=["commands"])

VehicleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Vehicle ID")]

_DESCRIPTION = """\
Sends a JT/T 808 downlink message to the vehicle's terminal and tracks it to the
terminal's answer: `sent` → `acknowledged` (0x0001 result 0, or the 0x0201/0x0805/0x0104
answer), `failed` (result 1 or 2), `not_supported` (result 3), or `timed_out` when no
answer comes within `timeout_s`. Poll `GET /commands/{id}` or watch
`/api/v1/alarms/live` for `{"type": "command"}` messages.

Messages: 0x8300 text (flags `display`, `tts`, `urgent`), 0x8103 set parameters,
0x8104/0x8106 query parameters, 0x8201 position query, 0x8202 temporary tracking,
0x8600–0x8607 set/delete circle, rectangle, polygon areas and routes, 0x8801 photo/video.
A terminal that is not connected gives 409 and nothing is sent.
"""


@router.post("/vehicles/{vehicle_id}/commands", status_code=status.HTTP_201_CREATED,
             summary="Send a command to a vehicle's terminal (operator)", description=_DESCRIPTION,
             responses={401: {"model": Error}, 403: {"model": Error},
                        404: {"model": Error, "description": "No such vehicle (or not the caller's)"},
                        409: {"model": Error, "description": "The terminal is not connected"},
                        422: {"description": "Not a command the API sends, or a body the codec refuses"},
                        503: {"model": Error, "description": "No gateway in this deployment"}})
async def send_command(vehicle_id: VehicleId, req: CommandRequest, caller: Operator, services: Services) -> CommandOut:
    a = alarm_services(services)
    row = await services.store.get_vehicle(caller.scope, vehicle_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vehicle {vehicle_id}")
    if a.commands is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "commands are not enabled in this deployment")
    assert isinstance(req.msg_id, int)  # the validator made it one
    try:
        cmd = await a.commands.submit(row.vehicle, req.msg_id, req.body, caller.user.username,
                                      timeout_s=req.timeout_s)
    except TerminalOffline as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    except CommandError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from None
    return CommandOut(**command_json(cmd))


_NOT_FOUND: dict[int | str, dict[str, Any]] = {401: {"model": Error}, 404: {"model": Error}}


@router.get("/vehicles/{vehicle_id}/commands", summary="A vehicle's commands, newest first", responses=_NOT_FOUND)
async def list_commands(vehicle_id: VehicleId, caller: Viewer, services: Services,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> CommandPage:
    a = alarm_services(services)
    if await services.store.get_vehicle(caller.scope, vehicle_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vehicle {vehicle_id}")
    cmds = await a.store.list_commands(caller.scope, vehicle_id, limit)
    return CommandPage(items=[CommandOut(**command_json(c)) for c in cmds])


@router.get("/commands/{command_id}", summary="One command and how far it got", responses=_NOT_FOUND)
async def get_command(command_id: Annotated[int, Path(ge=1, le=MAX_ID)], caller: Viewer,
                      services: Services) -> CommandOut:
    a = alarm_services(services)
    cmd = await a.store.get_command(caller.scope, command_id)
    if cmd is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no command {command_id}")
    return CommandOut(**command_json(cmd))
