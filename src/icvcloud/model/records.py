"""Records shared by every layer. Times are timezone-aware UTC; coordinates WGS-84 degrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
