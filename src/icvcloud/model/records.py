"""Records shared by every layer. Times are timezone-aware UTC; coordinates WGS-84 degrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud import fastjson

#: Vehicle types the registry knows (JT/T 808 terminals report for these).
VEHICLE_TYPES = (
    "hazmat_tanker",  # 危化品罐车
    "hazmat_van",  # 危化品厢式车
    "coach",  # 客运班车/旅游包车
    "bus",  # 公交车
    "sanitation",  # 环卫车
    "school_bus",  # 校车
    "muck_truck",  # 渣土车
    "taxi",
    "other",
)

ONLINE_STATES = ("online", "offline")


def normalise_device_id(phone: str) -> str:
    """A terminal's identity: its BCD phone number without left padding, so a terminal
    sending 12 digits (2013) and 20 digits (2019) is one device."""
    return phone.lstrip("0") or "0"


@dataclass(slots=True)
class Position:
    """One location report of one device, as stored.

    ``(device_id, device_time, seq, item)`` identifies it: a re-sent report is a
    duplicate; ``item`` is the index inside a 0x0704 batch (0 otherwise).
    """

    device_id: str
    device_time: datetime
    seq: int
    received_at: datetime
    lat: float
    lon: float
    speed_kmh: float = 0.0
    heading_deg: int = 0
    altitude_m: int = 0
    alarm: int = 0
    status: int = 0
    item: int = 0
    backfill: bool = False
    mileage_km: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def acc_on(self) -> bool:
        return bool(self.status & 1)

    @property
    def fixed(self) -> bool:
        return bool(self.status & 2)


@dataclass(slots=True)
class LiveState:
    """The latest known state of a device (and its vehicle)."""

    device_id: str
    vehicle_id: int | None
    online: bool
    last_report_at: datetime | None  # receive time of the last message of any kind
    position: Position | None = None


@dataclass(slots=True)
class Organisation:
    id: int
    name: str
    kind: str = "enterprise"  # regulator | enterprise
    parent_id: int | None = None


@dataclass(slots=True)
class Vehicle:
    id: int
    plate: str
    plate_colour: int = 2
    vin: str = ""
    vehicle_type: str = "other"
    org_id: int | None = None
    device_id: str | None = None


@dataclass(slots=True)
class Device:
    device_id: str
    phone: str = ""
    terminal_id: str = ""
    maker_id: str = ""
    model: str = ""
    protocol_version: int = 2013
    auth_code: str = ""
    vehicle_id: int | None = None
    registered_at: datetime | None = None
    province_id: int = 0
    city_id: int = 0


@dataclass(slots=True)
class User:
    id: int
    username: str
    role: str  # admin | operator | viewer
    org_id: int | None
    password_hash: str = ""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding); ``dt`` must be aware."""
    return (dt - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


#: A position as the stores write it, in storage units: (device_id, device_time_us,
#: seq, item, received_at_us, lat, lon, speed_kmh, heading_deg, altitude_m, alarm,
#: status, mileage_km, backfill 0/1, extras as JSON text or None). The ingest path
#: builds these straight from decoded frames (a Position per report and its
#: conversion cost more than the rest of storing it).
PositionRow = tuple[str, int, int, int, int, float, float, float, int, int, int, int, float | None, int, str | None]

dumps_extras = fastjson.dumps


def position_row(p: Position) -> PositionRow:
    return (p.device_id, to_us(p.device_time), p.seq, p.item, to_us(p.received_at), p.lat, p.lon, p.speed_kmh,
            p.heading_deg, p.altitude_m, p.alarm, p.status, p.mileage_km, 1 if p.backfill else 0,
            dumps_extras(p.extras) if p.extras else None)


def position_of_row(r: Any) -> Position:
    """A Position from a :data:`PositionRow` (or the same 15 values read back)."""
    return Position(device_id=r[0], device_time=from_us(r[1]), seq=r[2], item=r[3], received_at=from_us(r[4]),
                    lat=r[5], lon=r[6], speed_kmh=r[7], heading_deg=r[8], altitude_m=r[9], alarm=r[10],
                    status=r[11], mileage_km=r[12], backfill=bool(r[13]),
                    extras=fastjson.loads(r[14]) if r[14] else {})
