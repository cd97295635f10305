"""Live positions: an update is encoded once for every connection it goes to, and
the wire form is the vehicle list's item shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from icvcloud.api.views import ITEM_KEYS
from icvcloud.api.ws import _encoded
from icvcloud.app.pipeline import live_item
from icvcloud.model import Position, Vehicle


def _update() -> dict[str, object]:
    at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    p = Position(device_id="13900000001", device_time=at, seq=1, item=0, received_at=at, lat=36.81, lon=118.05,
                 speed_kmh=42.5, heading_deg=90, altitude_m=50, alarm=0, status=3, backfill=False, mileage_km=12.5,
                 extras={"0x30": {"signal": 20}})
    return live_item(Vehicle(id=7, plate="鲁C12345", plate_colour=1, vin=None, vehicle_type="bus", org_id=2,
                             device_id=p.device_id), p)


def test_an_update_is_encoded_once_and_reused() -> None:
    u = _update()
    first = _encoded(u)
    u["plate"] = "changed after encoding"  # a second connection gets the stored text, not a new encoding
    assert _encoded(u) is first
    item = json.loads(first)
    assert tuple(item) == ITEM_KEYS
    assert item["plate"] == "鲁C12345" and item["position"]["speed_kmh"] == 42.5
    # ASCII: one Chinese character would make a browser's copy of a whole batch two-byte.
    assert first.isascii() and "\\u9c81C12345" in first


def test_a_plain_update_from_elsewhere_is_encoded_too() -> None:
    plain = dict(_update())
    assert json.loads(_encoded(plain)) == json.loads(_encoded(_update()))
