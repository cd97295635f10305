"""A route flattened into straight segments, laid out for the vehicle's hot loop.

Parallel lists (not objects per segment) because a vehicle step reads a handful
of values of one segment and nothing else.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .roads import RoadNetwork

#: Heading changes smaller than this are road curvature, not a turn to slow down for.
TURN_MIN_DEG = 20.0


class Segment(NamedTuple):
    x0_m: float
    y0_m: float
    ux: float
    uy: float
    length_m: float
    heading_deg: float
    limit_ms: float
    expressway: bool
    altitude_m: float
    edge: int


class Route:
    """Segments of ``steps`` (edge, forward) from ``start_node``, with where along the
    route (``s``, metres from the start) junctions and turns lie."""

    __slots__ = (
        "alt_m",
        "edge",
        "end_node",
        "expressway",
        "heading",
        "junctions",
        "length_m",
        "limit_ms",
        "network",
        "nodes",
        "seg_end",
        "seg_start",
        "start_node",
        "steps",
        "turns",
        "ux",
        "uy",
        "x0",
        "y0",
    )

    def __init__(self, network: RoadNetwork, start_node: int, steps: list[tuple[int, bool]]) -> None:
        self.network = network
        self.steps = steps
        self.start_node = start_node
        self.nodes = [start_node]
        self.x0: list[float] = []
        self.y0: list[float] = []
        self.ux: list[float] = []
        self.uy: list[float] = []
        self.heading: list[float] = []
        self.limit_ms: list[float] = []
        self.expressway: list[bool] = []
        self.alt_m: list[float] = []
        self.edge: list[int] = []
        self.seg_start: list[float] = []
        self.seg_end: list[float] = []
        #: (s, node, could have traffic lights) where the route passes a node.
        self.junctions: list[tuple[float, int, bool]] = []
        #: (s, heading change in degrees) where the route turns.
        self.turns: list[tuple[float, float]] = []
        s = 0.0
        node = start_node
        prev_express: bool | None = None
        for ei, forward in steps:
            e = network.edges[ei]
            if (e.a if forward else e.b) != node:
                raise ValueError(f"edge {ei} does not start at node {node}: the route is not continuous")
            express = e.road_class == "expressway"
            if prev_express is not None:
                signal = not express and not prev_express and network.degree(node) >= 3
                self.junctions.append((s, node, signal))
            prev_express = express
            for seg in network.segments(ei, forward):
                if self.heading:
                    turn = abs((seg.heading_deg - self.heading[-1] + 180.0) % 360.0 - 180.0)
                    if turn >= TURN_MIN_DEG:
                        self.turns.append((s, turn))
                self.x0.append(seg.x0_m)
                self.y0.append(seg.y0_m)
                self.ux.append(seg.ux)
                self.uy.append(seg.uy)
                self.heading.append(seg.heading_deg)
                self.limit_ms.append(seg.limit_ms)
                self.expressway.append(seg.expressway)
                self.alt_m.append(seg.altitude_m)
                self.edge.append(seg.edge)
                self.seg_start.append(s)
                s += seg.length_m
                self.seg_end.append(s)
            node = e.b if forward else e.a
            self.nodes.append(node)
        if not self.x0:
            raise ValueError("empty route")
        self.end_node = node
        self.length_m = s

    def __len__(self) -> int:
        return len(self.x0)

    def segment_at(self, s_m: float) -> int:
        i = bisect.bisect_right(self.seg_end, s_m)
        return min(i, len(self.x0) - 1)

    def point_at(self, s_m: float) -> tuple[float, float]:
        """(x, y) in metres at ``s_m`` along the route."""
        i = self.segment_at(s_m)
        off = s_m - self.seg_start[i]
        return self.x0[i] + self.ux[i] * off, self.y0[i] + self.uy[i] * off

    def lonlat_at(self, s_m: float) -> tuple[float, float]:
        return self.network.lonlat(*self.point_at(s_m))

    def vertices_lonlat(self) -> list[tuple[float, float]]:
        """Start of every segment and the end of the route, as (lon, lat)."""
        pts = [self.network.lonlat(x, y) for x, y in zip(self.x0, self.y0, strict=True)]
        pts.append(self.lonlat_at(self.length_m))
        return pts

    def road_name(self, i: int) -> str:
        return self.network.edges[self.edge[i]].name
