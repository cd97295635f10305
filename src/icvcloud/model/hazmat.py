"""Hazmat transport supervision (危险货物道路运输): the registry of enterprises'
licences, vehicles' hazmat attributes, drivers and escorts (押运员) with their
qualifications, vehicle–person assignments, and electronic waybills (电子运单).

Hazard classes are written as in the UN Recommendations: a class ("3", "8"), a
division ("2.1", "6.1") or, for explosives, a division with its compatibility group
("1.4S"). A permitted class covers its divisions ("2" covers "2.1"–"2.3"); a
permitted division covers only itself (and, for class 1, every compatibility group
of it). Documents are valid through their expiry date (local calendar day).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

#: Classes and divisions a registry entry may permit.
CLASS_PATTERN = r"^(1(\.[1-6][A-SN]?)?|2(\.[1-3])?|3|4(\.[1-3])?|5(\.[12])?|6(\.[12])?|7|8|9)$"
_CLASS = re.compile(CLASS_PATTERN)

PersonRole = Literal["driver", "escort"]
VehicleBody = Literal["tank", "van"]
PERSON_ROLES: tuple[str, ...] = ("driver", "escort")
#: The core registry's vehicle types that carry dangerous goods.
HAZMAT_VEHICLE_TYPES: tuple[str, ...] = ("hazmat_tanker", "hazmat_van")
#: A waybill's states: issued (``planned``), the trip's as its vehicle's reports show
#: them (``hazmat/trip.py``), or ``cancelled`` by its carrier before loading.
WAYBILL_STATES: tuple[str, ...] = ("planned", "loading", "in_transit", "unloading", "completed", "cancelled")
QUANTITY_UNITS: tuple[str, ...] = ("kg", "t", "L", "m3", "pieces")


def is_class(code: str) -> bool:
    return bool(_CLASS.match(code))


def class_parts(code: str) -> tuple[str, str]:
    """(class, division) of a code: "2.1" → ("2", "2.1"), "1.4S" → ("1", "1.4"), "3" → ("3", "3")."""
    main = code.split(".", 1)[0]
    division = code[:3] if code.startswith("1.") else code
    return main, division


def covers(permitted: Iterable[str], code: str) -> bool:
    """Whether a list of permitted classes/divisions covers the hazard class ``code``."""
    main, division = class_parts(code)
    allowed = set(permitted)
    return bool(allowed & {main, division, code})


@dataclass(slots=True)
class EnterpriseDetails:
    """An enterprise's hazmat registration: licences and business scope (经营范围)."""

    org_id: int
    #: 营业执照 (unified social credit code).
    business_licence_no: str
    #: 道路运输经营许可证: the licence that admits dangerous-goods transport.
    operation_licence_no: str
    #: Hazard classes/divisions the licence's scope names.
    classes: tuple[str, ...]
    valid_until: date
    valid_from: date | None = None
    name: str = ""  # the organisation's name (read only)
    updated_at: datetime | None = None


@dataclass(slots=True)
class VehicleHazmat:
    """A vehicle's hazmat attributes (the vehicle itself is in the core registry)."""

    vehicle_id: int
    body: VehicleBody
    classes: tuple[str, ...]
    #: 道路运输证 number and expiry.
    certificate_no: str
    certificate_expiry: date
    # Read only, from the core registry and live state:
    org_id: int | None = None
    plate: str = ""
    device_id: str | None = None
    online: bool = False
    updated_at: datetime | None = None


@dataclass(slots=True)
class Qualification:
    """A qualification certificate (从业资格证): a driver's or an escort's."""

    kind: PersonRole
    number: str
    classes: tuple[str, ...]
    expiry: date

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "number": self.number, "classes": list(self.classes),
                "expiry": self.expiry.isoformat()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Qualification:
        return cls(kind=d["kind"], number=d["number"], classes=tuple(d["classes"]),
                   expiry=date.fromisoformat(d["expiry"]))


@dataclass(slots=True)
class Person:
    """A driver or escort of an enterprise."""

    id: int
    org_id: int
    name: str
    phone: str = ""
    qualifications: list[Qualification] = field(default_factory=list)
    updated_at: datetime | None = None

    def qualified(self, role: PersonRole) -> list[Qualification]:
        return [q for q in self.qualifications if q.kind == role]


@dataclass(slots=True)
class Assignment:
    """A person assigned to a vehicle as its driver or escort."""

    id: int
    vehicle_id: int
    person_id: int
    role: PersonRole
    org_id: int | None = None  # the vehicle's (read only)


@dataclass(slots=True)
class CargoLine:
    un_number: str  # four digits
    name: str  # proper shipping name
    hazard_class: str
    packing_group: str | None  # I, II, III; None for goods without (gases, class 7, most of 1)
    quantity: float
    unit: str

    def as_json(self) -> dict[str, Any]:
        return {"un_number": self.un_number, "name": self.name, "hazard_class": self.hazard_class,
                "packing_group": self.packing_group, "quantity": self.quantity, "unit": self.unit}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CargoLine:
        return cls(un_number=d["un_number"], name=d["name"], hazard_class=d["hazard_class"],
                   packing_group=d.get("packing_group"), quantity=float(d["quantity"]), unit=d["unit"])


@dataclass(slots=True)
class Site:
    """A loading or unloading site; ``area`` is a geofence in the engine's JSON form
    (docs/engine.md: kind circle, rectangle or polygon)."""

    name: str
    area: dict[str, Any]
    address: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "area": self.area}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Site:
        return cls(name=d["name"], address=d.get("address", ""), area=dict(d["area"]))


@dataclass(slots=True)
class Waybill:
    """An electronic waybill (电子运单) of one trip; the carrier is ``org_id``."""

    id: int
    org_id: int
    shipper: str
    consignee: str
    vehicle_id: int
    driver_id: int
    escort_id: int | None
    cargo: list[CargoLine]
    origin: Site
    destination: Site
    departure_from: datetime
    departure_until: datetime
    arrival_from: datetime
    arrival_until: datetime
    #: The approved route: a polyline of (lon, lat) and the corridor's width.
    route: list[tuple[float, float]]
    corridor_m: float
    number: str = ""  # given, or assigned on creation
    state: str = "planned"
    #: When the current state was entered (device time; None: when issued).
    state_at: datetime | None = None
    #: What validation allowed but flagged (an offline terminal in "warn" mode).
    warnings: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    created_by: str = ""
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    cancelled_by: str = ""

    @property
    def classes(self) -> list[str]:
        return sorted({c.hazard_class for c in self.cargo})


@dataclass(frozen=True, slots=True)
class MonitoredWaybill:
    """A waybill as full-trip monitoring needs it: with its people's qualification
    certificate numbers (to recognise their IC cards, 0x0702), its manual check-ins,
    and when its trip completed."""

    waybill: Waybill
    driver_certificates: tuple[str, ...] = ()
    escort_certificates: tuple[str, ...] = ()
    #: Manual check-ins: (time, role).
    checkins: tuple[tuple[datetime, str], ...] = ()
    completed_at: datetime | None = None
    #: The vehicle's terminal ("" if none): findings about a vehicle that has not
    #: reported since the monitor started still name it.
    device_id: str = ""


@dataclass(frozen=True, slots=True)
class TripStateChange:
    """A waybill's trip entered ``state`` at ``at`` (device time), from ``from_state``,
    by a ``report`` or by ``dwell`` (completion inside the unloading site)."""

    waybill_id: int
    state: str
    from_state: str
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class Checkin:
    """A manual check-in of a waybill's driver or escort."""

    id: int
    waybill_id: int
    person_id: int
    role: str
    at: datetime
    by: str = ""
