"""Track shaping: line simplification, stops, GeoJSON. Pure functions of positions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from icvcloud.model import Position

from .schemas import Stop

#: Mean Earth radius (m); an equirectangular projection around the track is accurate
#: to well under a metre per kilometre at city scale, plenty for simplification.
EARTH_RADIUS_M = 6_371_008.8
#: At or below this speed a vehicle stands still (GNSS jitter reads as a few km/h).
STILL_KMH = 3.0


def simplify_indices(points: Sequence[Position], tolerance_m: float) -> list[int]:
    """Indices of the points Douglas–Peucker keeps at ``tolerance_m`` (metres); the
    first and last always stay. ``tolerance_m`` 0 keeps everything."""
    n = len(points)
    if tolerance_m <= 0 or n <= 2:
        return list(range(n))
    lat = np.fromiter((p.lat for p in points), float, n)
    lon = np.fromiter((p.lon for p in points), float, n)
    lat0, lon0 = float(lat.mean()), float(lon.mean())
    k = math.pi / 180 * EARTH_RADIUS_M
    xy = np.column_stack(((lon - lon0) * k * math.cos(math.radians(lat0)), (lat - lat0) * k))
    kept = shapely.get_coordinates(shapely.linestrings(xy).simplify(tolerance_m, preserve_topology=False))
    # The simplified line's vertices are an ordered subsequence of the input's, with
    # the very same coordinates, so one forward walk finds their indices. The ends
    # always survive; matching only the interior keeps a run of identical points (a
    # parked vehicle) from claiming the end's place.
    interior = kept[1:-1]
    out = [0]
    j = 0
    for i in range(1, n - 1):
        if j < len(interior) and xy[i, 0] == interior[j, 0] and xy[i, 1] == interior[j, 1]:
            out.append(i)
            j += 1
    out.append(n - 1)
    return out


def stops(points: Sequence[Position], min_duration_s: float) -> list[Stop]:
    """Runs of standing still (by device time) lasting at least ``min_duration_s``."""
    out: list[Stop] = []
    first: Position | None = None
    last: Position | None = None

    def close() -> None:
        if first is not None and last is not None:
            d = (last.device_time - first.device_time).total_seconds()
            if d >= min_duration_s:
                out.append(Stop(start=first.device_time, end=last.device_time, duration_s=d, lat=first.lat,
                                lon=first.lon))

    for p in points:
        if p.speed_kmh <= STILL_KMH:
            if first is None:
                first = p
            last = p
        else:
            close()
            first = last = None
    close()
    return out


def geojson(points: Sequence[Position], properties: dict[str, Any], stop_list: Sequence[Stop] | None) -> dict[str, Any]:
    """A FeatureCollection: the track (a LineString; a Point if it has one position)
    with per-vertex times and speeds in its properties, and one Point per stop."""
    features: list[dict[str, Any]] = []
    if points:
        coords = [[p.lon, p.lat] for p in points]
        geometry = ({"type": "LineString", "coordinates": coords} if len(coords) > 1
                    else {"type": "Point", "coordinates": coords[0]})
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            **properties, "kind": "track",
            "times": [p.device_time.isoformat() for p in points],
            "speeds_kmh": [p.speed_kmh for p in points]}})
    for s in stop_list or ():
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                         "properties": {"kind": "stop", "start": s.start.isoformat(), "end": s.end.isoformat(),
                                        "duration_s": s.duration_s}})
    return {"type": "FeatureCollection", "features": features}
