"""Reports built the way the platform builds them: a JT/T 808 frame encoded by the
codec, decoded, and mapped to a Position by the gateway's record mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.gateways.jt808.records import positions_from
from icvcloud.model.records import Position
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808 import active_safety as asf
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.protocols.jt808.wire import CST


def location(t: datetime, lon: float, lat: float, speed: float = 50.0, alarm: int = 0, status: int = 0b11,
             items: dict[int, Any] | None = None) -> jt808.Location:
    return jt808.Location(alarm=alarm, status=status, lat=lat, lon=lon, altitude_m=50, speed_kmh=speed,
                          heading_deg=90, time=t.astimezone(CST).replace(microsecond=0),
                          extras=ExtraItems(items or {}))


def through_gateway(loc: jt808.Location, phone: str = "13800000001", seq: int = 1) -> Position:
    frame = jt808.encode(0x0200, loc, phone=phone, seq=seq)
    (p,) = positions_from(jt808.decode(frame), loc.time.astimezone(UTC) + timedelta(seconds=2))  # type: ignore[union-attr]
    return p


def ident(t: datetime, attachments: int = 3, seq: int = 0) -> asf.AlarmIdentification:
    return asf.AlarmIdentification(terminal_id="T000001", time=t.astimezone(CST), seq=seq,
                                   attachment_count=attachments)


def adas(t: datetime, alarm_id: int, alarm_type: int = 1, level: int = 2, flag: int = 0,
         attachments: int = 3) -> asf.AdasAlarm:
    return asf.AdasAlarm(alarm_id=alarm_id, flag=flag, alarm_type=alarm_type, level=level, front_vehicle_speed_kmh=40,
                         front_headway_100ms=8, deviation_type=0, road_sign_type=0, road_sign_value=0, speed_kmh=62,
                         altitude_m=55, lat=36.81, lon=118.06, time=t.astimezone(CST), vehicle_status=0x0401,
                         identification=ident(t, attachments))


def dsm(t: datetime, alarm_id: int, alarm_type: int = 1, level: int = 1, flag: int = 0) -> asf.DsmAlarm:
    return asf.DsmAlarm(alarm_id=alarm_id, flag=flag, alarm_type=alarm_type, level=level, fatigue_level=6,
                        speed_kmh=60, altitude_m=55, lat=36.81, lon=118.06, time=t.astimezone(CST),
                        vehicle_status=0x0401, identification=ident(t, 2))


def bsd(t: datetime, alarm_id: int) -> asf.BsdAlarm:
    return asf.BsdAlarm(alarm_id=alarm_id, flag=0, alarm_type=3, speed_kmh=30, altitude_m=55, lat=36.81, lon=118.06,
                        time=t.astimezone(CST), vehicle_status=0x0401, identification=ident(t, 1))


def tpms(t: datetime, alarm_id: int) -> asf.TpmsAlarm:
    tyre = asf.TyreEvent(position=2, events=0b100, pressure_kpa=500, temperature_c=40, battery_pct=90)
    return asf.TpmsAlarm(alarm_id=alarm_id, flag=0, speed_kmh=60, altitude_m=55, lat=36.81, lon=118.06,
                         time=t.astimezone(CST), vehicle_status=0x0401, identification=ident(t, 0), events=[tyre])
