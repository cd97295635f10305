"""What the hazmat store's rows mean, shared by the SQLite and PostgreSQL stores:
records to column values and back, and the derived search columns. The stores
differ only in how they hold times and dates (``time``/``day`` converters)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from icvcloud.model.hazmat import (
    Assignment,
    CargoLine,
    EnterpriseDetails,
    MonitoredWaybill,
    Person,
    Qualification,
    Site,
    TripStateChange,
    VehicleHazmat,
    Waybill,
)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode

TimeOf = Callable[[Any], datetime]
DayOf = Callable[[Any], date]


def dumps(v: Any) -> str:
    return _dumps(v)


def loads(v: Any) -> Any:
    """A JSON column's value: text (SQLite, asyncpg's jsonb) or already decoded."""
    return json.loads(v) if isinstance(v, str | bytes) else v


def opt(fn: Callable[[Any], Any], v: Any) -> Any:
    return fn(v) if v is not None else None


def classes_json(classes: Sequence[str]) -> str:
    return dumps(sorted(set(classes)))


# -- enterprises: org_id, business_licence_no, operation_licence_no, classes, valid_from, valid_until, name, updated_at

def enterprise_from_row(r: Sequence[Any], day: DayOf, time: TimeOf) -> EnterpriseDetails:
    return EnterpriseDetails(org_id=int(r[0]), business_licence_no=r[1], operation_licence_no=r[2],
                             classes=tuple(loads(r[3])), valid_from=opt(day, r[4]), valid_until=day(r[5]),
                             name=r[6], updated_at=opt(time, r[7]))


# -- vehicles: vehicle_id, body, classes, certificate_no, certificate_expiry, org_id, plate, device_id, online,
#    updated_at

def vehicle_from_row(r: Sequence[Any], day: DayOf, time: TimeOf) -> VehicleHazmat:
    return VehicleHazmat(vehicle_id=int(r[0]), body=r[1], classes=tuple(loads(r[2])), certificate_no=r[3],
                         certificate_expiry=day(r[4]), org_id=r[5], plate=r[6], device_id=r[7], online=bool(r[8]),
                         updated_at=opt(time, r[9]))


# -- people: id, org_id, name, phone, qualifications, updated_at

def qualifications_json(p: Person) -> str:
    return dumps([q.as_json() for q in p.qualifications])


def person_roles(p: Person) -> str:
    """The kinds of qualification a person holds, as ",driver,escort," (a filter column)."""
    kinds = sorted({q.kind for q in p.qualifications})
    return "," + ",".join(kinds) + "," if kinds else ""


def person_search(p: Person) -> str:
    """What a people search matches: the name and certificate numbers, lower case."""
    return "\n".join([p.name, *(q.number for q in p.qualifications)]).lower()


def person_from_row(r: Sequence[Any], time: TimeOf) -> Person:
    return Person(id=int(r[0]), org_id=int(r[1]), name=r[2], phone=r[3],
                  qualifications=[Qualification.from_json(q) for q in loads(r[4])], updated_at=opt(time, r[5]))


# -- assignments: id, vehicle_id, person_id, role, org_id

def assignment_from_row(r: Sequence[Any]) -> Assignment:
    return Assignment(id=int(r[0]), vehicle_id=int(r[1]), person_id=int(r[2]), role=r[3], org_id=r[4])


# -- waybills

def waybill_search(w: Waybill) -> str:
    return "\n".join([w.shipper, w.consignee]).lower()


def waybill_documents(w: Waybill) -> tuple[str, str, str, str, str]:
    """cargo, origin, destination, route, warnings as stored JSON."""
    return (dumps([c.as_json() for c in w.cargo]), dumps(w.origin.as_json()), dumps(w.destination.as_json()),
            dumps([list(p) for p in w.route]), dumps(w.warnings))


def assigned_number(waybill_id: int) -> str:
    """The number a waybill gets when its creator gives none."""
    return f"HZ{waybill_id:08d}"


# id, org_id, number, shipper, consignee, vehicle_id, driver_id, escort_id, cargo, origin, destination, route,
# corridor_m, departure_from, departure_until, arrival_from, arrival_until, state, warnings, created_at,
# created_by, cancelled_at, cancel_reason, cancelled_by, state_at

def waybill_from_row(r: Sequence[Any], time: TimeOf) -> Waybill:
    return Waybill(
        id=int(r[0]), org_id=int(r[1]), number=r[2] or "", shipper=r[3], consignee=r[4], vehicle_id=int(r[5]),
        driver_id=int(r[6]), escort_id=opt(int, r[7]), cargo=[CargoLine.from_json(c) for c in loads(r[8])],
        origin=Site.from_json(loads(r[9])), destination=Site.from_json(loads(r[10])),
        route=[(float(p[0]), float(p[1])) for p in loads(r[11])], corridor_m=float(r[12]),
        departure_from=time(r[13]), departure_until=time(r[14]), arrival_from=time(r[15]),
        arrival_until=time(r[16]), state=r[17], warnings=list(loads(r[18])), created_at=opt(time, r[19]),
        created_by=r[20], cancelled_at=opt(time, r[21]), cancel_reason=r[22],
        cancelled_by=r[23], state_at=opt(time, r[24]))


#: The order of a trip's states: a recorded change never moves a waybill backwards.
TRIP_ORDER = {"planned": 0, "loading": 1, "in_transit": 2, "unloading": 3, "completed": 4}


def advances(current: str, new: str) -> bool:
    """Whether a trip entering ``new`` moves a waybill in ``current`` on (never a cancelled one)."""
    return current in TRIP_ORDER and new in TRIP_ORDER and TRIP_ORDER[new] > TRIP_ORDER[current]


def in_order(changes: list[TripStateChange]) -> list[TripStateChange]:
    """A trip's history by time, then by the states' order (two changes of one report)."""
    return sorted(changes, key=lambda c: (c.at, TRIP_ORDER.get(c.state, 9)))


def certificates(people: Sequence[Person], person_id: int | None, kind: str) -> tuple[str, ...]:
    """The numbers of ``person_id``'s qualification certificates of ``kind``."""
    for p in people:
        if p.id == person_id:
            return tuple(q.number for q in p.qualifications if q.kind == kind)
    return ()



#: Open trip states as the stores filter them.
OPEN_STATES = ("planned", "loading", "in_transit", "unloading")


def monitored(waybills: Sequence[Waybill], people: Sequence[Person],
              checkins: Sequence[tuple[int, datetime, str]],
              devices: Mapping[int, str | None]) -> list[MonitoredWaybill]:
    """Waybills with their people's certificates, check-ins ((waybill_id, at, role))
    and their vehicles' terminals (vehicle ID → device ID)."""
    by_waybill: dict[int, list[tuple[datetime, str]]] = {}
    for wid, at, role in checkins:
        by_waybill.setdefault(wid, []).append((at, role))
    return [MonitoredWaybill(
        waybill=w, driver_certificates=certificates(people, w.driver_id, "driver"),
        escort_certificates=certificates(people, w.escort_id, "escort"),
        checkins=tuple(sorted(by_waybill.get(w.id, ()))),
        completed_at=w.state_at if w.state == "completed" else None,
        device_id=devices.get(w.vehicle_id) or "") for w in waybills]
