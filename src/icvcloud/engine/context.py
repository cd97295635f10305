"""Who a report belongs to: what the engine needs to know about the vehicle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VehicleContext:
    """The vehicle a report is evaluated for. ``group`` is the vehicle group (车队 /
    line) rule profiles and fences can be assigned to; ``route_ids`` are corridor
    fences the vehicle is assigned to for this trip (e.g. a hazmat waybill's
    prescribed route), in addition to corridors that apply to it by selectors."""

    vehicle_id: int
    device_id: str
    org_id: int | None = None
    vehicle_type: str = "other"
    group: str | None = None
    route_ids: tuple[int, ...] = ()
