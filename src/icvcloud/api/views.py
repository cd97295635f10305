"""Store records → response models."""

from __future__ import annotations

from typing import Any

from icvcloud.model import Position
from icvcloud.protocols.jt808.bits import ALARM, STATUS
from icvcloud.store.base import VehicleRow

from .schemas import PositionOut, TrackPoint, VehicleItem

#: The keys of a vehicle item; live hub updates carry a few more for filtering.
ITEM_KEYS = tuple(VehicleItem.model_fields)


def position_out(p: Position) -> PositionOut:
    return PositionOut(lat=p.lat, lon=p.lon, speed_kmh=p.speed_kmh, heading_deg=p.heading_deg, altitude_m=p.altitude_m,
                       device_time=p.device_time, alarm=p.alarm, status=p.status, alarm_flags=ALARM.names_of(p.alarm),
                       status_flags=STATUS.names_of(p.status), mileage_km=p.mileage_km, extras=p.extras)


def vehicle_item(row: VehicleRow) -> VehicleItem:
    v, live = row.vehicle, row.live
    position = live.position if live is not None else None
    return VehicleItem(
        id=v.id, plate=v.plate, plate_colour=v.plate_colour, vehicle_type=v.vehicle_type, org_id=v.org_id,
        device_id=v.device_id, online=bool(live and live.online),
        last_report_at=live.last_report_at if live is not None else None,
        position=position_out(position) if position is not None else None)


def track_point(p: Position) -> TrackPoint:
    return TrackPoint(device_time=p.device_time, received_at=p.received_at, lat=p.lat, lon=p.lon,
                      speed_kmh=p.speed_kmh, heading_deg=p.heading_deg, altitude_m=p.altitude_m, alarm=p.alarm,
                      status=p.status, mileage_km=p.mileage_km, backfill=p.backfill)


def live_update_item(update: dict[str, Any]) -> dict[str, Any]:
    """A live hub update in the vehicle list's item shape (its filter keys dropped)."""
    return {k: update.get(k) for k in ITEM_KEYS}
