"""The platform's own records, independent of any wire format."""

from .records import (
    ONLINE_STATES,
    VEHICLE_TYPES,
    Device,
    LiveState,
    Organisation,
    Position,
    User,
    Vehicle,
    normalise_device_id,
)

__all__ = [
    "ONLINE_STATES",
    "VEHICLE_TYPES",
    "Device",
    "LiveState",
    "Organisation",
    "Position",
    "User",
    "Vehicle",
    "normalise_device_id",
]
