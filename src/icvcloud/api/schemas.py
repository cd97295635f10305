"""Request and response bodies (they are also the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["admin", "operator", "viewer", "driver"]
#: Kept equal to ``icvcloud.model.VEHICLE_TYPES`` (a test checks), spelled out so the
#: OpenAPI document lists the values.
VehicleType = Literal["hazmat_tanker", "hazmat_van", "coach", "bus", "sanitation", "school_bus", "muck_truck", "taxi",
                      "other"]

#: IDs fit SQLite's and PostgreSQL's signed 64-bit integers.
MAX_ID = 2**63 - 1


class Error(BaseModel):
    detail: str = Field(description="What went wrong, for people")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown only here")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    role: Role
    expires_in_s: int


class Me(BaseModel):
    id: int
    username: str
    role: Role
    org_id: int | None
    sees_all: bool = Field(description="True for administrators and regulators: every organisation's data")
    org_ids: list[int] | None = Field(description="Organisations whose data the user sees; null = all")
    person_id: int | None = Field(None, description="A driver's or escort's own account: the person (role driver)")


class OrganisationOut(BaseModel):
    id: int
    name: str
    kind: Literal["regulator", "enterprise"]
    parent_id: int | None


class PositionOut(BaseModel):
    lat: float = Field(description="WGS-84 degrees")
    lon: float = Field(description="WGS-84 degrees")
    speed_kmh: float
    heading_deg: int
    altitude_m: int
    device_time: datetime = Field(description="The GNSS fix time (UTC)")
    alarm: int = Field(description="JT/T 808 alarm flag bits")
    status: int = Field(description="JT/T 808 status bits")
    alarm_flags: list[str] = Field(description="Names of the set alarm bits")
    status_flags: list[str] = Field(description="Names of the set status bits")
    mileage_km: float | None
    extras: dict[str, Any] = Field(description="Further JT/T 808 additional items, by hex ID")


class VehicleItem(BaseModel):
    id: int
    plate: str
    plate_colour: int | None
    vehicle_type: str
    org_id: int | None
    device_id: str | None
    online: bool
    last_report_at: datetime | None = Field(description="Receive time of the device's last message of any kind")
    position: PositionOut | None = Field(description="The newest position by device time; null before the first")


class VehiclePage(BaseModel):
    total: int = Field(description="Vehicles matching the filters (all pages)")
    limit: int
    offset: int
    items: list[VehicleItem]


class VehicleStats(BaseModel):
    total: int
    online: int
    offline: int
    moving: int = Field(description="Online and faster than 3 km/h")
    stopped: int = Field(description="Online and not moving")
    alarm: int = Field(description="Online with an alarm bit set")


class TrackPoint(BaseModel):
    device_time: datetime
    received_at: datetime
    lat: float
    lon: float
    speed_kmh: float
    heading_deg: int
    altitude_m: int
    alarm: int
    status: int
    mileage_km: float | None
    backfill: bool = Field(description="Re-sent later from the terminal's buffer (0x0704)")


class Stop(BaseModel):
    start: datetime
    end: datetime
    duration_s: float
    lat: float
    lon: float


class TrackOut(BaseModel):
    vehicle_id: int
    device_id: str | None
    start: datetime
    end: datetime
    tolerance_m: float
    raw_count: int = Field(description="Points stored in the range (up to the per-request cap)")
    count: int = Field(description="Points returned after simplification")
    truncated: bool = Field(description="The range holds more points than one request reads")
    points: list[TrackPoint]
    stops: list[Stop] | None = Field(default=None, description="With stops=true: where the vehicle stood still")


class FrameOut(BaseModel):
    source: Literal["log", "bad"] = Field(description="log: accepted and logged; bad: failed to decode")
    received_at: datetime
    hex: str = Field(description="The frame's bytes (logged frames: un-escaped header + body)")
    msg_id: str | None = Field(description="Message ID of a logged frame, e.g. 0x0200")
    reason: str | None = Field(description="Why a bad frame was refused")
    offset: int | None = Field(description="Log offset of a logged frame")


class FramesOut(BaseModel):
    device_id: str
    items: list[FrameOut]


class LiveSubscribe(BaseModel):
    """A WebSocket client's subscription; each message replaces the previous one."""

    model_config = ConfigDict(extra="forbid")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="[minLon, minLat, maxLon, maxLat], WGS-84")
    vehicles: list[int] | None = Field(default=None, max_length=10_000, description="Vehicle IDs")

    @model_validator(mode="after")
    def _check_bbox(self) -> LiveSubscribe:
        if self.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = self.bbox
            if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
                raise ValueError("bbox must be [minLon, minLat, maxLon, maxLat] with min <= max, in degrees")
        return self
