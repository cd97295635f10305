"""Areas and routes sent to terminals: 0x8600–0x8607 (JT/T 808-2013 §8.35–8.42).

Times are BCD ``YYMMDDhhmmss``; a date of ``000000`` means "every day" and is
kept as its 12 digits (e.g. ``"000000083000"`` = daily at 08:30). 2019 adds a
night speed limit when speed limiting is on, and a name to every area and route.
"""

from __future__ import annotations

from datetime import datetime

from .registry import message
from .wire import U8, U16, U32, BcdTime, Coord, Enum, Flags, LenStr, ListOf, Struct, layout
from .wire import f as fld

AREA_ATTR_BITS = {
    0: "time_bounded",
    1: "speed_limited",
    2: "alarm_driver_on_entry",
    3: "alarm_platform_on_entry",
    4: "alarm_driver_on_exit",
    5: "alarm_platform_on_exit",
    6: "south_latitude",
    7: "west_longitude",
    8: "no_door_opening",
    14: "radio_off_inside",
    15: "collect_gnss_detail_inside",
}
ROUTE_ATTR_BITS = {k: v for k, v in AREA_ATTR_BITS.items() if k in (0, 2, 3, 4, 5)}
SEGMENT_ATTR_BITS = {0: "drive_time_limited", 1: "speed_limited", 2: "south_latitude", 3: "west_longitude"}
SET_MODES = {0: "update", 1: "append", 2: "modify"}
NO_TIME = "000000000000"


@layout
class CircleArea:
    area_id: int = fld(U32)
    attr: int = fld(Flags(U16, AREA_ATTR_BITS))
    centre_lat: float = fld(Coord("attr & 64"))
    centre_lon: float = fld(Coord("attr & 128"))
    radius_m: int = fld(U32)
    start_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    end_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    max_speed_kmh: int = fld(U16, when="attr & 2", default=0)
    overspeed_duration_s: int = fld(U8, when="attr & 2", default=0)
    night_max_speed_kmh: int = fld(U16, when="ctx.version == 2019 and attr & 2", default=0)
    name: str = fld(LenStr(U16), when="ctx.version == 2019", default="")


@message(0x8600, "set_circle_areas")
class SetCircleAreas:
    """0x8600 设置圆形区域."""

    mode: int = fld(Enum(U8, SET_MODES), default=0)
    areas: list[CircleArea] = fld(ListOf(Struct(CircleArea), count=U8), factory=list)


@layout
class RectangleArea:
    area_id: int = fld(U32)
    attr: int = fld(Flags(U16, AREA_ATTR_BITS))
    top_left_lat: float = fld(Coord("attr & 64"))
    top_left_lon: float = fld(Coord("attr & 128"))
    bottom_right_lat: float = fld(Coord("attr & 64"))
    bottom_right_lon: float = fld(Coord("attr & 128"))
    start_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    end_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    max_speed_kmh: int = fld(U16, when="attr & 2", default=0)
    overspeed_duration_s: int = fld(U8, when="attr & 2", default=0)
    night_max_speed_kmh: int = fld(U16, when="ctx.version == 2019 and attr & 2", default=0)
    name: str = fld(LenStr(U16), when="ctx.version == 2019", default="")


@message(0x8602, "set_rectangle_areas")
class SetRectangleAreas:
    """0x8602 设置矩形区域."""

    mode: int = fld(Enum(U8, SET_MODES), default=0)
    areas: list[RectangleArea] = fld(ListOf(Struct(RectangleArea), count=U8), factory=list)


@layout
class Vertex:
    lat: float = fld(Coord("False"))
    lon: float = fld(Coord("False"))


@message(0x8604, "set_polygon_area")
class SetPolygonArea:
    """0x8604 设置多边形区域 (one area per message)."""

    area_id: int = fld(U32)
    attr: int = fld(Flags(U16, AREA_ATTR_BITS))
    start_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    end_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    max_speed_kmh: int = fld(U16, when="attr & 2", default=0)
    overspeed_duration_s: int = fld(U8, when="attr & 2", default=0)
    night_max_speed_kmh: int = fld(U16, when="ctx.version == 2019 and attr & 2", default=0)
    vertices: list[Vertex] = fld(ListOf(Struct(Vertex), count=U16), factory=list)
    name: str = fld(LenStr(U16), when="ctx.version == 2019", default="")


@layout
class RoutePoint:
    point_id: int = fld(U32)
    segment_id: int = fld(U32)
    # Magnitudes: the hemisphere bits sit in ``attr``, which follows on the wire.
    lat: float = fld(Coord("False"))
    lon: float = fld(Coord("False"))
    width_m: int = fld(U8)
    attr: int = fld(Flags(U8, SEGMENT_ATTR_BITS))
    too_long_s: int = fld(U16, when="attr & 1", default=0)
    too_short_s: int = fld(U16, when="attr & 1", default=0)
    max_speed_kmh: int = fld(U16, when="attr & 2", default=0)
    overspeed_duration_s: int = fld(U8, when="attr & 2", default=0)
    night_max_speed_kmh: int = fld(U16, when="ctx.version == 2019 and attr & 2", default=0)


@message(0x8606, "set_route")
class SetRoute:
    """0x8606 设置路线: turning points with the segment after each."""

    route_id: int = fld(U32)
    attr: int = fld(Flags(U16, ROUTE_ATTR_BITS))
    start_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    end_time: datetime | str = fld(BcdTime(), when="attr & 1", default=NO_TIME)
    points: list[RoutePoint] = fld(ListOf(Struct(RoutePoint), count=U16), factory=list)
    name: str = fld(LenStr(U16), when="ctx.version == 2019", default="")


def _delete(msg_id: int, name: str, doc: str) -> type:
    @message(msg_id, name)
    class Delete:
        ids: list[int] = fld(ListOf(U32, count=U8), factory=list, doc="empty = delete all")

    Delete.__doc__ = doc
    Delete.__name__ = Delete.__qualname__ = "".join(w.title() for w in name.split("_"))
    return Delete


DeleteCircleAreas = _delete(0x8601, "delete_circle_areas", "0x8601 删除圆形区域 (no IDs = all).")
DeleteRectangleAreas = _delete(0x8603, "delete_rectangle_areas", "0x8603 删除矩形区域 (no IDs = all).")
DeletePolygonAreas = _delete(0x8605, "delete_polygon_areas", "0x8605 删除多边形区域 (no IDs = all).")
DeleteRoutes = _delete(0x8607, "delete_routes", "0x8607 删除路线 (no IDs = all).")
