"""The shortcuts that make the common report cheap must not change what the engine
says: skipped stages against every stage run, the fence grid against a brute-force
look at every fence, the O(1) daily total against the sum of the intervals, the
shared empty containers left empty."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.engine import Engine, EngineConfig
from icvcloud.engine.episodes import Book
from icvcloud.engine.fenceindex import CompiledFence, FenceIndex, LimitZone, _transitions, span_changes
from icvcloud.engine.fold import VehicleState, fold
from icvcloud.engine.jsonstate import writer
from icvcloud.engine.location import NO_FENCES
from icvcloud.engine.rules import data_quality
from icvcloud.engine.rules.fatigue import FatigueState, _daily_total
from icvcloud.engine.sample import Sample
from icvcloud.engine.timeutil import DAY_US, US, local_day_start_us
from icvcloud.model.fences import CorridorSection, Fence

from .helpers import at_xy, circle, corridor, run, square, vehicle
from .test_ordering import FENCES, PROFILES, TRUCK, arrival, scenario

_STATE = writer(VehicleState)


def _events(book: Book) -> list[tuple[str, tuple[object, ...]]]:
    return [(k, ep.told_value()) for k, (ep, _) in book.touched.items()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(5, 90), st.sampled_from(["hazmat_tanker", "coach", "bus", "taxi"]))
def test_skipping_idle_stages_changes_nothing(seed: int, n: int, vtype: str) -> None:
    """fold skips a stage whose inputs cannot make it do anything; every_stage=True runs
    them all. Report by report, the same episodes are touched in the same order and the
    states are equal."""
    rng = random.Random(seed)
    reports = sorted(scenario(rng, n), key=lambda p: (p.device_time, p.seq, p.item))
    e = Engine(PROFILES, FENCES)
    v = vehicle(1, vtype, route_ids=(3,))
    e.process(v, reports[0])  # builds the vehicle's derived values
    derived = e._vehicles[1].derived
    assert derived is not None
    quick, full = VehicleState(), VehicleState()
    for p in reports:
        s = Sample.from_position(p)
        a, b = Book(), Book()
        fold(quick, s, v, derived, e._index, a)
        fold(full, s, v, derived, e._index, b, every_stage=True)
        assert _events(a) == _events(b)
        assert _STATE(quick) == _STATE(full)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(10, 80))
def test_shared_empty_containers_stay_empty(seed: int, n: int) -> None:
    rng = random.Random(seed)
    e = Engine(PROFILES, FENCES, EngineConfig(window_reports=16, checkpoint_every=4))
    run(e, TRUCK, arrival(scenario(rng, n), rng, 8))
    e.restore(e.snapshot())
    run(e, TRUCK, scenario(rng, 10))
    assert not NO_FENCES and not data_quality.NO_RUNS
    from icvcloud.engine import engine as engine_module

    assert not engine_module.NO_KEYS


# ------------------------------------------------------------------------------ the fence grid

def _fences(rng: random.Random, n: int) -> list[Fence]:
    out: list[Fence] = []
    for fid in range(1, n + 1):
        x, y = rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)
        kind = rng.choice(["circle", "rectangle", "polygon", "corridor", "big"])
        kw: dict[str, Any] = {"vehicle_types": ("bus",)} if rng.random() < 0.2 else {}
        if kind == "circle":
            out.append(circle(fid, x, y, rng.uniform(20, 900), **kw))
        elif kind in ("rectangle", "polygon"):
            out.append(square(fid, x, y, rng.uniform(20, 900), kind, **kw))
        elif kind == "corridor":
            pts = tuple(at_xy(x + i * rng.uniform(-900, 900), y + i * rng.uniform(-900, 900)) for i in range(4))
            out.append(Fence(id=fid, name="c", kind="corridor", sections=(
                CorridorSection(pts[:2], rng.uniform(20, 100), speed_limit_kmh=50.0),
                CorridorSection(pts[1:], rng.uniform(20, 100))), **kw))
        elif rng.random() < 0.3:  # a fence too big for the grid
            out.append(Fence(id=fid, name="big", kind="rectangle", points=((100.0, 30.0), (125.0, 45.0))))
        else:
            out.append(corridor(fid, x - 5000, x + 5000, y, rng.uniform(30, 300), **kw))
    return out


def _meets(b: tuple[float, float, float, float], x0: float, y0: float, x1: float, y1: float) -> bool:
    return b[0] <= x1 and b[2] >= x0 and b[1] <= y1 and b[3] >= y0


def _may_matter(f: CompiledFence, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Whether a fence can concern a segment in the box: its geometry meets the box (for
    circles, tested exactly, the true circle's box does)."""
    if f.circle is not None:
        return _meets(f.bbox, x0, y0, x1, y1)
    return bool(shapely.intersects(f.geom, shapely.box(x0, y0, x1, y1)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(0, 40))
def test_grid_finds_what_a_look_at_every_fence_finds(seed: int, n: int) -> None:
    """What the grid returns lies between what can matter (the geometry meets the box)
    and what a box test over every fence finds, in index order; where it says nothing
    is near, nothing that can matter is."""
    rng = random.Random(seed)
    index = FenceIndex(_fences(rng, n))
    fences = [e for e in index.entries if isinstance(e, CompiledFence)]
    zones = [e for e in index.entries if isinstance(e, LimitZone)]
    for _ in range(60):
        (ax, ay), (bx, by) = (at_xy(rng.uniform(-4000, 4000), rng.uniform(-4000, 4000)) for _ in range(2))
        if rng.random() < 0.3:
            bx, by = ax, ay
        elif rng.random() < 0.5:  # a short segment, as most are
            bx, by = ax + rng.uniform(-0.006, 0.006), ay + rng.uniform(-0.006, 0.006)
        x0, y0, x1, y1 = min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)
        got = index.fences_meeting(x0, y0, x1, y1)
        assert got == sorted(got, key=lambda f: f.order) and len(set(got)) == len(got)
        matter = {f for f in fences if _may_matter(f, x0, y0, x1, y1)}
        assert matter <= set(got) <= {f for f in fences if _meets(f.bbox, x0, y0, x1, y1)}
        zones_here = index.zones_at(bx, by)
        inside = {z for z in zones if shapely.contains_xy(z.geom, bx, by)}
        assert inside <= set(zones_here) <= {z for z in zones if _meets(z.bbox, bx, by, bx, by)}
        if index.clear(x0, y0, x1, y1, bx, by):
            assert not matter and not inside


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32))
def test_fences_far_apart_use_the_fallback_grid(seed: int) -> None:
    """Fences over a very wide area (here Zibo and Ürümqi) are kept in a dict of cells
    rather than one packed array: the same answers."""
    rng = random.Random(seed)
    far = [circle(1, 0, 0, 300), Fence(id=2, name="w", kind="circle", center=(87.6, 43.8), radius_m=500)]
    index = FenceIndex(far)
    assert index.fence_boxes.off is None
    for lon, lat in [at_xy(rng.uniform(-600, 600), rng.uniform(-600, 600)),
                     (87.6 + rng.uniform(-0.01, 0.01), 43.8 + rng.uniform(-0.01, 0.01))]:
        want = [f for f in index.entries if _meets(f.bbox, lon, lat, lon, lat)]
        assert index.fences_meeting(lon, lat, lon, lat) == want
        assert index.clear(lon, lat, lon, lat, lon, lat) == (not want)


