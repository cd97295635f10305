"""Fences compiled for fast tests: shapely polygons in degrees, a grid of cells over
them, one STRtree.

Every fence becomes a polygon in WGS-84 degrees: polygons and rectangles as
given; circles and corridors built in metres about their own centre (see
:mod:`.geo`) and mapped back. Because the local projection is affine in degrees,
point-in-polygon and segment–boundary tests in degrees are the tests in metres.
Corridor sections with their own speed limit are also indexed on their own
(:class:`LimitZone`).

The grid (cells of :data:`CELL_DEG`, ~0.5 km) lists, per cell, the fences that may
meet it: circles and rectangles by their bounding box, polygons and corridors by
their geometry, so a long diagonal corridor sits only in the cells it passes
through. A report's segment spans one to four cells; one that lies inside a cell of
the second, finer grid (:data:`FINE_CELL_DEG`) is answered from that. Whether any fence's box meets
the segment's box is asked of the same registrations packed as numbers
(:class:`BoxGrid`), which is what every report does: usually the answer is no, and
then no fence object is read. Only when it is yes are the fences of those cells
looked at. Querying the STRtree costs ~5 µs a call in Python, so it is kept for
building the grid and for the rare segment spanning many cells. Fences too big for
the grid (more than :data:`MAX_FENCE_CELLS` cells) are looked at by every report.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, TypeVar, cast

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from icvcloud.model.fences import Fence

from .context import VehicleContext
from .geo import LocalFrame
from .timeutil import Windows

#: Largest gap (m) between a true circle and its polygon.
CIRCLE_TOLERANCE_M = 0.25
#: Polygons of one ring with at most this many vertices are tested in closed form
#: (see :class:`CompiledFence`); a longer ring's Python loop would cost more than
#: shapely's call overhead saves.
CLOSED_FORM_MAX_VERTICES = 32
#: Grid cell size in degrees (~0.55 km north–south, ~0.45 km east–west at Zibo): about
#: one report's segment at 30 s intervals, so a segment spans one to four cells.
CELL_DEG = 0.005
_PER_DEG = 1 / CELL_DEG
#: The fences are also listed in cells a quarter that size (~140 × 110 m): a vehicle
#: standing, crawling or reporting every few seconds stays inside one of them, and
#: along a road lined with fences it then looks at a few instead of dozens.
FINE_CELL_DEG = CELL_DEG / 4
_FINE_PER_DEG = 1 / FINE_CELL_DEG
#: Cell keys: ``ix * _ROW + iy`` (|iy| < _ROW / 2 for any latitude).
_ROW = 1 << 20
#: A fence over more cells than this is not put in the grid (see the module doc).
MAX_FENCE_CELLS = 4096
#: A segment over more cells than this asks the STRtree instead of the grid.
MAX_QUERY_CELLS = 16
#: The packed box grid's limit (cells; 8 bytes each); 4 M cells of 0.005° cover 10° × 10°.
MAX_PACKED_CELLS = 4_000_000
#: Cells are registered slightly enlarged, so a point on a cell's edge (and float
#: rounding of the cell computation) can never miss a fence.
_CELL_PAD_DEG = 1e-9
#: Sort key: a fence's (or zone's) position in the index.
by_order = attrgetter("order")
_QUERY_PAD_DEG = 1e-4

BBox = tuple[float, float, float, float]
_E = TypeVar("_E")


def _to_degrees(geom: BaseGeometry, frame: LocalFrame) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: np.column_stack((frame.lon0 + xy[:, 0] / frame.mx,
                                                               frame.lat0 + xy[:, 1] / frame.my)))


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """A valid (multi)polygon from possibly self-intersecting input (a drawn bow-tie)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        geom = shapely.union_all(polys) if polys else shapely.Polygon()
    return geom


