"""Road network for the virtual fleet: GeoJSON roads → a routable graph.

The packaged network (``data/zibo_schematic.geojson``) is a *schematic* of Zibo's
main roads made by the icvcloud project from general knowledge — not survey data;
``icv roads import`` builds the same format from OpenStreetMap for real geometry.

Features carry ``kind``: ``"road"`` (LineString: name, name_en, road_class,
speed_limit_kmh, district), ``"district"`` (Polygon: name, name_en, altitude_m) and
``"label"`` (Point). Nodes are where roads share a vertex, plus road ends; a loose
road end within ``snap_m`` of another road is joined to it. Roads that cross without
a shared vertex stay unconnected (bridges and overpasses look exactly like that).
"""

from __future__ import annotations

import heapq
import importlib.resources
import itertools
import json
import math
import os
import random
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, shape

from .geo import LocalProjection, heading_deg
from .identity import seeded
from .route import Route, Segment

ROAD_CLASSES = ("expressway", "arterial", "secondary", "local")
DEFAULT_SPEED_KMH = {"expressway": 120.0, "arterial": 60.0, "secondary": 50.0, "local": 40.0}
DEFAULT_ALTITUDE_M = 50.0
SNAP_M = 30.0
#: Routes start and end at these many nodes at most: shortest-path trees are cached
#: per origin, so a bounded set of depots keeps a big (OSM) network cheap to route on.
MAX_DEPOTS = 400

_Key = tuple[float, float]


@dataclass(slots=True)
class Node:
    index: int
    lon: float
    lat: float
    x_m: float
    y_m: float
    district: str = ""


@dataclass(slots=True)
class Edge:
    """A road piece between two nodes; ``xy_m`` runs from ``a`` to ``b``."""

    index: int
    a: int
    b: int
    name: str
    name_en: str
    road_class: str
    speed_limit_kmh: float
    district: str
    xy_m: list[tuple[float, float]]
    length_m: float
    altitude_m: float = DEFAULT_ALTITUDE_M

    @property
    def travel_s(self) -> float:
        return self.length_m / (self.speed_limit_kmh / 3.6)


@dataclass(slots=True)
class District:
    name: str
    name_en: str
    altitude_m: float
    polygon: Polygon


@dataclass(slots=True)
class _Line:
    coords: list[_Key]
    props: Mapping[str, Any]


class NoRoute(LookupError):
    pass