# ------------------------------------------------------------------------------ daily driving

def _daily_total_by_sum(drives: list[list[int]], t: int, lo: int) -> int:
    total = 0
    for a, b in drives:
        hi, lo2 = min(b, t), max(a, lo)
        if hi > lo2:
            total += hi - lo2
    return total


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4 * 3600), st.integers(1, 3 * 3600)), max_size=30),
       st.booleans(), st.integers(0, 10 * 3600))
def test_daily_total_in_constant_time(pieces: list[tuple[int, int]], calendar: bool, after: int) -> None:
    """Intervals in time order, disjoint, ending by t: the O(1) total equals the sum."""
    st_ = FatigueState()
    t = 1_795_000_000 * US
    for gap, length in pieces:
        a = t + gap * US
        t = a + length * US
        st_.drives.append([a, t])
        st_.drives_sum += t - a
    t += after * US
    lo = local_day_start_us(t) if calendar else t - DAY_US
    kept = [d for d in st_.drives if d[1] > lo]
    want = _daily_total_by_sum(kept, t, lo)
    assert _daily_total(st_, t, calendar) == want
    assert st_.drives == kept and st_.drives_sum == sum(b - a for a, b in kept)


def test_daily_total_counts_the_part_inside_the_window() -> None:
    st_ = FatigueState()
    t0 = 1_795_000_000 * US
    st_.drives = [[t0, t0 + 10 * 3600 * US]]
    st_.drives_sum = 10 * 3600 * US
    t = t0 + 30 * 3600 * US  # the window starts 6 h after t0: 4 h of the 10 h count
    assert _daily_total(st_, t, False) == 4 * 3600 * US
    assert math.isclose(st_.drives_sum, 10 * 3600 * US)