def circle_polygon(lon: float, lat: float, radius_m: float) -> BaseGeometry:
    frame = LocalFrame(lon, lat)
    # Sagitta r·(1 − cos(π/4q)) ≤ tolerance → segments per quarter circle.
    q = max(8, math.ceil(math.pi / (4 * math.acos(max(-1.0, 1 - CIRCLE_TOLERANCE_M / radius_m)))))
    return _to_degrees(shapely.Point(0.0, 0.0).buffer(radius_m, quad_segs=min(q, 256)), frame)


def corridor_polygon(points: Iterable[tuple[float, float]], width_m: float) -> BaseGeometry:
    pts = list(points)
    lon0 = sum(p[0] for p in pts) / len(pts)
    lat0 = sum(p[1] for p in pts) / len(pts)
    frame = LocalFrame(lon0, lat0)
    line = shapely.LineString([frame.to_xy(lo, la) for lo, la in pts])
    return _to_degrees(line.buffer(width_m / 2, quad_segs=8), frame)


def fence_geometry(f: Fence) -> BaseGeometry:
    if f.kind == "circle":
        assert f.center is not None and f.radius_m is not None
        return circle_polygon(f.center[0], f.center[1], f.radius_m)
    if f.kind == "rectangle":
        (x0, y0), (x1, y1) = f.points
        return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if f.kind == "polygon":
        return _polygonal(shapely.Polygon(f.points))
    return shapely.union_all([corridor_polygon(s.points, s.width_m) for s in f.sections])


