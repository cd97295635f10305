"""Request and response bodies of the hazmat endpoints (docs/hazmat.md)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from icvcloud.model.hazmat import CLASS_PATTERN

from .schemas import MAX_ID

ClassCode = Annotated[str, Field(pattern=CLASS_PATTERN, description='A class or division: "3", "2.1", "1.4S"')]
Classes = Annotated[list[ClassCode], Field(max_length=40)]
Number = Annotated[str, Field(min_length=1, max_length=64)]
Role = Literal["driver", "escort"]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _aware(v: datetime) -> datetime:
    if v.utcoffset() is None:
        raise ValueError("needs a UTC offset, e.g. 2024-05-01T08:00:00+08:00")
    return v


class EnterpriseIn(BaseModel):
    business_licence_no: str = Field(default="", max_length=64, description="营业执照 (unified social credit code)")
    operation_licence_no: Number = Field(description="道路运输经营许可证 number")
    classes: Classes = Field(description="Hazard classes/divisions the licence's scope covers")
    valid_from: date | None = None
    valid_until: date = Field(description="Valid through this day")


class EnterpriseOut(EnterpriseIn):
    org_id: int
    name: str
    updated_at: datetime | None


class VehicleHazmatIn(BaseModel):
    body: Literal["tank", "van"] = Field(description="Tank vehicle (罐式) or van/box (厢式)")
    classes: Classes = Field(description="Hazard classes/divisions the vehicle is permitted to carry")
    certificate_no: Number = Field(description="道路运输证 number")
    certificate_expiry: date = Field(description="Valid through this day")


class VehicleHazmatOut(VehicleHazmatIn):
    vehicle_id: int
    org_id: int | None
    plate: str
    device_id: str | None
    online: bool = Field(description="The vehicle's terminal is online now")
    updated_at: datetime | None


class QualificationIO(BaseModel):
    kind: Role = Field(description="driver (驾驶员) or escort (押运员) qualification")
    number: Number
    classes: Annotated[list[ClassCode], Field(min_length=1, max_length=40)]
    expiry: date = Field(description="Valid through this day")


class PersonUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(default="", max_length=32)
    qualifications: list[QualificationIO] = Field(default_factory=list, max_length=10)


class PersonIn(PersonUpdate):
    org_id: Id | None = Field(default=None, description="The enterprise; default: the caller's organisation")


class PersonOut(PersonUpdate):
    id: int
    org_id: int
    updated_at: datetime | None


class PeoplePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PersonOut]


class AssignmentIn(BaseModel):
    vehicle_id: Id
    person_id: Id
    role: Role


class AssignmentOut(AssignmentIn):
    id: int
    org_id: int | None


class CargoLineIn(BaseModel):
    un_number: str = Field(pattern=r"^(UN ?)?\d{4}$", description='"1203" or "UN1203"')
    name: str = Field(default="", max_length=200, description="Proper shipping name; default: the UN table's")
    hazard_class: ClassCode
    packing_group: Literal["I", "II", "III"] | None = None
    quantity: float = Field(gt=0)
    unit: Literal["kg", "t", "L", "m3", "pieces"]

    @field_validator("quantity")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class CargoLineOut(CargoLineIn):
    pass


class SiteIO(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200)
    area: dict[str, Any] = Field(description="A geofence of kind circle, rectangle or polygon in the engine's JSON "
                                             "form (docs/engine.md), e.g. "
                                             '{"kind": "circle", "center": [118.05, 36.81], "radius_m": 300}')


LonLat = tuple[Annotated[float, Field(ge=-180, le=180)], Annotated[float, Field(ge=-90, le=90)]]


class WaybillIn(BaseModel):
    org_id: Id | None = Field(default=None, description="The carrier; default: the caller's organisation")
    number: str = Field(default="", max_length=40, pattern=r"^[0-9A-Za-z_-]*$",
                        description="The waybill number; empty: one is assigned")
    shipper: str = Field(min_length=1, max_length=200)
    consignee: str = Field(min_length=1, max_length=200)
    vehicle_id: Id
    driver_id: Id
    escort_id: Id | None = Field(description="押运员: required (null is refused with the reason)")
    cargo: list[CargoLineIn] = Field(min_length=1, max_length=50)
    origin: SiteIO = Field(description="Loading site")
    destination: SiteIO = Field(description="Unloading site")
    departure_from: datetime
    departure_until: datetime
    arrival_from: datetime
    arrival_until: datetime
    route: list[LonLat] = Field(min_length=2, max_length=5000, description="Approved route: [[lon, lat], …]")
    corridor_m: float = Field(gt=0, le=5000, description="Corridor width around the route, metres")

    _aware_times = field_validator("departure_from", "departure_until", "arrival_from", "arrival_until")(_aware)


class WaybillOut(BaseModel):
    id: int
    org_id: int
    number: str
    state: str = Field(description="planned (issued), the trip's loading, in_transit, unloading, completed (from the "
                                   "vehicle's reports), or cancelled")
    state_at: datetime | None = Field(None, description="When the current state was entered (device time)")
    shipper: str
    consignee: str
    vehicle_id: int
    driver_id: int
    escort_id: int | None
    cargo: list[CargoLineOut]
    origin: SiteIO
    destination: SiteIO
    departure_from: datetime
    departure_until: datetime
    arrival_from: datetime
    arrival_until: datetime
    route: list[tuple[float, float]]
    corridor_m: float
    warnings: list[str] = Field(description="What the checks flagged without refusing (offline terminal in trials)")
    created_at: datetime | None
    created_by: str
    cancelled_at: datetime | None
    cancel_reason: str
    cancelled_by: str


class WaybillPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[WaybillOut]


class Reason(BaseModel):
    code: str = Field(description="Machine-readable: licence_expired, driver_expired, un_unknown, …")
    message: str


class WaybillRefused(BaseModel):
    detail: str
    reasons: list[Reason]


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class FindingOut(BaseModel):
    status: Literal["expired", "expiring"]
    document: Literal["operation_licence", "transport_certificate", "qualification"]
    number: str
    expiry: date
    days_left: int = Field(description="0: expires today; negative: expired that many days ago")
    org_id: int | None
    subject: Literal["enterprise", "vehicle", "person"]
    subject_id: int
    subject_name: str
    detail: str = Field(description="A qualification's kind (driver, escort)")
    message: str


class UnEntryOut(BaseModel):
    un_number: str
    hazard_class: str
    subsidiary_hazards: list[str]
    packing_groups: list[str]
    name_en: str
    name_zh: str
