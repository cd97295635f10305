"""Fence definitions: the JSON/TOML form, validation, selectors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icvcloud.model.fences import Fence, FenceError, TimeWindow, fences_from_list

CIRCLE = {"id": 1, "name": "school", "kind": "circle", "center": [118.05, 36.81], "radius_m": 300,
          "forbidden": [{"start": "07:00", "end": "09:00", "weekdays": [1, 2, 3, 4, 5]}],
          "vehicle_types": ["hazmat_tanker"]}
RECT = {"id": 2, "name": "core", "kind": "rectangle", "points": [[118.02, 36.79], [118.08, 36.83]],
        "speed_limit_kmh": 40, "alarm_on_enter": True}
POLY = {"id": 3, "name": "depot", "kind": "polygon", "points": [[118.0, 36.8], [118.01, 36.8], [118.01, 36.81]],
        "stop_permitted": True}
CORRIDOR = {"id": 4, "name": "G20", "kind": "corridor", "road_class": "expressway", "deviation_after_s": 120,
            "sections": [{"points": [[118.0, 36.9], [118.1, 36.9]], "width_m": 60, "speed_limit_kmh": 100},
                         {"points": [[118.1, 36.9], [118.2, 36.95]], "width_m": 40, "name": "bridge"}],
            "groups": ["line-7"], "org_ids": [3]}


@pytest.mark.parametrize("d", [CIRCLE, RECT, POLY, CORRIDOR])
def test_round_trip(d: dict) -> None:
    f = Fence.from_dict(d)
    again = Fence.from_dict(json.loads(json.dumps(f.to_dict())))
    assert again == f
    assert again.to_dict() == f.to_dict()


def test_parsed_values() -> None:
    c = Fence.from_dict(CIRCLE)
    assert c.center == (118.05, 36.81) and c.radius_m == 300.0
    assert c.forbidden == (TimeWindow("07:00", "09:00", (1, 2, 3, 4, 5)),)
    r = Fence.from_dict(CORRIDOR)
    assert r.sections[0].speed_limit_kmh == 100 and r.sections[1].name == "bridge"
    assert r.deviation_after_s == 120.0 and r.road_class == "expressway"


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "hexagon"}, "kind must be one of"),
    ({"center": [36.81, 318.05]}, "out of range"),
    ({"radius_m": 0}, "radius_m must be > 0"),
    ({"radius_m": float("nan")}, "finite number"),
    ({"colour": "red"}, "unknown keys"),
    ({"forbidden": [{"start": "25:00", "end": "06:00"}]}, "HH:MM"),
    ({"forbidden": [{"start": "22:00", "end": "06:00", "weekdays": [0]}]}, "weekdays"),
    ({"id": "1"}, "id must be an integer"),
    ({"deviation_after_s": 60}, "belongs to corridors"),
    ({"road_class": "motorway"}, "road_class must be one of"),
    ({"vehicle_types": "hazmat_tanker"}, "list of strings"),
])
def test_bad_circle_is_rejected_with_reason(change: dict, message: str) -> None:
    with pytest.raises(FenceError, match=message) as ei:
        Fence.from_dict({**CIRCLE, **change})
    assert "fence" in str(ei.value)


def test_bad_shapes() -> None:
    with pytest.raises(FenceError, match="at least 3 distinct"):
        Fence.from_dict({**POLY, "points": [[118.0, 36.8], [118.01, 36.8], [118.0, 36.8]]})
    with pytest.raises(FenceError, match="differ in both"):
        Fence.from_dict({**RECT, "points": [[118.0, 36.8], [118.0, 36.9]]})
    with pytest.raises(FenceError, match="needs sections"):
        Fence.from_dict({**CORRIDOR, "sections": []})
    with pytest.raises(FenceError, match=r"sections\[0\].width_m"):
        Fence.from_dict({**CORRIDOR, "sections": [{"points": [[118.0, 36.9], [118.1, 36.9]]}]})


def test_list_rejects_duplicate_ids() -> None:
    with pytest.raises(FenceError, match="duplicate fence id 1"):
        fences_from_list([CIRCLE, {**RECT, "id": 1}])
    assert [f.id for f in fences_from_list([CIRCLE, RECT])] == [1, 2]


def test_selectors() -> None:
    c = Fence.from_dict(CORRIDOR)  # groups line-7 and org 3
    assert c.applies_to(1, 3, "bus", "line-7")
    assert not c.applies_to(1, 4, "bus", "line-7")
    assert not c.applies_to(1, 3, "bus", None)
    everyone = Fence.from_dict(RECT)
    assert everyone.applies_to(1, None, "taxi", None)
    only = Fence.from_dict({**RECT, "vehicle_ids": [7]})
    assert only.applies_to(7, None, "taxi", None) and not only.applies_to(8, None, "taxi", None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(CIRCLE) + sorted(CORRIDOR) + ["points", "weekdays", "x"]),
                       json_values, max_size=8), st.sampled_from([CIRCLE, RECT, POLY, CORRIDOR]))
def test_any_input_is_a_fence_or_a_fence_error(change: dict, base: dict) -> None:
    try:
        f = Fence.from_dict({**base, **change})
    except FenceError:
        return
    assert Fence.from_dict(f.to_dict()) == f
