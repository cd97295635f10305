"""OpenStreetMap extract (.osm / .osm.pbf) → GeoJSON roads in the network format.

Keeps motorway, trunk, primary, secondary and tertiary ways (and their links).
Ways that share an OSM node share that coordinate in the output, which is how
``RoadNetwork`` finds junctions. The output is OSM data: © OpenStreetMap
contributors, under the ODbL — keep the attribution when you publish it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import osmium

from .geo import haversine_m

#: highway tag → (road_class, default speed limit km/h) used when the way has no maxspeed.
HIGHWAYS: dict[str, tuple[str, float]] = {
    "motorway": ("expressway", 120.0),
    "motorway_link": ("expressway", 60.0),
    # Chinese trunk roads are national roads and urban expressways (快速路): arterial class,
    # faster default than an ordinary arterial.
    "trunk": ("arterial", 80.0),
    "trunk_link": ("arterial", 50.0),
    "primary": ("arterial", 60.0),
    "primary_link": ("arterial", 40.0),
    "secondary": ("secondary", 50.0),
    "secondary_link": ("secondary", 40.0),
    "tertiary": ("local", 40.0),
    "tertiary_link": ("local", 30.0),
}
MPH_KMH = 1.609344
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from an OSM maxspeed value ("60", "60 km/h", "40 mph", "50;60"), or None
    for what is not a number ("none", "signals", "CN:urban", "walk")."""
    if not value:
        return None
    m = _NUMBER.match(value.split(";")[0])
    if not m:
        return None
    speed = float(m.group(1))
    unit = (m.group(2) or "").lower()
    if unit == "mph":
        speed *= MPH_KMH
    elif unit == "knots":
        speed *= 1.852
    return speed if speed > 0 else None


@dataclass(slots=True)
class ImportSummary:
    ways: int
    features: int
    length_km: float


class _Roads(osmium.SimpleHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.features: list[dict[str, Any]] = []
        self.ways = 0
        self.length_m = 0.0

    def way(self, w: Any) -> None:
        highway = w.tags.get("highway")
        spec = HIGHWAYS.get(highway) if highway else None
        if spec is None:
            return
        road_class, default_kmh = spec
        limit = parse_maxspeed(w.tags.get("maxspeed")) or default_kmh
        props = {
            "kind": "road",
            "name": w.tags.get("name") or w.tags.get("ref") or "",
            "name_en": w.tags.get("name:en") or "",
            "road_class": road_class,
            "speed_limit_kmh": round(limit, 1),
            "district": "",
            "highway": highway,
            "osm_way_id": w.id,
        }
        # A clipped extract lacks nodes of ways crossing its edge: keep each run of
        # nodes with known locations as its own line rather than bridge the gap.
        runs: list[list[list[float]]] = [[]]
        for n in w.nodes:
            if n.location.valid():
                runs[-1].append([round(n.location.lon, 7), round(n.location.lat, 7)])
            elif runs[-1]:
                runs.append([])
        kept = False
        for run in runs:
            if len(run) < 2:
                continue
            kept = True
            self.length_m += sum(haversine_m(*a, *b) for a, b in itertools.pairwise(run))
            self.features.append({"type": "Feature", "properties": props,
                                  "geometry": {"type": "LineString", "coordinates": run}})
        self.ways += kept


def import_osm(path_in: str | os.PathLike[str], path_out: str | os.PathLike[str]) -> ImportSummary:
    """Read an OSM extract and write the road GeoJSON that ``RoadNetwork.load`` reads."""
    handler = _Roads()
    handler.apply_file(os.fspath(path_in), locations=True)
    doc = {
        "type": "FeatureCollection",
        "properties": {
            "source": f"© OpenStreetMap contributors, ODbL 1.0; imported from {os.path.basename(path_in)}",
            "generator": "icvcloud.sim.osm_import",
        },
        "features": handler.features,
    }
    with open(path_out, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    return ImportSummary(handler.ways, len(handler.features), handler.length_m / 1000.0)


def main_import(argv: Sequence[str] | None = None) -> int:
    """``icv roads import FILE.osm|.osm.pbf -o roads.geojson``."""
    ap = argparse.ArgumentParser(prog="icv roads import", description="import roads from an OpenStreetMap extract")
    ap.add_argument("file", help=".osm or .osm.pbf")
    ap.add_argument("-o", "--output", default="roads.geojson")
    args = ap.parse_args(argv)
    if not os.path.exists(args.file):
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    try:
        summary = import_osm(args.file, args.output)
    except (RuntimeError, OSError, ValueError) as e:  # pyosmium reports unreadable input as RuntimeError
        print(f"error: {args.file}: {e}", file=sys.stderr)
        return 1
    print(f"{args.output}: {summary.features} road lines from {summary.ways} ways, {summary.length_km:,.1f} km "
          "(© OpenStreetMap contributors, ODbL)")
    return 0