def _star_polygon(rng: random.Random) -> CompiledFence:
    """A polygon of 3–32 vertices about a point near Zibo, convex or not."""
    k = rng.randint(3, 32)
    cx, cy, r = 118.05 + rng.uniform(-0.01, 0.01), 36.81 + rng.uniform(-0.01, 0.01), rng.uniform(0.0005, 0.01)
    angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(k))
    radii = [r if rng.random() < 0.5 else r * rng.uniform(0.2, 1.0) for _ in range(k)]
    pts = tuple((cx + q * math.cos(a), cy + q * math.sin(a)) for q, a in zip(radii, angles, strict=True))
    return CompiledFence(Fence(id=1, name="p", kind="polygon", points=pts))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32))
def test_small_polygons_in_closed_form_agree_with_shapely(seed: int) -> None:
    """Membership and crossings of a small polygon, computed in Python, are what
    shapely's geometry says: the same states, the same crossings at the same places."""
    rng = random.Random(seed)
    cf = _star_polygon(rng)
    if cf.edges is None:  # a degenerate draw that shapely repaired into several parts
        return
    b = cf.bbox
    w, h = b[2] - b[0], b[3] - b[1]

    def near() -> tuple[float, float]:
        return rng.uniform(b[0] - w / 2, b[2] + w / 2), rng.uniform(b[1] - h / 2, b[3] + h / 2)

    for _ in range(20):
        (x0, y0), (x1, y1) = near(), near()
        in0, in1 = cf.contains(x0, y0), cf.contains(x1, y1)
        assert in0 == bool(shapely.contains_xy(cf.geom, x0, y0))
        assert in1 == bool(shapely.contains_xy(cf.geom, x1, y1))
        got = cf.crossings(x0, y0, x1, y1, in0, in1)
        want = cf.boundary_crossings(x0, y0, x1, y1, in0, in1, shapely.LineString([(x0, y0), (x1, y1)]))
        assert [e for _, e in got] == [e for _, e in want]
        assert all(abs(a - c) < 1e-9 for (a, _), (c, _) in zip(got, want, strict=True))


def test_small_polygon_boundary_is_outside_as_in_shapely() -> None:
    """Vertices and points on edges (horizontal, vertical and slanted) are not inside;
    a segment running along an edge, or through a vertex, changes nothing it should not."""
    pts = ((118.0, 36.0), (118.5, 36.0), (118.5, 36.5), (118.25, 36.75), (118.0, 36.5))
    cf = CompiledFence(Fence(id=1, name="p", kind="polygon", points=pts))
    assert cf.edges is not None
    for x, y in [*pts, (118.25, 36.0), (118.5, 36.25), (118.375, 36.625), (118.0, 36.25)]:
        assert not cf.contains(x, y)
        assert not shapely.contains_xy(cf.geom, x, y)
    assert cf.contains(118.25, 36.25)
    # Along the bottom edge, from outside to outside: never inside.
    assert cf.crossings(117.75, 36.0, 118.75, 36.0, False, False) == []
    # Through the apex vertex from inside to outside: one exit there.
    got = cf.crossings(118.25, 36.5, 118.25, 37.0, True, False)
    assert [(round(f, 9), e) for f, e in got] == [(0.5, False)]
    # Touching the apex from outside: no entry.
    assert cf.crossings(118.0, 36.75, 118.5, 36.75, False, False) == []


@given(st.booleans(), st.booleans(), st.sampled_from([-1.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5]),
       st.sampled_from([-0.5, 0.0, 0.3, 0.6, 1.0, 1.25, 2.0]), st.floats(-3, 3))
def test_convex_span_cases_follow_the_piece_rule(in0: bool, in1: bool, lo: float, hi: float, shift: float) -> None:
    """A circle's or rectangle's crossings, spelt out case by case, are those of cutting
    the segment at the span's ends and testing each piece's midpoint."""
    for a, b in ((lo, hi), (lo + shift, hi + shift)):
        if a >= b:
            continue
        cuts = sorted(c for c in (a, b) if 0.0 < c < 1.0)
        places = [0.0, *cuts, 1.0]
        want = _transitions(in0, in1, cuts, [a < (p + q) / 2 < b for p, q in itertools.pairwise(places)])
        assert span_changes(in0, in1, a, b) == want
