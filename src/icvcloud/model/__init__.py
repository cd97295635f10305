"""The platform's own records, independent of any wire format."""

from .records import (
    ONLINE_STATES,
    VEHICLE_TYPES,
    Device,
    LiveState,
    Organisation,
    Position,
    PositionRow,
    User,
    Vehicle,
    normalise_device_id,
    position_of_row,
    position_row,
)

__all__ = [
    "ONLINE_STATES",
    "VEHICLE_TYPES",
    "Device",
    "LiveState",
    "Organisation",
    "Position",
    "PositionRow",
    "User",
    "Vehicle",
    "normalise_device_id",
    "position_of_row",
    "position_row",
]
