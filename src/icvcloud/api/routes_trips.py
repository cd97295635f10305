"""Full-trip monitoring: a waybill's trip (state history, the time range of its
track, its findings), manual check-ins of its driver or escort, and the
regulator's dashboard figures (docs/hazmat.md, "Trip monitoring")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from icvcloud.hazmat.findings import document_findings
from icvcloud.model.alarms import Alarm
from icvcloud.model.hazmat import HAZMAT_VEHICLE_TYPES, Checkin, Waybill
from icvcloud.protocols.jt808.wire import CST
from icvcloud.store.alarms_base import AlarmFilter
from icvcloud.store.base import Scope, VehicleFilter
from icvcloud.store.hazmat_base import PeopleFilter, WaybillFilter

from .auth import Operator, Services, Viewer, write_scope
from .hazmat_access import WAYBILL_READ, WaybillId, not_found, refused
from .hazmat_services import hazmat_services
from .hazmat_views import waybill_out
from .schemas import MAX_ID, Error
from .services import ApiServices

router = APIRouter(prefix="/hazmat", tags=["hazmat trips"])

#: Alarm types of the vehicle that belong to its trip's findings besides the monitor's own.
TRIP_ALARM_TYPES = ("fence.forbidden", "stop.too_long", "overspeed", "fatigue", "route.deviation", "terminal.emergency")
#: The track window reaches this far before the departure window and after completion.
MARGIN = timedelta(minutes=30)

_TITLES = {
    "hazmat.route_deviation": "Left the approved route corridor",
    "hazmat.departure_without_loading": "Departed without loading at the loading site",
    "hazmat.arrival_overdue": "Not arrived by the end of the arrival window",
    "hazmat.escort_absent": "Escort not present in transit",
    "hazmat.unknown_person": "IC card of a person not on the waybill",
    "hazmat.no_waybill": "Moving without a covering waybill",
    "fence.forbidden": "Entered a restricted zone",
    "stop.too_long": "Stopped outside a permitted place",
    "route.deviation": "Left an assigned route",
    "terminal.emergency": "Emergency button",
}


class TripStateOut(BaseModel):
    state: str
    at: datetime
    by: str = Field(description="report (a position showed it) or dwell (completed by staying at the unloading site)")


class TripFindingOut(BaseModel):
    id: int | None
    alarm_type: str
    severity: int
    state: str
    start_time: datetime
    end_time: datetime | None
    lat: float | None
    lon: float | None
    title: str


class TimeWindow(BaseModel):
    start: datetime
    end: datetime


class CheckinOut(BaseModel):
    id: int
    person_id: int
    role: str
    at: datetime
    by: str


class TripOut(BaseModel):
    waybill: Any = Field(description="The waybill, as GET /hazmat/waybills/{id}")
    history: list[TripStateOut]
    window: TimeWindow = Field(description="The time range of the trip's track (GET /vehicles/{id}/track)")
    findings: list[TripFindingOut]
    checkins: list[CheckinOut]


class CheckinIn(BaseModel):
    person_id: int = Field(ge=1, le=MAX_ID)
    role: str = Field(pattern=r"^(driver|escort)$")


def _title(a: Alarm) -> str:
    for prefix, text in _TITLES.items():
        if a.alarm_type == prefix or a.alarm_type.startswith(prefix + "."):
            return text
    if a.alarm_type.startswith("overspeed"):
        return "Overspeed"
    if a.alarm_type.startswith("fatigue"):
        return "Fatigue driving"
    return a.alarm_type


def _belongs(a: Alarm, w: Waybill) -> bool:
    if a.category == "hazmat":
        return a.details.get("waybill_id") in (w.id, None)
    if a.alarm_type.endswith(".warning"):
        return False  # pre-warnings (overspeed.warning) are not findings
    return any(a.alarm_type == t or a.alarm_type.startswith(t + ".") for t in TRIP_ALARM_TYPES)


def trip_window(w: Waybill, history_end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    start = w.departure_from - MARGIN
    if w.state == "cancelled":
        return start, max(start, (w.cancelled_at or now))
    end = history_end + MARGIN if history_end is not None else now
    return start, max(start, min(end, now))


@router.get("/waybills/{waybill_id}/trip", summary="A waybill's trip: states, track window, findings, check-ins",
            responses=WAYBILL_READ)
async def get_trip(waybill_id: WaybillId, caller: Viewer, services: Services) -> TripOut:
    w = await hazmat_services(services).store.get_waybill(caller.scope, waybill_id)
    if w is None:
        raise not_found(f"waybill {waybill_id}")
    return await trip_view(services, caller.scope, w)


async def trip_view(services: ApiServices, scope: Scope, w: Waybill) -> TripOut:
    """The trip of a waybill the caller may see (``scope``)."""
    h = hazmat_services(services)
    history = await h.store.trip_history(scope, w.id)
    done = next((c.at for c in history if c.state == "completed"), None)
    start, end = trip_window(w, done, h.clock())
    findings: list[TripFindingOut] = []
    if services.alarms is not None:
        alarms, _ = await services.alarms.store.list_alarms(
            scope, AlarmFilter(vehicle_id=w.vehicle_id, start=start, end=end + timedelta(microseconds=1),
                               limit=1000))
        findings = [TripFindingOut(id=a.id, alarm_type=a.alarm_type, severity=int(a.severity), state=a.state,
                                   start_time=a.start_time, end_time=a.end_time, lat=a.lat, lon=a.lon,
                                   title=_title(a))
                    for a in sorted(alarms, key=lambda a: (a.start_time, a.id)) if _belongs(a, w)]
    checkins = await h.store.list_checkins(scope, w.id)
    return TripOut(waybill=waybill_out(w), history=[TripStateOut(state=c.state, at=c.at, by=c.by) for c in history],
                   window=TimeWindow(start=start, end=end), findings=findings,
                   checkins=[CheckinOut(id=c.id, person_id=c.person_id, role=c.role, at=c.at, by=c.by)
                             for c in checkins])


@router.post("/waybills/{waybill_id}/checkins", status_code=201,
             summary="Check the waybill's driver or escort in by hand (when the terminal has no IC card reader)",
             responses={**WAYBILL_READ, 403: {"model": Error}, 409: {"model": Error, "description": "Trip closed"},
                        422: {"model": Error, "description": "Not the waybill's driver/escort"}})
async def add_checkin(waybill_id: WaybillId, req: CheckinIn, caller: Operator, services: Services) -> CheckinOut:
    h = hazmat_services(services)
    w = await h.store.get_waybill(caller.scope, waybill_id)
    if w is None:
        raise not_found(f"waybill {waybill_id}")
    named = w.driver_id if req.role == "driver" else w.escort_id
    if named != req.person_id:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"person {req.person_id} is not the {req.role} of waybill {w.number}")
    if w.state in ("completed", "cancelled"):
        raise HTTPException(status.HTTP_409_CONFLICT, f"waybill {w.number} is {w.state}")
    now = h.clock()
    cid = await h.store.add_checkin(write_scope(caller), Checkin(0, waybill_id, req.person_id, req.role, now,
                                                                 caller.user.username))
    if cid is None:
        raise refused(True, f"waybill {waybill_id}")
    h.waybills_changed()
    return CheckinOut(id=cid, person_id=req.person_id, role=req.role, at=now, by=caller.user.username)


# -- dashboard

class DashboardVehicles(BaseModel):
    total: int
    online: int
    moving: int
    by_class: dict[str, int] = Field(description="Online hazmat vehicles by the hazard classes they may carry "
                                                 "(a vehicle counts under each of its permitted classes)")
    carrying: dict[str, int] = Field(default_factory=dict, description=(
        "Online vehicles on a trip now (loading, in transit, unloading) by the hazard classes of their waybill's "
        "cargo (a vehicle counts under each class it carries)"))


class DashboardTrips(BaseModel):
    planned: int
    loading: int
    in_transit: int
    unloading: int
    completed_today: int


class DashboardAlarms(BaseModel):
    total: int
    by_type: dict[str, int]


class DashboardDocuments(BaseModel):
    expired: int
    expiring: int


class DashboardOut(BaseModel):
    vehicles: DashboardVehicles
    trips: DashboardTrips
    open_findings: int = Field(description="Open hazmat trip findings (alarms of category hazmat not handled)")
    alarms_today: DashboardAlarms
    documents: DashboardDocuments


_ALL_PEOPLE = PeopleFilter(limit=100_000)


def day_start(now: datetime) -> datetime:
    """Midnight of ``now``'s Beijing calendar day, in UTC."""
    local: date = now.astimezone(CST).date()
    return datetime.combine(local, time(), CST).astimezone(UTC)


