"""Live updates between processes: what an API process accepts from NATS."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icvcloud.app.live_bus import decode_updates

_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["lat", "lon", "org_id", "x"]), c,
                                                        max_size=4),
    max_leaves=12)


@given(st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode())))
def test_anything_decodes_to_updates_or_a_clear_error(data: bytes) -> None:
    try:
        items = decode_updates(data)
    except ValueError:
        return
    for u in items:  # what the hub's filters rely on
        assert isinstance(u, dict)
        assert isinstance(u["lat"], int | float) and not isinstance(u["lat"], bool)
        assert isinstance(u["lon"], int | float) and not isinstance(u["lon"], bool)


def test_updates_round_trip() -> None:
    ups = [{"lat": 36.5, "lon": 118.0, "device_id": "1", "org_id": None, "position": {"speed_kmh": 3.5}},
           {"device_id": "2", "online": False, "lat": 0.0, "lon": 0.0, "offline": True}]
    assert decode_updates(json.dumps(ups).encode()) == ups
    for bad in (b"", b"{}", b'[{"lat": "36", "lon": 118}]', b'[{"lat": true, "lon": 1}]', b"\xff"):
        with pytest.raises(ValueError):
            decode_updates(bad)
