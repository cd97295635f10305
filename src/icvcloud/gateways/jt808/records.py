"""JT/T 808 messages → platform records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from icvcloud.model import Position, PositionRow, normalise_device_id
from icvcloud.model.records import dumps_extras, to_us
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ITEMS, item_to_json

_KEYS = tuple(f"0x{i:02x}" for i in range(256))
# Scalar items (signal strength, satellites, fuel…) are most of what terminals send:
# their JSON is {name: value}, no codec needed.
_SCALARS = {iid: spec.name for iid, spec in ITEMS.items() if spec.codec is None}


def _extras_json(loc: jt808.Location) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for iid, v in loc.extras.items():
        if iid == 0x01:
            continue  # stored as its own column
        name = _SCALARS.get(iid)
        out[_KEYS[iid]] = {name: v} if name is not None and not isinstance(v, bytes) else item_to_json(iid, v)
    if loc.extras.tail:
        out["tail"] = loc.extras.tail.hex()
    return out


def position(device_id: str, loc: jt808.Location, seq: int, item: int, received_at: datetime,
             backfill: bool = False) -> Position:
    t = loc.time
    extras = _extras_json(loc) if loc.extras else {}
    if isinstance(t, str):
        # An impossible device time: keep the report under its receive time, flagged.
        device_time = received_at
        extras["invalid_device_time"] = t
    else:
        device_time = t.astimezone(UTC)
    mileage = loc.extras.get(0x01)
    return Position(
        device_id=device_id,
        device_time=device_time,
        seq=seq,
        item=item,
        received_at=received_at,
        lat=loc.lat,
        lon=loc.lon,
        speed_kmh=loc.speed_kmh,
        heading_deg=loc.heading_deg,
        altitude_m=loc.altitude_m,
        alarm=loc.alarm,
        status=loc.status,
        backfill=backfill,
        mileage_km=mileage if isinstance(mileage, float) else None,
        extras=extras,
    )


def row(device_id: str, loc: jt808.Location, seq: int, item: int, received_us: int,
        backfill: bool = False) -> PositionRow:
    """``position_row(position(…))`` without the Position in between (the ingest path's
    per-report cost: about half)."""
    t = loc.time
    extras = _extras_json(loc) if loc.extras else {}
    if isinstance(t, str):
        t_us = received_us
        extras["invalid_device_time"] = t
    else:
        t_us = to_us(t)
    mileage = loc.extras.get(0x01)
    return (device_id, t_us, seq, item, received_us, loc.lat, loc.lon, loc.speed_kmh, loc.heading_deg,
            loc.altitude_m, loc.alarm, loc.status, mileage if isinstance(mileage, float) else None,
            1 if backfill else 0, dumps_extras(extras) if extras else None)


def _locations(msg: jt808.Message) -> list[tuple[jt808.Location, int, bool]]:
    """(location, index in a batch, back-filled) of every position a message carries."""
    b = msg.body
    mid = msg.msg_id
    if mid == 0x0200:
        return [(b, 0, False)]
    if mid == 0x0704:
        backfill = b.batch_type == 1
        return [(loc, i, backfill) for i, loc in enumerate(b.items)]
    if mid in (0x0201, 0x0500):
        return [(b.location, 0, False)]
    return []


def positions_from(msg: jt808.Message, received_at: datetime) -> list[Position]:
    """The positions a decoded message carries (0x0200, 0x0201, 0x0500, 0x0704)."""
    device_id = normalise_device_id(msg.phone)
    return [position(device_id, loc, msg.seq, i, received_at, bf) for loc, i, bf in _locations(msg)]


def rows_from(msg: jt808.Message, received_us: int) -> list[PositionRow]:
    """:func:`positions_from` as the rows the stores write."""
    device_id = normalise_device_id(msg.phone)
    return [row(device_id, loc, msg.seq, i, received_us, bf) for loc, i, bf in _locations(msg)]
