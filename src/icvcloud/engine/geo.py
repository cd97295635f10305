"""Metres from WGS-84 degrees at city scale.

A local equirectangular projection (x = R·cos φ0·Δλ, y = R·Δφ) instead of pyproj:
it is *affine* in (lon, lat), so a point is inside a polygon in metres exactly when
it is inside in degrees — fences can be tested in degrees and only their *metric*
construction (circle radii, corridor widths) needs a projection, done about each
fence's own centre. The scale error of the approximation at latitude φ is
≈ tan φ · |φ − φ0|: at Zibo (36.8° N) 0.013 % per kilometre from the centre, so a
corridor 10 km long is built within 1 mm per metre of width, and a 5 km circle
within 0.7 m. A per-point pyproj transform would cost microseconds per report for
no visible gain; the distances the rules need (GNSS jumps) use the same formula
about the midpoint, whose error over a few kilometres is below GNSS noise.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
_RAD = math.pi / 180.0
M_PER_DEG_LAT = EARTH_RADIUS_M * _RAD

#: China's extent with its islands (Zengmu Ansha ~3.8° N … Mohe ~53.6° N, Pamirs
#: ~73.5° E … Fuyuan ~135.1° E), a little generous; a fix outside is invalid data.
CHINA_BOUNDS = (73.4, 3.8, 135.2, 53.6)  # min lon, min lat, max lon, max lat


def m_per_deg_lon(lat_deg: float) -> float:
    return M_PER_DEG_LAT * math.cos(lat_deg * _RAD)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance about the midpoint latitude (exact enough below ~50 km)."""
    dx = (lon2 - lon1) * (M_PER_DEG_LAT * math.cos((lat1 + lat2) / 2 * _RAD))  # m_per_deg_lon, inlined
    dy = (lat2 - lat1) * M_PER_DEG_LAT
    return math.hypot(dx, dy)


class LocalFrame:
    """x east, y north in metres about ``(lon0, lat0)``."""

    __slots__ = ("lat0", "lon0", "mx", "my")

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.mx = m_per_deg_lon(lat0)
        self.my = M_PER_DEG_LAT

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.mx, (lat - self.lat0) * self.my

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self.mx, self.lat0 + y / self.my


def in_china(lon: float, lat: float) -> bool:
    a, b, c, d = CHINA_BOUNDS
    return a <= lon <= c and b <= lat <= d