@router.get("/dashboard", summary="A supervisor's figures: hazmat vehicles, trips, findings, today's alarms",
            responses={401: {"model": Error}})
async def dashboard(caller: Viewer, services: Services) -> DashboardOut:
    h = hazmat_services(services)
    scope: Scope = caller.scope
    now = h.clock()
    today = day_start(now)
    hazmat_vehicles = await h.store.list_vehicles(scope)
    classes_of = {v.vehicle_id: v.classes for v in hazmat_vehicles}
    by_class: dict[str, int] = {}
    online_ids: set[int] = set()
    total = online = moving = 0
    for vtype in HAZMAT_VEHICLE_TYPES:
        found, n = await services.store.list_vehicles(scope, VehicleFilter(vehicle_type=vtype, limit=100_000))
        total += n
        for row in found:
            v, live = row.vehicle, row.live
            if live is None or not live.online:
                continue
            online += 1
            online_ids.add(v.id)
            if live.position is not None and live.position.speed_kmh >= 5.0:
                moving += 1
            for c in classes_of.get(v.id, ()):
                by_class[c] = by_class.get(c, 0) + 1
    counts = await h.store.trip_counts(scope, today)
    carrying: dict[str, int] = {}
    for state in ("loading", "in_transit", "unloading"):
        trips, _ = await h.store.list_waybills(scope, WaybillFilter(state=state, limit=100_000))
        for w in trips:
            if w.vehicle_id in online_ids:
                for c in w.classes:
                    carrying[c] = carrying.get(c, 0) + 1
    open_findings, by_type, alarms_total = 0, {}, 0
    if services.alarms is not None:
        a = services.alarms.store
        _, open_findings = await a.list_alarms(scope, AlarmFilter(category="hazmat", state="open", limit=1))
        rows = await a.alarm_counts(scope, "type", AlarmFilter(start=today, end=now + timedelta(seconds=1),
                                                               exclude_categories=("data_quality",)))
        by_type = {str(k): int(v) for k, v in rows}
        alarms_total = sum(by_type.values())
    docs = document_findings(now.astimezone(CST).date(), enterprises=await h.store.list_enterprises(scope),
                             vehicles=hazmat_vehicles, people=(await h.store.list_people(scope, _ALL_PEOPLE))[0],
                             window_days=h.expiring_within_days)
    return DashboardOut(
        vehicles=DashboardVehicles(total=total, online=online, moving=moving, by_class=dict(sorted(by_class.items())),
                                   carrying=dict(sorted(carrying.items()))),
        trips=DashboardTrips(planned=counts["planned"], loading=counts["loading"], in_transit=counts["in_transit"],
                             unloading=counts["unloading"], completed_today=counts["completed_since"]),
        open_findings=open_findings, alarms_today=DashboardAlarms(total=alarms_total, by_type=by_type),
        documents=DashboardDocuments(expired=sum(f.status == "expired" for f in docs),
                                     expiring=sum(f.status == "expiring" for f in docs)))
