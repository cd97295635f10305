"""Alarms: the list with filters, one alarm with its track, episodes, attachments and
handling history; acknowledge, handle, escalate; statistics and rates per 100 km;
attachment files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import FileResponse

from icvcloud.alarm_feed import command_json, feed_message
from icvcloud.model.alarms import Alarm, AlarmHandling, alarm_json
from icvcloud.model.commands import Command, CommandError, TerminalOffline
from icvcloud.store.alarms_base import AlarmFilter, GroupBy

from .alarm_schemas import (
    ALARM_TYPE_PATTERN,
    AcknowledgeRequest,
    AlarmDetail,
    AlarmOut,
    AlarmPage,
    AlarmRates,
    AlarmStateName,
    AlarmStats,
    AttachmentOut,
    Category,
    CommandOut,
    CountItem,
    EpisodeOut,
    EscalateRequest,
    HandleRequest,
    HandleResult,
    HandlingOut,
)
from .alarm_services import AlarmServices, alarm_services
from .auth import Caller, Operator, Services, Viewer
from .schemas import MAX_ID, Error
from .views import track_point

router = APIRouter(tags=["alarms"])

AlarmId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alarm ID")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    401: {"model": Error}, 404: {"model": Error, "description": "No such alarm (or not the caller's)"}}
_ACT: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND, 403: {"model": Error, "description": "Needs the operator role"}}
#: Rates per 100 km count these types (and their dotted sub-types).
OVERSPEED_TYPES = ("overspeed",)
FATIGUE_TYPES = ("fatigue",)
MAX_RANGE_DAYS = 366


def _alarm_out(a: Alarm) -> AlarmOut:
    return AlarmOut(**alarm_json(a))


def _command_out(c: Command) -> CommandOut:
    return CommandOut(**command_json(c))


def _bad(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail)


def _check_range(start: datetime | None, end: datetime | None) -> None:
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.utcoffset() is None:
            raise _bad(f"{name} needs a UTC offset, e.g. 2024-05-01T08:00:00+08:00 or 2024-05-01T00:00:00Z")
    if start is not None and end is not None and start >= end:
        raise _bad("start must be before end")


def _filter(alarm_type: str | None, category: str | None, min_severity: int | None, state: str | None,
            active: bool | None, vehicle_id: int | None, org_id: int | None, start: datetime | None,
            end: datetime | None, include_data_quality: bool, limit: int = 100, offset: int = 0) -> AlarmFilter:
    _check_range(start, end)
    return AlarmFilter(alarm_type=alarm_type, category=category, min_severity=min_severity, state=state,
                       active=active, vehicle_id=vehicle_id, org_id=org_id, start=start, end=end,
                       exclude_categories=() if include_data_quality else ("data_quality",), limit=limit,
                       offset=offset)


TypeQ = Annotated[str | None, Query(alias="type", pattern=ALARM_TYPE_PATTERN,
                                    description='Alarm type or prefix ("fatigue" matches "fatigue.continuous")')]
CategoryQ = Annotated[Category | None, Query()]
SeverityQ = Annotated[int | None, Query(alias="min_severity", ge=0, le=4, description="Lowest severity 0-4")]
StateQ = Annotated[AlarmStateName | None, Query()]
ActiveQ = Annotated[bool | None, Query(description="Only ongoing (true) or ended (false) alarms")]
VehicleQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]
OrgQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]
TimeQ = Annotated[datetime | None, Query(description="Episode start (device time), ISO 8601 with offset")]
DqQ = Annotated[bool, Query(description="Include data-quality findings (GNSS jumps, invalid data)")]


@router.get("/alarms", summary="Alarms, newest first, filtered and paged", responses={401: {"model": Error}})
async def list_alarms(
    caller: Viewer, services: Services,
    alarm_type: TypeQ = None, category: CategoryQ = None, min_severity: SeverityQ = None, state: StateQ = None,
    active: ActiveQ = None, vehicle_id: VehicleQ = None, org_id: OrgQ = None, start: TimeQ = None,
    end: TimeQ = None, include_data_quality: DqQ = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AlarmPage:
    a = alarm_services(services)
    flt = _filter(alarm_type, category, min_severity, state, active, vehicle_id, org_id, start, end,
                  include_data_quality, limit, offset)
    rows, total = await a.store.list_alarms(caller.scope, flt)
    return AlarmPage(total=total, limit=limit, offset=offset, items=[_alarm_out(r) for r in rows])


@router.get("/alarms/stats", summary="Alarm episodes counted by type, category, severity, vehicle, "
                                     "organisation, state or local day",
            responses={401: {"model": Error}, 400: {"model": Error}})
async def alarm_stats(
    caller: Viewer, services: Services,
    group_by: Annotated[GroupBy, Query(description="What to count by; days are Beijing dates")] = "type",
    alarm_type: TypeQ = None, category: CategoryQ = None, min_severity: SeverityQ = None, state: StateQ = None,
    vehicle_id: VehicleQ = None, org_id: OrgQ = None, start: TimeQ = None, end: TimeQ = None,
    include_data_quality: DqQ = False,
) -> AlarmStats:
    a = alarm_services(services)
    flt = _filter(alarm_type, category, min_severity, state, None, vehicle_id, org_id, start, end,
                  include_data_quality)
    rows = await a.store.alarm_counts(caller.scope, group_by, flt, a.utc_offset_h)
    return AlarmStats(group_by=group_by, start=start, end=end, items=[CountItem(key=k, count=n) for k, n in rows])


@router.get("/alarms/rates", summary="Overspeed and fatigue episodes per 100 km driven",
            description="Mileage from the positions in the range (the odometer's advance where terminals report "
                        "it, else the distance between positions; GNSS jumps left out). Default range: the last "
                        "30 days; at most a year.",
            responses={401: {"model": Error}, 400: {"model": Error}})
async def alarm_rates(
    caller: Viewer, services: Services, start: TimeQ = None, end: TimeQ = None, vehicle_id: VehicleQ = None,
    org_id: OrgQ = None,
) -> AlarmRates:
    a = alarm_services(services)
    _check_range(start, end)
    end = end or datetime.now(UTC)
    try:
        start = start or end - timedelta(days=30)
    except OverflowError:
        raise _bad("end is too early for the default range; give start as well") from None
    if start >= end:
        raise _bad("start must be before end")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise _bad(f"the range may span at most {MAX_RANGE_DAYS} days")
    km = await a.store.mileage_km(caller.scope, start, end, vehicle_id=vehicle_id, org_id=org_id)
    total_km = sum(km.values())

    async def episodes(prefixes: tuple[str, ...]) -> int:
        n = 0
        for p in prefixes:
            flt = AlarmFilter(alarm_type=p, vehicle_id=vehicle_id, org_id=org_id, start=start, end=end)
            n += sum(c for _, c in await a.store.alarm_counts(caller.scope, "type", flt))
        return n

    over, fat = await episodes(OVERSPEED_TYPES), await episodes(FATIGUE_TYPES)
    per = (lambda n: round(n * 100.0 / total_km, 3)) if total_km > 0 else (lambda n: None)
    return AlarmRates(start=start, end=end, vehicles=sum(1 for v in km.values() if v > 0),
                      mileage_km=round(total_km, 3), overspeed=over, fatigue=fat, overspeed_per_100km=per(over),
                      fatigue_per_100km=per(fat))


async def _alarm(a: AlarmServices, caller: Caller, alarm_id: int) -> Alarm:
    alarm = await a.store.get_alarm(caller.scope, alarm_id)
    if alarm is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {alarm_id}")
    return alarm


@router.get("/alarms/{alarm_id}", summary="One alarm with the track around it, its episodes, attachments, "
                                          "handling history and commands", responses=_NOT_FOUND)
async def get_alarm(
    alarm_id: AlarmId, caller: Viewer, services: Services,
    margin_s: Annotated[int, Query(ge=0, le=3600, description="Track from this long before the start to this "
                                                              "long after the end")] = 600,
) -> AlarmDetail:
    a = alarm_services(services)
    alarm = await _alarm(a, caller, alarm_id)
    t0 = alarm.start_time - timedelta(seconds=margin_s)
    end = alarm.end_time or max(alarm.start_time, datetime.now(UTC))
    # An alarm that is still going on: the track up to now, but not more than a day of it.
    t1 = min(end, alarm.start_time + timedelta(days=1)) + timedelta(seconds=margin_s)
    track = await services.store.track(caller.scope, alarm.vehicle_id, t0, t1, limit=20_000)
    episodes = await a.store.episodes(caller.scope, alarm_id)
    handling = await a.store.handling_history(caller.scope, alarm_id)
    atts = await a.store.attachments(caller.scope, alarm_id)
    cmds = await a.store.list_commands(caller.scope, alarm.vehicle_id, limit=200, alarm_id=alarm_id)
    return AlarmDetail(
        alarm=_alarm_out(alarm),
        episodes=[EpisodeOut(key=e.key, phase=e.phase, start_time=e.start_time, end_time=e.end_time, details=e.details)
                  for e in episodes],
        handling=[HandlingOut(id=h.id, action=h.action, user=h.user, at=h.at, text=h.text, deadline=h.deadline,
                              command_id=h.command_id) for h in handling],
        attachments=[AttachmentOut(id=t.id, file_name=t.file_name, media_type=t.media_type, size_bytes=t.size_bytes,
                                   complete=t.complete, received_at=t.received_at,
                                   url=f"/api/v1/attachments/{t.id}") for t in atts],
        commands=[_command_out(c) for c in cmds],
        track=[track_point(p) for p in track], track_start=t0, track_end=t1)


async def _record(a: AlarmServices, caller: Caller, h: AlarmHandling) -> AlarmOut:
    change = await a.store.handle_alarm(caller.scope, h)
    if change is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {h.alarm_id}")
    a.feed.publish([feed_message(change)])
    return _alarm_out(change.alarm)


@router.post("/alarms/{alarm_id}/acknowledge", summary="Take an open alarm on (operator)",
             responses={**_ACT, 409: {"model": Error, "description": "Not open any more"}})
async def acknowledge(alarm_id: AlarmId, caller: Operator, services: Services,
                      req: AcknowledgeRequest | None = None) -> AlarmOut:
    a = alarm_services(services)
    alarm = await _alarm(a, caller, alarm_id)
    if alarm.state != "open":
        raise HTTPException(status.HTTP_409_CONFLICT, f"alarm {alarm_id} is {alarm.state} already")
    return await _record(a, caller, AlarmHandling(alarm_id=alarm_id, action="acknowledged",
                                                  user=caller.user.username, at=datetime.now(UTC),
                                                  text=req.text if req else ""))


@router.post("/alarms/{alarm_id}/handle", summary="Record what was done: text to the driver (sent as 0x8300), "
                                                  "phone call, false alarm, or a note (operator)",
             description="`text_to_driver` sends the text to the vehicle's terminal through the command path and "
                         "links the command (its state follows the terminal's answer); a terminal that is not "
                         "connected gives 409 and nothing is recorded. The other actions mark the alarm handled; "
                         "`note` only adds to the history.",
             responses={**_ACT, 409: {"model": Error, "description": "The terminal is not connected"},
                        422: {"model": Error, "description": "A text_to_driver without text"},
                        503: {"model": Error, "description": "No gateway in this deployment"}})
async def handle(alarm_id: AlarmId, req: HandleRequest, caller: Operator, services: Services) -> HandleResult:
    a = alarm_services(services)
    alarm = await _alarm(a, caller, alarm_id)
    cmd: Command | None = None
    if req.action == "text_to_driver":
        if not req.text.strip():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "text_to_driver needs the text to send")
        if a.commands is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "commands are not enabled in this deployment")
        row = await services.store.get_vehicle(caller.scope, alarm.vehicle_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vehicle {alarm.vehicle_id}")
        flags = set(a.text_flags)
        for name, on in (("tts", req.tts), ("display", req.display), ("urgent", req.urgent)):
            if on:
                flags.add(name)
            elif on is not None:
                flags.discard(name)
        try:
            cmd = await a.commands.submit(row.vehicle, 0x8300, {"flag": sorted(flags), "text": req.text},
                                          caller.user.username, alarm_id=alarm_id)
        except TerminalOffline as e:
            raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
        except CommandError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from None
    out = await _record(a, caller, AlarmHandling(alarm_id=alarm_id, action=req.action, user=caller.user.username,
                                                 at=datetime.now(UTC), text=req.text,
                                                 command_id=cmd.id if cmd else None))
    return HandleResult(alarm=out, command=_command_out(cmd) if cmd else None)


@router.post("/alarms/{alarm_id}/escalate", summary="Issue a supervision order (督办) with a deadline (operator)",
             responses={**_ACT, 400: {"model": Error}})
async def escalate(alarm_id: AlarmId, req: EscalateRequest, caller: Operator, services: Services) -> AlarmOut:
    a = alarm_services(services)
    await _alarm(a, caller, alarm_id)
    if req.deadline <= datetime.now(UTC):
        raise _bad("the deadline must be in the future")
    return await _record(a, caller, AlarmHandling(alarm_id=alarm_id, action="escalated", user=caller.user.username,
                                                  at=datetime.now(UTC), text=req.text,
                                                  deadline=req.deadline.astimezone(UTC)))


@router.get("/attachments/{attachment_id}", summary="An alarm attachment's file (image, video)",
            response_class=FileResponse,
            responses={401: {"model": Error}, 404: {"model": Error, "description": "No such file (or not yet)"}})
async def attachment_file(attachment_id: Annotated[int, Path(ge=1, le=MAX_ID)], caller: Viewer,
                          services: Services) -> FileResponse:
    a = alarm_services(services)
    att = await a.store.get_attachment(caller.scope, attachment_id)
    if att is None or a.data_dir is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no attachment {attachment_id}")
    root = a.data_dir.resolve()
    path = (root / att.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():  # stored paths are relative; never leave data_dir
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"attachment {attachment_id} has no file")
    return FileResponse(FsPath(path), media_type=att.media_type or "application/octet-stream",
                        filename=att.file_name)
