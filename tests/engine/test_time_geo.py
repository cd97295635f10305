"""Beijing time windows, the local projection, fence geometry accuracy."""

from __future__ import annotations

import itertools
import math

import pytest
import shapely

from icvcloud.engine.fenceindex import CompiledFence, circle_polygon, corridor_polygon
from icvcloud.engine.geo import LocalFrame, distance_m, in_china
from icvcloud.engine.timeutil import US, Windows, from_us, local_day_start_us, local_weekday, to_us
from icvcloud.model.fences import Fence, TimeWindow

from .helpers import bj


def test_beijing_day_and_weekday() -> None:
    t = to_us(bj(2024, 5, 6, 0, 30))  # 00:30 Monday in Beijing = Sunday 16:30 UTC
    assert from_us(local_day_start_us(t)) == bj(2024, 5, 6, 0, 0)
    assert local_weekday(local_day_start_us(t)) == 1


def test_window_across_midnight() -> None:
    w = Windows([TimeWindow("22:00", "06:00")])
    a, b = to_us(bj(2024, 5, 6, 20, 0)), to_us(bj(2024, 5, 7, 8, 0))
    assert w.pieces(a, b) == [(to_us(bj(2024, 5, 6, 22, 0)), to_us(bj(2024, 5, 7, 6, 0)))]
    # From inside the window (it began the day before).
    a = to_us(bj(2024, 5, 7, 1, 0))
    assert w.pieces(a, a + 3600 * US) == [(a, a + 3600 * US)]
    assert w.contains(to_us(bj(2024, 5, 7, 5, 59))) and not w.contains(to_us(bj(2024, 5, 7, 6, 0)))
    assert w.contains(to_us(bj(2024, 5, 7, 22, 0)))


def test_window_weekdays_and_whole_day() -> None:
    school = Windows([TimeWindow("07:00", "09:00", (1, 2, 3, 4, 5))])
    sat = to_us(bj(2024, 5, 11, 8, 0))
    mon = to_us(bj(2024, 5, 13, 8, 0))
    assert not school.contains(sat) and school.contains(mon)
    week = school.pieces(to_us(bj(2024, 5, 6, 0, 0)), to_us(bj(2024, 5, 13, 0, 0)))
    assert len(week) == 5 and all(q - p == 2 * 3600 * US for p, q in week)
    allday = Windows([TimeWindow("00:00", "00:00")])
    assert allday.pieces(sat, sat + 3 * 86400 * US) == [(sat, sat + 3 * 86400 * US)]


def test_projection_and_bounds() -> None:
    f = LocalFrame(118.05, 36.81)
    lon, lat = f.to_lonlat(1000.0, -500.0)
    x, y = f.to_xy(lon, lat)
    assert x == pytest.approx(1000.0) and y == pytest.approx(-500.0)
    # One degree of latitude ≈ 111.2 km; a degree of longitude at 36.81° ≈ 89.1 km.
    assert distance_m(118.0, 36.81, 118.0, 37.81) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(118.0, 36.81, 119.0, 36.81) == pytest.approx(89_050, rel=2e-3)
    assert in_china(118.05, 36.81) and not in_china(0.0, 0.0) and not in_china(float("nan"), 36.8)
    assert not in_china(36.81, 118.05)  # swapped coordinates


def test_circle_polygon_is_within_tolerance() -> None:
    for r in (30.0, 300.0, 5000.0):
        poly = circle_polygon(118.05, 36.81, r)
        frame = LocalFrame(118.05, 36.81)
        dists = [math.hypot(*frame.to_xy(lo, la)) for lo, la in poly.exterior.coords]
        assert max(dists) == pytest.approx(r, abs=1e-6)
        # Edge midpoints sag inside the circle by at most the tolerance.
        coords = list(poly.exterior.coords)
        sag = max(r - math.hypot(*frame.to_xy((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
                  for a, b in itertools.pairwise(coords))
        assert sag <= 0.26


def test_corridor_width_is_metric() -> None:
    pts = [(118.0, 36.8), (118.1, 36.85)]
    poly = corridor_polygon(pts, 50.0)
    frame = LocalFrame(118.05, 36.825)
    line = shapely.LineString([frame.to_xy(*p) for p in pts])
    # Every boundary vertex is 25 m from the centreline (to the projection's accuracy).
    for lo, la in poly.exterior.coords:
        assert line.distance(shapely.Point(frame.to_xy(lo, la))) == pytest.approx(25.0, abs=0.01)


def test_closed_form_circle_agrees_with_polygon() -> None:
    cf = CompiledFence(Fence(id=1, name="c", kind="circle", center=(118.05, 36.81), radius_m=400.0))
    frame = LocalFrame(118.05, 36.81)
    for ang in range(0, 360, 7):
        for r in (0.0, 200.0, 399.0, 401.0, 600.0):
            lon, lat = frame.to_lonlat(r * math.cos(math.radians(ang)), r * math.sin(math.radians(ang)))
            assert cf.contains(lon, lat) == (r < 400.0)
            if r < 399.0 or r > 401.0:
                assert bool(shapely.contains_xy(cf.geom, lon, lat)) == (r < 400.0)


@pytest.mark.parametrize("kind", ["circle", "rectangle", "polygon"])
def test_crossing_fractions(kind: str) -> None:
    frame = LocalFrame(118.05, 36.81)
    if kind == "circle":
        f = Fence(id=1, name="", kind="circle", center=(118.05, 36.81), radius_m=500.0)
    elif kind == "rectangle":
        f = Fence(id=1, name="", kind="rectangle", points=(frame.to_lonlat(-500, -500), frame.to_lonlat(500, 500)))
    else:
        f = Fence(id=1, name="", kind="polygon", points=tuple(frame.to_lonlat(x, y) for x, y in
                                                               [(-500, -500), (500, -500), (500, 500), (-500, 500)]))
    cf = CompiledFence(f)
    (x0, y0), (x1, y1) = frame.to_lonlat(-1000, 0), frame.to_lonlat(1000, 0)
    got = cf.crossings(x0, y0, x1, y1, False, False)
    assert [e for _, e in got] == [True, False]
    assert [round(fr, 6) for fr, _ in got] == [0.25, 0.75]
    # Starting inside: only the exit.
    (x0, y0) = frame.to_lonlat(0, 0)
    got = cf.crossings(x0, y0, x1, y1, True, False)
    assert [(round(fr, 6), e) for fr, e in got] == [(0.5, False)]
    # Missing it entirely.
    (x0, y0), (x1, y1) = frame.to_lonlat(-1000, 800), frame.to_lonlat(1000, 800)
    assert cf.crossings(x0, y0, x1, y1, False, False) == []


def test_concave_polygon_exit_and_reentry() -> None:
    frame = LocalFrame(118.05, 36.81)
    # A U shape open to the north: a segment across its arms leaves the fence in the notch.
    u = [(-300, -300), (300, -300), (300, 300), (100, 300), (100, 0), (-100, 0), (-100, 300), (-300, 300)]
    cf = CompiledFence(Fence(id=1, name="", kind="polygon", points=tuple(frame.to_lonlat(x, y) for x, y in u)))
    (x0, y0), (x1, y1) = frame.to_lonlat(-200, 200), frame.to_lonlat(200, 200)
    got = cf.crossings(x0, y0, x1, y1, True, True)
    assert [(round(fr, 6), e) for fr, e in got] == [(0.25, False), (0.75, True)]
