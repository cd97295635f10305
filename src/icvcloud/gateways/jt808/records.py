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


def _parts(loc: jt808.Location) -> tuple[datetime | None, dict[str, Any], float | None]:
    """A report's device time (None if impossible: the report is kept under its receive
    time, flagged in its items), its additional items as JSON, its mileage."""
    extras = _extras_json(loc) if loc.extras else {}
    t = loc.time
    if isinstance(t, str):
        extras["invalid_device_time"] = t
    mileage = loc.extras.get(0x01)
    return None if isinstance(t, str) else t, extras, mileage if isinstance(mileage, float) else None


def position(device_id: str, loc: jt808.Location, seq: int, item: int, received_at: datetime,
             backfill: bool = False) -> Position:
    t, extras, mileage = _parts(loc)
    return Position(
        device_id=device_id,
        device_time=received_at if t is None else t.astimezone(UTC),
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
        mileage_km=mileage,
        extras=extras,
    )


def row(device_id: str, loc: jt808.Location, seq: int, item: int, received_us: int,
        backfill: bool = False) -> PositionRow:
    """``position_row(position(…))`` without the Position in between (the ingest path's
    per-report cost: about half)."""
    t, extras, mileage = _parts(loc)
    return (device_id, received_us if t is None else to_us(t), seq, item, received_us, loc.lat, loc.lon,
            loc.speed_kmh, loc.heading_deg, loc.altitude_m, loc.alarm, loc.status, mileage, 1 if backfill else 0,
            dumps_extras(extras) if extras else None)


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