class CompiledFence:
    """One fence ready for tests. Circles, rectangles and small polygons (one ring of
    at most :data:`CLOSED_FORM_MAX_VERTICES`) are tested in closed form — a shapely
    call costs 3–10 µs of overhead, more than the arithmetic, and the circle test is
    then exact (the polygon is only the index's envelope); larger polygons and
    corridors go through shapely's prepared geometries. A polygon's closed form keeps
    shapely's meaning: a point on the boundary is not inside."""

    __slots__ = ("bbox", "boundary", "centre", "circle", "closed_form", "convex", "edges", "everyone", "fence",
                 "forbidden", "geom", "has_forbidden", "id", "order", "rect")

    def __init__(self, fence: Fence) -> None:
        self.fence = fence
        self.id = fence.id
        #: Position in the index (fences are evaluated in this order, whatever the look-up).
        self.order = 0
        self.geom = fence_geometry(fence)
        shapely.prepare(self.geom)
        self.boundary = self.geom.boundary
        self.bbox: BBox = tuple(self.geom.bounds)  # type: ignore[assignment]
        #: (lon0, lat0, m per degree lon, m per degree lat, r²) of a circle.
        self.circle: tuple[float, float, float, float, float] | None = None
        self.rect: BBox | None = None
        if fence.kind == "circle":
            assert fence.center is not None and fence.radius_m is not None
            fr = LocalFrame(*fence.center)
            r = fence.radius_m
            self.circle = (fr.lon0, fr.lat0, fr.mx, fr.my, r * r)
            self.bbox = (fr.lon0 - r / fr.mx, fr.lat0 - r / fr.my, fr.lon0 + r / fr.mx, fr.lat0 + r / fr.my)
        elif fence.kind == "rectangle":
            self.rect = self.bbox
        #: A small polygon's edges ``(x0, y0, x1, y1)``, or None.
        self.edges: tuple[BBox, ...] | None = None
        if fence.kind == "polygon" and self.geom.geom_type == "Polygon" and not self.geom.interiors:
            ring = list(self.geom.exterior.coords)
            if len(ring) - 1 <= CLOSED_FORM_MAX_VERTICES:
                self.edges = tuple((a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(ring))
        self.closed_form = self.circle is not None or self.rect is not None or self.edges is not None
        hull = self.geom.convex_hull
        self.convex = fence.kind in ("circle", "rectangle") or (
            hull.area > 0 and self.geom.area >= hull.area * (1 - 1e-12))
        self.forbidden = Windows(fence.forbidden)
        self.has_forbidden = bool(fence.forbidden)
        self.everyone = not (fence.vehicle_ids or fence.vehicle_types or fence.org_ids or fence.groups)
        c = self.geom.representative_point() if not self.geom.is_empty else shapely.Point(0.0, 0.0)
        self.centre = (float(c.x), float(c.y))

    def applies(self, v: VehicleContext) -> bool:
        return self.everyone or self.fence.applies_to(v.vehicle_id, v.org_id, v.vehicle_type, v.group)

    def contains(self, lon: float, lat: float) -> bool:
        c = self.circle
        if c is not None:
            dx, dy = (lon - c[0]) * c[2], (lat - c[1]) * c[3]
            return dx * dx + dy * dy <= c[4]
        r = self.rect
        if r is not None:
            return r[0] <= lon <= r[2] and r[1] <= lat <= r[3]
        if self.edges is not None:
            return ring_contains(self.edges, lon, lat)
        return bool(shapely.contains_xy(self.geom, lon, lat))

    def _span(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float] | None:
        """For the convex closed-form shapes: the parameter interval of the line
        (x0, y0) + s·(x1 − x0, y1 − y0) that lies inside, or None."""
        c = self.circle
        if c is not None:
            ax, ay = (x0 - c[0]) * c[2], (y0 - c[1]) * c[3]
            dx, dy = (x1 - x0) * c[2], (y1 - y0) * c[3]
            a = dx * dx + dy * dy
            b = 2 * (ax * dx + ay * dy)
            disc = b * b - 4 * a * (ax * ax + ay * ay - c[4])
            if a == 0.0 or disc <= 0.0:
                return None
            sq = math.sqrt(disc)
            return (-b - sq) / (2 * a), (-b + sq) / (2 * a)
        assert self.rect is not None
        return clip(self.rect, x0, y0, x1, y1)

    def crossings(self, x0: float, y0: float, x1: float, y1: float, in0: bool, in1: bool,
                  seg: BaseGeometry | None = None) -> list[tuple[float, bool]]:
        """Where along the straight segment (x0, y0)→(x1, y1) the vehicle enters/leaves
        the fence: ``[(fraction 0..1, entering), …]``, consistent with the known end
        states ``in0``/``in1``. Intersections split the segment into pieces, and each
        piece's midpoint says whether it is inside, which stays right at vertices and
        tangents where counting crossings would not."""
        if in0 and in1 and self.convex:
            return []
        if self.circle is not None or self.rect is not None:
            span = self._span(x0, y0, x1, y1)
            if span is None:
                return [] if in0 == in1 else [(0.0, in1)]  # _transitions(in0, in1, [], [])
            lo, hi = span
            if in0 == in1 and not in0 and (hi <= 0.0 or lo >= 1.0):
                return []  # the line meets the shape beyond the segment's ends
            return span_changes(in0, in1, lo, hi)
        if not in0 and not in1:
            span = clip(self.bbox, x0, y0, x1, y1)
            if span is None or span[1] < 0.0 or span[0] > 1.0:
                return []  # the segment misses even the bounding box
        edges = self.edges
        if edges is not None:
            return _pieces(in0, in1, ring_cuts(edges, x0, y0, x1, y1), x0, y0, x1 - x0, y1 - y0,
                           lambda xs, ys: [ring_contains(edges, x, y) for x, y in zip(xs, ys, strict=True)])
        if seg is None:
            seg = shapely.LineString([(x0, y0), (x1, y1)])
        if not in0 and not in1 and not self.geom.intersects(seg):
            return []
        if in0 and in1 and self.geom.contains(seg):
            return []
        return self.boundary_crossings(x0, y0, x1, y1, in0, in1, seg)

    def boundary_crossings(self, x0: float, y0: float, x1: float, y1: float, in0: bool, in1: bool,
                           seg: BaseGeometry) -> list[tuple[float, bool]]:
        """:meth:`crossings` for shapely-tested fences once it is known the segment
        meets the boundary."""
        pts = shapely.get_coordinates(shapely.intersection(seg, self.boundary))
        dx, dy = x1 - x0, y1 - y0
        dd = dx * dx + dy * dy
        if dd == 0.0:
            return _transitions(in0, in1, [], [])
        fr = sorted({((px - x0) * dx + (py - y0) * dy) / dd for px, py in pts.tolist()})
        return _pieces(in0, in1, [c for c in fr if 0.0 < c < 1.0], x0, y0, dx, dy,
                       lambda xs, ys: shapely.contains_xy(self.geom, xs, ys).tolist())


def span_changes(in0: bool, in1: bool, lo: float, hi: float) -> list[tuple[float, bool]]:
    """The changes along a segment whose line is inside a convex shape for ``lo < s < hi``:
    the segment cut where the span's ends fall inside it and each piece's midpoint
    tested against the span (the general rule of :func:`_pieces`, its cases spelt
    out: this is every circle's and rectangle's crossing test)."""
    if lo <= 0.0:
        cuts, inside = ([hi], [True, False]) if 0.0 < hi < 1.0 else ([], [hi >= 1.0])
    elif lo < 1.0:
        cuts, inside = ([lo, hi], [False, True, False]) if hi < 1.0 else ([lo], [False, True])
    else:
        cuts, inside = [], [False]
    return _transitions(in0, in1, cuts, inside)


def _pieces(in0: bool, in1: bool, cuts: list[float], x0: float, y0: float, dx: float, dy: float,
            inside: Callable[[list[float], list[float]], list[bool]]) -> list[tuple[float, bool]]:
    """The changes along a segment cut at ``cuts`` (sorted fractions in (0, 1)): each
    piece's midpoint says whether it is inside, which stays right at vertices and
    tangents where counting crossings would not (a spurious cut costs nothing)."""
    places = [0.0, *cuts, 1.0]
    mids = [(a + b) / 2 for a, b in itertools.pairwise(places)]
    return _transitions(in0, in1, cuts, inside([x0 + m * dx for m in mids], [y0 + m * dy for m in mids]))


def ring_contains(edges: tuple[BBox, ...], x: float, y: float) -> bool:
    """Whether the point is strictly inside the polygon of these edges (even–odd rule,
    half-open in y; a point on an edge or vertex is not inside, as in shapely)."""
    inside = False
    for xi, yi, xj, yj in edges:
        if (yi > y) != (yj > y):
            xc = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < xc:
                inside = not inside
            elif x == xc:
                return False
        elif yi == y == yj and (xi <= x <= xj or xj <= x <= xi):
            return False
    return inside


def ring_cuts(edges: tuple[BBox, ...], x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """Fractions in (0, 1) of the segment where it meets an edge, sorted. An edge's
    range is widened by a hair so a crossing at a vertex is never lost to rounding; an
    edge along the segment contributes its ends."""
    dx, dy = x1 - x0, y1 - y0
    out: set[float] = set()
    for ax, ay, bx, by in edges:
        ex, ey = bx - ax, by - ay
        wx, wy = ax - x0, ay - y0
        den = dx * ey - dy * ex
        if den != 0.0:
            t = (wx * ey - wy * ex) / den
            if 0.0 < t < 1.0 and -1e-9 <= (wx * dy - wy * dx) / den <= 1.0 + 1e-9:
                out.add(t)
        elif wx * dy - wy * dx == 0.0 and (dd := dx * dx + dy * dy) > 0.0:
            for s in ((wx * dx + wy * dy) / dd, ((bx - x0) * dx + (by - y0) * dy) / dd):
                if 0.0 < s < 1.0:
                    out.add(s)
    return sorted(out)


def clip(box: BBox, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float] | None:
    """Liang–Barsky: the parameter interval of the line (x0, y0) + s·(x1 − x0, y1 − y0)
    inside the axis-aligned ``box``, or None."""
    lo, hi = -math.inf, math.inf
    for p0, d, mn, mx in ((x0, x1 - x0, box[0], box[2]), (y0, y1 - y0, box[1], box[3])):
        if d == 0.0:
            if not mn <= p0 <= mx:
                return None
            continue
        t1, t2 = (mn - p0) / d, (mx - p0) / d
        if t1 > t2:
            t1, t2 = t2, t1
        lo, hi = max(lo, t1), min(hi, t2)
    return (lo, hi) if lo < hi else None


def _transitions(in0: bool, in1: bool, cuts: list[float], inside: list[bool]) -> list[tuple[float, bool]]:
    """States at 0, on each piece between cuts, and at 1 → the changes between them."""
    states = [in0, *inside, in1]
    places = [0.0, *cuts, 1.0]
    out: list[tuple[float, bool]] = []
    cur = in0
    for i in range(1, len(states)):
        if states[i] != cur:
            out.append((places[i - 1], states[i]))
            cur = states[i]
    return out


class LimitZone:
    """A corridor section that carries its own speed limit."""

    __slots__ = ("bbox", "everyone", "fence", "geom", "limit_kmh", "order")

    def __init__(self, fence: Fence, geom: BaseGeometry, limit_kmh: float) -> None:
        self.fence = fence
        self.geom = geom
        shapely.prepare(geom)
        self.bbox: BBox = tuple(geom.bounds)  # type: ignore[assignment]
        self.limit_kmh = limit_kmh
        self.everyone = not (fence.vehicle_ids or fence.vehicle_types or fence.org_ids or fence.groups)
        self.order = 0

    def applies(self, v: VehicleContext) -> bool:
        return self.everyone or self.fence.applies_to(v.vehicle_id, v.org_id, v.vehicle_type, v.group)


def _cell_range(b: BBox, per_deg: float) -> tuple[int, int, int, int]:
    return (math.floor(b[0] * per_deg), math.floor(b[1] * per_deg), math.floor(b[2] * per_deg),
            math.floor(b[3] * per_deg))


class FenceIndex:
    """All enabled fences, compiled, with the grid and one STRtree over them and their
    limit zones."""

    def __init__(self, fences: Iterable[Fence] = (), version: int = 0) -> None:
        self.version = version
        self.by_id: dict[int, CompiledFence] = {}
        entries: list[CompiledFence | LimitZone] = []
        for f in fences:
            if not f.enabled:
                continue
            cf = CompiledFence(f)
            if cf.geom.is_empty:
                continue
            self.by_id[f.id] = cf
            entries.append(cf)
            if f.kind == "corridor":
                for s in f.sections:
                    if s.speed_limit_kmh is not None:
                        entries.append(LimitZone(f, corridor_polygon(s.points, s.width_m), s.speed_limit_kmh))
        for i, e in enumerate(entries):
            e.order = i
        self.entries = entries
        self.deviation_corridors = [cf for cf in self.by_id.values()
                                    if cf.fence.kind == "corridor" and cf.fence.deviation_after_s is not None]
        self.tree = shapely.STRtree([e.geom for e in entries]) if entries else None
        fence_reg: list[tuple[Any, Any, BBox]] = []
        zone_reg: list[tuple[Any, Any, BBox]] = []
        cells: list[tuple[Any, CompiledFence]] = []
        fine_cells: list[tuple[Any, CompiledFence]] = []
        zone_cells: list[tuple[Any, LimitZone]] = []
        big: list[CompiledFence] = []
        big_zones: list[LimitZone] = []
        for e in entries:
            got = _cells(e)
            if got is None:
                (big if isinstance(e, CompiledFence) else big_zones).append(e)  # type: ignore[arg-type]
                continue
            if isinstance(e, CompiledFence):
                fence_reg.append((*got, e.bbox))
                cells.append((got[0] * _ROW + got[1], e))
                # (a fence in the grid is never too big for the fine one)
                fx, fy = cast(tuple[Any, Any], _cells(e, _FINE_PER_DEG, MAX_FENCE_CELLS * 16))
                fine_cells.append((fx * _ROW + fy, e))
            else:
                zone_reg.append((*got, e.bbox))
                zone_cells.append((got[0] * _ROW + got[1], e))
        #: cell → the fences / limit zones that may meet it, in index order.
        self.cells = _by_cell(cells)
        self.fine_cells = _by_cell(fine_cells)
        self.zone_cells = _by_cell(zone_cells)
        #: The same, as their boxes only, packed: for the common question (anything near?).
        self.fence_boxes = BoxGrid(fence_reg)
        self.zone_boxes = BoxGrid(zone_reg)
        #: Fences and zones too big for the grid: looked at by every report that meets their box.
        self.big = tuple(big)
        self.big_zones = tuple(big_zones)
        self.any_zones = bool(zone_reg or big_zones)

    def __len__(self) -> int:
        return len(self.by_id)

    def query_box(self, bbox: BBox) -> list[CompiledFence | LimitZone]:
        if self.tree is None:
            return []
        idx = self.tree.query(shapely.box(*bbox))
        idx.sort()
        entries = self.entries
        return [entries[i] for i in idx.tolist()]

    def clear(self, x0: float, y0: float, x1: float, y1: float, px: float, py: float) -> bool:
        """Whether no fence's bounding box meets the box and no limit zone's holds the point
        ``(px, py)``: then no fence or section can concern a segment inside the box. Fences
        are not filtered by whom they apply to here (that needs the fences themselves), so
        it may say no where a closer look would find nothing. The box must lie in the
        positive quadrant (as China does): cells are found with ``int()``, which is
        ``floor()`` there and cheaper."""
        ix0, iy0, ix1, iy1 = int(x0 * _PER_DEG), int(y0 * _PER_DEG), int(x1 * _PER_DEG), int(y1 * _PER_DEG)
        if (ix1 - ix0 + 1) * (iy1 - iy0 + 1) > MAX_QUERY_CELLS:
            return self.tree is None
        if self.fence_boxes.meets(ix0, iy0, ix1, iy1, x0, y0, x1, y1) or self.big:
            return False
        if not self.any_zones:
            return True
        jx, jy = int(px * _PER_DEG), int(py * _PER_DEG)
        return not (self.zone_boxes.meets(jx, jy, jx, jy, px, py, px, py) or self.big_zones)

    def fences_meeting(self, x0: float, y0: float, x1: float, y1: float) -> list[CompiledFence]:
        """The fences that may concern a segment inside the box, in index order: those
        registered in its cells (their geometry meets them) whose bounding box meets it.
        The box must lie in the positive quadrant (see :meth:`clear`)."""
        ix0, iy0, ix1, iy1 = int(x0 * _PER_DEG), int(y0 * _PER_DEG), int(x1 * _PER_DEG), int(y1 * _PER_DEG)
        cells = self.cells
        several = False  # cells whose lists may share fences
        fx0, fy0 = int(x0 * _FINE_PER_DEG), int(y0 * _FINE_PER_DEG)
        if fx0 == int(x1 * _FINE_PER_DEG) and fy0 == int(y1 * _FINE_PER_DEG):
            near: Iterable[CompiledFence] = self.fine_cells.get(fx0 * _ROW + fy0, ())
        elif ix0 == ix1 and iy0 == iy1:
            near = cells.get(ix0 * _ROW + iy0, ())
        elif (ix1 - ix0 + 1) * (iy1 - iy0 + 1) <= MAX_QUERY_CELLS:
            near = itertools.chain.from_iterable(cells.get(ix * _ROW + iy, ()) for ix in range(ix0, ix1 + 1)
                                                 for iy in range(iy0, iy1 + 1))
            several = True
        else:
            m = _QUERY_PAD_DEG  # a circle's true box may exceed its polygon's by up to CIRCLE_TOLERANCE_M
            near = [e for e in self.query_box((x0 - m, y0 - m, x1 + m, y1 + m)) if isinstance(e, CompiledFence)]
        # _box_meets inlined: a cell along a busy road holds dozens of fences, and the
        # call per fence was a tenth of the alarm consumer's time in `icv bench alarms`.
        found = [f for f in near if (b := f.bbox)[0] <= x1 and b[2] >= x0 and b[1] <= y1 and b[3] >= y0]
        if several and len(found) > 1:
            # Only the fences found are de-duplicated and put in index order.
            found = sorted(set(found), key=by_order)
        if self.big:
            found = sorted({*found, *(f for f in self.big if _box_meets(f.bbox, x0, y0, x1, y1))}, key=by_order)
        return found

    def zones_at(self, lon: float, lat: float) -> list[LimitZone]:
        """The limit zones that may hold the point (in the positive quadrant): registered in
        its cell, their bounding box holding it; in index order."""
        found = [z for z in self.zone_cells.get(int(lon * _PER_DEG) * _ROW + int(lat * _PER_DEG), ())
                 if _box_meets(z.bbox, lon, lat, lon, lat)]
        if self.big_zones:
            found = sorted({*found, *(z for z in self.big_zones if _box_meets(z.bbox, lon, lat, lon, lat))},
                           key=by_order)
        return found


def _box_meets(b: BBox, x0: float, y0: float, x1: float, y1: float) -> bool:
    return b[0] <= x1 and b[2] >= x0 and b[1] <= y1 and b[3] >= y0


def _by_cell(regs: list[tuple[Any, _E]]) -> dict[int, tuple[_E, ...]]:
    """Cell key → the entries registered in it, in index order (``regs`` is: each entry's
    keys, in index order). Grouped with one sort: 10,000 fences have ~500,000 fine cells."""
    if not regs:
        return {}
    keys = np.concatenate([k for k, _ in regs])
    owner = np.repeat(np.arange(len(regs)), [len(k) for k, _ in regs])
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order].tolist()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]).tolist()
    objs = [e for _, e in regs]
    placed = [objs[i] for i in owner]
    bounds = [*starts, len(owner)]
    return {k: tuple(placed[a:b]) for k, a, b in zip(keys[starts].tolist(), bounds, bounds[1:], strict=False)}


