"""Metres from degrees for one city, without pyproj.

An equirectangular projection about a reference point is accurate to a few parts in
a thousand across a city the size of Zibo (~100 km): the scale error grows with the
latitude difference from the reference (cos 36.3° vs cos 36.8° differ by ~0.6 %),
which is far below what a simulated GNSS track needs.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
_RAD = math.pi / 180.0


class LocalProjection:
    """x east and y north in metres from ``(lon0_deg, lat0_deg)``."""

    __slots__ = ("lat0_deg", "lon0_deg", "m_per_deg_lat", "m_per_deg_lon")

    def __init__(self, lon0_deg: float, lat0_deg: float) -> None:
        self.lon0_deg = lon0_deg
        self.lat0_deg = lat0_deg
        self.m_per_deg_lat = EARTH_RADIUS_M * _RAD
        self.m_per_deg_lon = self.m_per_deg_lat * math.cos(lat0_deg * _RAD)

    def to_xy(self, lon_deg: float, lat_deg: float) -> tuple[float, float]:
        return (lon_deg - self.lon0_deg) * self.m_per_deg_lon, (lat_deg - self.lat0_deg) * self.m_per_deg_lat

    def to_lonlat(self, x_m: float, y_m: float) -> tuple[float, float]:
        return self.lon0_deg + x_m / self.m_per_deg_lon, self.lat0_deg + y_m / self.m_per_deg_lat


def haversine_m(lon1_deg: float, lat1_deg: float, lon2_deg: float, lat2_deg: float) -> float:
    """Great-circle distance on the mean-radius sphere."""
    p1, p2 = lat1_deg * _RAD, lat2_deg * _RAD
    dp, dl = p2 - p1, (lon2_deg - lon1_deg) * _RAD
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def heading_deg(dx_m: float, dy_m: float) -> float:
    """Compass heading of a displacement: 0 = north, clockwise, in [0, 360)."""
    return math.degrees(math.atan2(dx_m, dy_m)) % 360.0
