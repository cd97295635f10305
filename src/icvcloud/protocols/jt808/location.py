"""Location reports: 0x0200, 0x0201 (query answer), 0x0500 (vehicle-control answer), 0x0704 (batch)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .bits import ALARM, STATUS
from .extras import ExtraItems, Extras, RawItem
from .registry import message
from .wire import U8, U16, BcdTime, Coord, Enum, LenPrefixed, ListOf, Scaled, Struct, layout
from .wire import f as fld


@layout
class LocationBasic:
    """The 28-byte basic location block (also embedded in 0x0801 multimedia uploads).

    ``lat``/``lon`` are degrees, negative for south/west (from status bits 2/3);
    ``time`` is the device's Beijing time as an aware datetime (or the raw BCD
    digits when the terminal sent an impossible time).
    """

    alarm: int = fld(ALARM)
    status: int = fld(STATUS)
    lat: float = fld(Coord("status & 4"))
    lon: float = fld(Coord("status & 8"))
    altitude_m: int = fld(U16)
    speed_kmh: float = fld(Scaled(U16, 10))
    heading_deg: int = fld(U16)
    time: datetime | str = fld(BcdTime())


@message(0x0200, "location_report")
class Location(LocationBasic):
    """0x0200 位置信息汇报: the basic block plus additional items (``extras``)."""

    extras: ExtraItems = fld(Extras(), factory=ExtraItems)

    def extra(self, item_id: int) -> Any:
        """A decoded additional item, or None if absent or kept raw."""
        v = self.extras.get(item_id)
        return None if isinstance(v, RawItem) else v

    @property
    def mileage_km(self) -> float | None:
        return self.extra(0x01)  # type: ignore[no-any-return]

    @property
    def fuel_l(self) -> float | None:
        return self.extra(0x02)  # type: ignore[no-any-return]


LOCATION = Struct(Location)


@message(0x0201, "location_query_reply")
class LocationQueryReply:
    """0x0201 位置信息查询应答 (answers 0x8201)."""

    reply_seq: int = fld(U16)
    location: Location = fld(LOCATION)


@message(0x0500, "vehicle_control_reply")
class VehicleControlReply:
    """0x0500 车辆控制应答 (answers 0x8500)."""

    reply_seq: int = fld(U16)
    location: Location = fld(LOCATION)


BATCH_TYPES = {0: "normal", 1: "backfill"}  # 1 = 盲区补报, data buffered out of coverage


@message(0x0704, "batch_location")
class BatchLocation:
    """0x0704 定位数据批量上传: normal batch or blind-area back-fill."""

    count: int = fld(U16, derive="len(items)", default=0)
    batch_type: int = fld(Enum(U8, BATCH_TYPES), default=0)
    items: list[Location] = fld(ListOf(LenPrefixed(U16, LOCATION), count="count"), factory=list)