def _cells(e: CompiledFence | LimitZone, per_deg: float = _PER_DEG, max_cells: int = MAX_FENCE_CELLS
           ) -> tuple[Any, Any] | None:
    """The grid cells (x and y indices) a fence or zone may meet, or None if too many:
    circles and rectangles by their box (a circle is tested exactly, not as its
    polygon, so it keeps all the cells of its true box), polygons and corridors by
    their geometry (a long diagonal corridor is not in the cells its box merely spans)."""
    if not all(math.isfinite(c) for c in e.bbox):
        return None
    ix0, iy0, ix1, iy1 = _cell_range(e.bbox, per_deg)
    n = (ix1 - ix0 + 1) * (iy1 - iy0 + 1)
    if n > max_cells:
        return None
    gx = np.repeat(np.arange(ix0, ix1 + 1), iy1 - iy0 + 1)  # every (x, y), x-major
    gy = np.tile(np.arange(iy0, iy1 + 1), ix1 - ix0 + 1)
    if n > 4 and not (isinstance(e, CompiledFence) and (e.circle is not None or e.rect is not None)):
        pad = _CELL_PAD_DEG
        hit = shapely.intersects(e.geom, shapely.box(gx / per_deg - pad, gy / per_deg - pad,
                                                     (gx + 1) / per_deg + pad, (gy + 1) / per_deg + pad))
        gx, gy = gx[hit], gy[hit]
    return gx, gy