def packaged_geojson() -> dict[str, Any]:
    """The schematic Zibo network shipped with the package."""
    ref = importlib.resources.files("icvcloud.sim").joinpath("data/zibo_schematic.geojson")
    return json.loads(ref.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _key(lon: float, lat: float) -> _Key:
    return round(lon, 7), round(lat, 7)


class RoadNetwork:
    """Nodes, edges, adjacency and a travel-time router over GeoJSON roads."""

    def __init__(self, geojson: Mapping[str, Any], snap_m: float = SNAP_M, max_depots: int = MAX_DEPOTS) -> None:
        lines, districts, labels = _parse(geojson)
        if not lines:
            raise ValueError("no road features (LineString with kind 'road') in the GeoJSON")
        lons = [c[0] for ln in lines for c in ln.coords]
        lats = [c[1] for ln in lines for c in ln.coords]
        self.bbox: tuple[float, float, float, float] = (min(lons), min(lats), max(lons), max(lats))
        self.projection = LocalProjection((self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2)
        self.districts: dict[str, District] = districts
        #: (name, name_en, lon, lat) of label points, for maps.
        self.labels: list[tuple[str, str, float, float]] = labels
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.adjacency: list[list[tuple[int, int]]] = []  # node → [(neighbour, edge)]
        self._build(lines, snap_m)
        self._assign_districts()
        self._segments = [(self._edge_segments(e, True), self._edge_segments(e, False)) for e in self.edges]
        self._trees: OrderedDict[int, tuple[list[float], list[float], list[int]]] = OrderedDict()
        self._tree_cache_size = 512
        comp = max(self.components(), key=len)
        # A fixed draw: the same network always yields the same depots.
        pool = sorted(comp)
        self.depots: list[int] = pool if len(pool) <= max_depots else sorted(seeded(0).sample(pool, max_depots))
        self.depots_by_district: dict[str, list[int]] = {}
        for n in self.depots:
            self.depots_by_district.setdefault(self.nodes[n].district, []).append(n)

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, snap_m: float = SNAP_M) -> RoadNetwork:
        """From a GeoJSON file, or the packaged schematic Zibo network when ``path`` is None."""
        if path is None:
            return cls(packaged_geojson(), snap_m)
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh), snap_m)

    def _build(self, lines: list[_Line], snap_m: float) -> None:
        proj = self.projection
        parent: dict[_Key, _Key] = {}

        def find(k: _Key) -> _Key:
            root = k
            while parent.get(root, root) != root:
                root = parent[root]
            while k != root:  # path compression
                parent[k], k = root, parent[k]
            return root

        uses: dict[_Key, int] = {}
        for ln in lines:
            for k in ln.coords:
                uses[k] = uses.get(k, 0) + 1
        xy = {k: proj.to_xy(*k) for k in uses}
        inserts = self._snap_loose_ends(lines, uses, xy, snap_m, parent, find)
        # Later segments first, so earlier insertions do not shift the indexes still to come.
        for (li, si), pts in sorted(inserts.items(), reverse=True):
            for _, k in sorted(pts, reverse=True):
                lines[li].coords.insert(si + 1, k)
        node_keys = {find(k) for k in parent}  # snapped clusters
        for ln in lines:
            node_keys.add(find(ln.coords[0]))
            node_keys.add(find(ln.coords[-1]))
            node_keys.update(find(k) for k in ln.coords if uses[k] > 1)
        index: dict[_Key, int] = {}

        def node_of(k: _Key) -> int:
            r = find(k)
            i = index.get(r)
            if i is None:
                i = index[r] = len(self.nodes)
                x, y = xy[r] if r in xy else proj.to_xy(*r)
                self.nodes.append(Node(i, r[0], r[1], x, y))
                self.adjacency.append([])
            return i

        for ln in lines:
            p = ln.props
            cls_ = str(p.get("road_class") or "local")
            if cls_ not in DEFAULT_SPEED_KMH:
                cls_ = "local"
            try:
                limit = float(p.get("speed_limit_kmh") or DEFAULT_SPEED_KMH[cls_])
            except (TypeError, ValueError):
                limit = DEFAULT_SPEED_KMH[cls_]
            limit = max(5.0, limit)
            start = 0
            for j in range(1, len(ln.coords)):
                if find(ln.coords[j]) not in node_keys:
                    continue
                a, b = node_of(ln.coords[start]), node_of(ln.coords[j])
                pts = [(self.nodes[a].x_m, self.nodes[a].y_m)]
                pts += [xy[k] for k in ln.coords[start + 1 : j]]
                pts.append((self.nodes[b].x_m, self.nodes[b].y_m))
                length = sum(math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))
                start = j
                if length < 0.5:
                    continue  # collapsed by snapping
                e = Edge(len(self.edges), a, b, str(p.get("name") or ""), str(p.get("name_en") or ""), cls_, limit,
                         str(p.get("district") or ""), pts, length)
                self.edges.append(e)
                if a != b:
                    self.adjacency[a].append((b, e.index))
                    self.adjacency[b].append((a, e.index))

    def _snap_loose_ends(self, lines: list[_Line], uses: dict[_Key, int], xy: dict[_Key, tuple[float, float]],
                         snap_m: float, parent: dict[_Key, _Key], find: Any) -> dict[tuple[int, int], list[Any]]:
        """Join each unshared road end to the nearest point of another road within
        ``snap_m``: onto its vertex if that is within 1 m, else onto a new vertex."""
        cell = max(snap_m, 1.0) * 2
        grid: dict[tuple[int, int], set[tuple[int, int]]] = {}
        for li, ln in enumerate(lines):
            for si in range(len(ln.coords) - 1):
                (x1, y1), (x2, y2) = xy[ln.coords[si]], xy[ln.coords[si + 1]]
                # Samples every half cell: any point within snap_m (half a cell) of the
                # segment is then within one cell of a sample, i.e. in the 3×3 searched.
                n = int(math.hypot(x2 - x1, y2 - y1) / (cell / 2)) + 1
                for j in range(n + 1):
                    f = j / n
                    key = (int((x1 + (x2 - x1) * f) // cell), int((y1 + (y2 - y1) * f) // cell))
                    grid.setdefault(key, set()).add((li, si))
        inserts: dict[tuple[int, int], list[Any]] = {}
        for li, ln in enumerate(lines):
            for k in {ln.coords[0], ln.coords[-1]}:
                if uses[k] > 1 or find(k) != k:
                    continue
                px, py = xy[k]
                best: tuple[float, int, int, float] | None = None
                gx0, gy0 = int(px // cell), int(py // cell)
                for gx in (gx0 - 1, gx0, gx0 + 1):
                    for gy in (gy0 - 1, gy0, gy0 + 1):
                        for lj, sj in grid.get((gx, gy), set()):
                            if lj == li:
                                continue
                            c = lines[lj].coords
                            d, t = _point_segment(px, py, xy[c[sj]], xy[c[sj + 1]])
                            if d <= snap_m and (best is None or d < best[0]):
                                best = (d, lj, sj, t)
                if best is None:
                    continue
                _, lj, sj, t = best
                c = lines[lj].coords
                (x1, y1), (x2, y2) = xy[c[sj]], xy[c[sj + 1]]
                qx, qy = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
                if math.dist((qx, qy), (x1, y1)) <= 1.0:
                    target = c[sj]
                elif math.dist((qx, qy), (x2, y2)) <= 1.0:
                    target = c[sj + 1]
                else:
                    target = _key(*self.projection.to_lonlat(qx, qy))
                    xy[target] = (qx, qy)
                    uses[target] = uses.get(target, 0) + 1
                    inserts.setdefault((lj, sj), []).append((t, target))
                parent[k] = find(target)  # the other road's point is the node's position
                parent.setdefault(find(target), find(target))
        return inserts

    def _assign_districts(self) -> None:
        """Nodes take the district polygon they lie in, else the district named by
        their roads (surface roads before expressways); edges take its altitude."""
        named: dict[int, str] = {}
        for e in sorted(self.edges, key=lambda e: e.road_class == "expressway"):
            if e.district:
                named.setdefault(e.a, e.district)
                named.setdefault(e.b, e.district)
        node_lon = np.array([n.lon for n in self.nodes])
        node_lat = np.array([n.lat for n in self.nodes])
        mids = [self.projection.to_lonlat(*e.xy_m[len(e.xy_m) // 2]) for e in self.edges]
        mid_lon = np.array([m[0] for m in mids])
        mid_lat = np.array([m[1] for m in mids])
        for d in self.districts.values():
            for i in np.flatnonzero(shapely.contains_xy(d.polygon, node_lon, node_lat)):
                self.nodes[int(i)].district = self.nodes[int(i)].district or d.name
            for i in np.flatnonzero(shapely.contains_xy(d.polygon, mid_lon, mid_lat)):
                self.edges[int(i)].altitude_m = d.altitude_m
        for n in self.nodes:
            n.district = n.district or named.get(n.index, "")

    def _edge_segments(self, e: Edge, forward: bool) -> list[Segment]:
        pts = e.xy_m if forward else e.xy_m[::-1]
        out = []
        for (x1, y1), (x2, y2) in itertools.pairwise(pts):
            dx, dy = x2 - x1, y2 - y1
            ln = math.hypot(dx, dy)
            if ln < 1e-6:
                continue
            out.append(Segment(x1, y1, dx / ln, dy / ln, ln, heading_deg(dx, dy), e.speed_limit_kmh / 3.6,
                               e.road_class == "expressway", e.altitude_m, e.index))
        return out

    # ---------------------------------------------------------------- queries

    @property
    def total_length_m(self) -> float:
        return sum(e.length_m for e in self.edges)

    def lonlat(self, x_m: float, y_m: float) -> tuple[float, float]:
        return self.projection.to_lonlat(x_m, y_m)

    def components(self) -> list[set[int]]:
        """Connected components (sets of node indexes), largest first."""
        seen = [False] * len(self.nodes)
        out = []
        for s in range(len(self.nodes)):
            if seen[s]:
                continue
            comp = {s}
            seen[s] = True
            stack = [s]
            while stack:
                u = stack.pop()
                for v, _ in self.adjacency[u]:
                    if not seen[v]:
                        seen[v] = True
                        comp.add(v)
                        stack.append(v)
            out.append(comp)
        return sorted(out, key=len, reverse=True)

    def is_connected(self) -> bool:
        return len(self.components()) == 1

    def degree(self, node: int) -> int:
        return len(self.adjacency[node])

    def nearest_node(self, lon: float, lat: float) -> int:
        x, y = self.projection.to_xy(lon, lat)
        return min(range(len(self.nodes)), key=lambda i: (self.nodes[i].x_m - x) ** 2 + (self.nodes[i].y_m - y) ** 2)

    # ---------------------------------------------------------------- routing

    def _tree(self, source: int) -> tuple[list[float], list[float], list[int]]:
        """Dijkstra by travel time from ``source``: (time s, length m, previous edge) per node."""
        hit = self._trees.get(source)
        if hit is not None:
            self._trees.move_to_end(source)
            return hit
        n = len(self.nodes)
        inf = math.inf
        time_s = [inf] * n
        length_m = [inf] * n
        prev = [-1] * n
        time_s[source] = 0.0
        length_m[source] = 0.0
        edges = self.edges
        adjacency = self.adjacency
        heap = [(0.0, source)]
        while heap:
            t, u = heapq.heappop(heap)
            if t > time_s[u]:
                continue
            for v, ei in adjacency[u]:
                e = edges[ei]
                nt = t + e.length_m / e.speed_limit_kmh * 3.6
                if nt < time_s[v]:
                    time_s[v] = nt
                    length_m[v] = length_m[u] + e.length_m
                    prev[v] = ei
                    heapq.heappush(heap, (nt, v))
        tree = (time_s, length_m, prev)
        self._trees[source] = tree
        if len(self._trees) > self._tree_cache_size:
            self._trees.popitem(last=False)
        return tree

    def shortest_path(self, a: int, b: int) -> list[tuple[int, bool]]:
        """Fastest path as (edge, forward) steps; ``[]`` when ``a == b``; raises NoRoute."""
        time_s, _, prev = self._tree(a)
        if time_s[b] == math.inf:
            raise NoRoute(f"node {b} is not reachable from node {a}")
        steps: list[tuple[int, bool]] = []
        v = b
        while v != a:
            e = self.edges[prev[v]]
            forward = e.b == v
            steps.append((e.index, forward))
            v = e.a if forward else e.b
        steps.reverse()
        return steps

    def travel_time_s(self, a: int, b: int) -> float:
        return self._tree(a)[0][b]

    def path_length_m(self, a: int, b: int) -> float:
        return self._tree(a)[1][b]

    def route(self, waypoints: Sequence[int]) -> Route:
        """The fastest route visiting ``waypoints`` in order (a loop if the last is the first)."""
        if len(waypoints) < 2:
            raise ValueError("a route needs at least two waypoints")
        steps: list[tuple[int, bool]] = []
        for a, b in itertools.pairwise(waypoints):
            steps += self.shortest_path(a, b)
        if not steps:
            raise NoRoute("waypoints are all the same node")
        return Route(self, waypoints[0], steps)

    def random_route(
        self,
        rng: random.Random,
        *,
        origin: int | None = None,
        min_length_m: float = 2000.0,
        max_length_m: float = math.inf,
        district: str | None = None,
        leave_district: bool = False,
    ) -> Route:
        """A fastest route from ``origin`` (default: a random depot) to a random depot
        ``min_length_m``–``max_length_m`` away, inside ``district`` if given, or in another
        district than the origin's with ``leave_district``. Constraints are relaxed, in
        that order, rather than failing when no depot satisfies them."""
        if origin is None:
            pool = self.depots_by_district.get(district, self.depots) if district is not None else self.depots
            origin = rng.choice(pool)
        _, length_m, _ = self._tree(origin)
        home = self.nodes[origin].district
        depots = self.depots_by_district.get(district, self.depots) if district is not None else self.depots

        def pick(cands: Iterable[int]) -> int | None:
            lst = [n for n in cands if n != origin and length_m[n] < math.inf]
            return rng.choice(lst) if lst else None

        in_range = [n for n in depots if min_length_m <= length_m[n] <= max_length_m]
        dest = None
        if leave_district:
            dest = pick(n for n in in_range if self.nodes[n].district != home) or pick(
                n for n in self.depots if self.nodes[n].district != home)
        dest = dest if dest is not None else pick(in_range)
        if dest is None:
            dest = pick(n for n in self.depots if length_m[n] >= min_length_m / 2) or pick(self.depots)
        if dest is None:
            raise NoRoute(f"no depot reachable from node {origin}")
        return self.route([origin, dest])

    def loop_route(self, rng: random.Random, *, district: str | None = None, min_length_m: float = 6000.0,
                   max_length_m: float = 20000.0, tries: int = 30) -> Route:
        """A closed route through three depots of ``district`` (a bus line)."""
        pool = self.depots_by_district.get(district, self.depots) if district is not None else self.depots
        if len(pool) < 2:
            pool = self.depots
        best: Route | None = None
        for _ in range(tries):
            wps = rng.sample(pool, min(3, len(pool)))
            try:
                r = self.route([*wps, wps[0]])
            except NoRoute:
                continue
            if min_length_m <= r.length_m <= max_length_m:
                return r
            if best is None or abs(r.length_m - min_length_m) < abs(best.length_m - min_length_m):
                best = r
        if best is None:
            raise NoRoute(f"no loop found in district {district!r}")
        return best

    def segments(self, edge: int, forward: bool) -> list[Segment]:
        return self._segments[edge][0 if forward else 1]


def _point_segment(px: float, py: float, p1: tuple[float, float], p2: tuple[float, float]) -> tuple[float, float]:
    """Distance from a point to a segment, and the segment parameter (0..1) of the nearest point."""
    (x1, y1), (x2, y2) = p1, p2
    dx, dy = x2 - x1, y2 - y1
    ll = dx * dx + dy * dy
    t = 0.0 if ll == 0 else max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / ll))
    return math.hypot(px - (x1 + dx * t), py - (y1 + dy * t)), t


def _parse(geojson: Mapping[str, Any]) -> tuple[list[_Line], dict[str, District], list[tuple[str, str, float, float]]]:
    lines: list[_Line] = []
    districts: dict[str, District] = {}
    labels: list[tuple[str, str, float, float]] = []
    for f in geojson.get("features", ()):
        props = f.get("properties") or {}
        geom = f.get("geometry") or {}
        gtype = geom.get("type")
        kind = props.get("kind", "road" if gtype in ("LineString", "MultiLineString") else None)
        if kind == "road" and gtype in ("LineString", "MultiLineString"):
            parts = [geom["coordinates"]] if gtype == "LineString" else geom["coordinates"]
            for part in parts:
                coords: list[_Key] = []
                for c in part:
                    k = _key(float(c[0]), float(c[1]))
                    if not coords or coords[-1] != k:
                        coords.append(k)
                if len(coords) >= 2:
                    lines.append(_Line(coords, props))
        elif kind == "district" and gtype in ("Polygon", "MultiPolygon"):
            name = str(props.get("name") or "")
            districts[name] = District(name, str(props.get("name_en") or ""),
                                       float(props.get("altitude_m", DEFAULT_ALTITUDE_M)), shape(geom))
        elif kind == "label" and gtype == "Point":
            lon, lat = geom["coordinates"][:2]
            labels.append((str(props.get("name") or ""), str(props.get("name_en") or ""), float(lon), float(lat)))
    return lines, districts, labels