class BoxGrid:
    """The bounding boxes registered in each grid cell, packed: per cell a run of
    ``x0, y0, x1, y1`` doubles in one array, found through an array of offsets over the
    cells' extent (compressed rows). Every report asks whether any box meets its
    segment's; reading a few adjacent words here costs far less than a dict entry and
    each nearby fence's objects, scattered over memory, would (with thousands of
    vehicles, the state a report needs is not in the cache, and neither are they).
    Fences spread over a very wide area fall back to a dict of cell → boxes."""

    __slots__ = ("by_key", "nx", "ny", "off", "ox", "oy", "val")

    def __init__(self, regs: list[tuple[Any, Any, BBox]]) -> None:
        self.ox = self.oy = self.nx = self.ny = 0
        self.off: array[int] | None = array("q", [0])
        self.val = array("d")
        self.by_key: dict[int, array[float]] = {}
        if not regs:
            return
        xs = np.concatenate([r[0] for r in regs])
        ys = np.concatenate([r[1] for r in regs])
        owner = np.repeat(np.arange(len(regs)), [len(r[0]) for r in regs])
        boxes = np.array([r[2] for r in regs], dtype=np.float64)
        self.ox, self.oy = int(xs.min()), int(ys.min())
        self.nx, self.ny = int(xs.max()) - self.ox + 1, int(ys.max()) - self.oy + 1
        if self.nx * self.ny <= MAX_PACKED_CELLS:
            cell = (xs - self.ox) * self.ny + (ys - self.oy)
            order = np.argsort(cell, kind="stable")
            counts = np.bincount(cell, minlength=self.nx * self.ny)
            self.off = array("q", (np.concatenate(([0], np.cumsum(counts))) * 4).tolist())
            self.val = array("d", boxes[owner[order]].ravel().tolist())
        else:
            self.off = None
            for k, o in zip((xs * _ROW + ys).tolist(), owner.tolist(), strict=True):
                self.by_key.setdefault(k, array("d")).extend(boxes[o].tolist())

    def meets(self, ix0: int, iy0: int, ix1: int, iy1: int, x0: float, y0: float, x1: float, y1: float) -> bool:
        """Whether a box registered in cells ``[ix0, ix1] × [iy0, iy1]`` meets ``(x0, y0, x1, y1)``."""
        off = self.off
        if off is None:
            for ix in range(ix0, ix1 + 1):
                for iy in range(iy0, iy1 + 1):
                    v = self.by_key.get(ix * _ROW + iy)
                    if v is not None and _any_meets(v, 0, len(v), x0, y0, x1, y1):
                        return True
            return False
        ny = self.ny
        cy0, cy1 = iy0 - self.oy, iy1 - self.oy
        if cy1 < 0 or cy0 >= ny:
            return False  # beyond every box
        cy0, cy1 = max(cy0, 0), min(cy1, ny - 1)
        val = self.val
        for cx in range(max(ix0 - self.ox, 0), min(ix1 - self.ox, self.nx - 1) + 1):
            a, b = off[cx * ny + cy0], off[cx * ny + cy1 + 1]  # the cells of one column are adjacent
            if a != b and _any_meets(val, a, b, x0, y0, x1, y1):
                return True
        return False


def _any_meets(val: array[float], a: int, b: int, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Whether one of the boxes ``val[a:b]`` (four numbers each) meets ``(x0, y0, x1, y1)``."""
    while a < b:
        if val[a] <= x1 and val[a + 2] >= x0 and val[a + 1] <= y1 and val[a + 3] >= y0:
            return True
        a += 4
    return False


# ------------------------------------------------------------------------------ crossings

#: (device time µs, fence id, entering?, lon, lat) of one boundary crossing.
Transition = tuple[int, int, bool, float, float]


def contains_point(geom: BaseGeometry, lon: float, lat: float) -> bool:
    return bool(shapely.contains_xy(geom, lon, lat))
