"""Simulation: a schematic Zibo road network, kinematic vehicles and virtual JT/T 808
terminals — the fleet behind ``icv demo`` and ``icv bench ingest``.

See docs/simulation.md.
"""

from __future__ import annotations

from icvcloud.oslimits import raise_nofile_limit

from .fleet import DEFAULT_MIX, Fleet, FleetStats, VehicleSpec
from .geo import LocalProjection, haversine_m
from .identity import phone_for, plate_for
from .osm_import import import_osm, main_import
from .roads import District, Edge, Node, NoRoute, RoadNetwork
from .route import Route
from .stats import LatencyRecorder
from .terminal import PositionSource, VirtualTerminal
from .vehicle import PROFILES, VEHICLE_TYPES, Vehicle, VehicleProfile

__all__ = [
    "DEFAULT_MIX",
    "PROFILES",
    "VEHICLE_TYPES",
    "District",
    "Edge",
    "Fleet",
    "FleetStats",
    "LatencyRecorder",
    "LocalProjection",
    "NoRoute",
    "Node",
    "PositionSource",
    "RoadNetwork",
    "Route",
    "Vehicle",
    "VehicleProfile",
    "VehicleSpec",
    "VirtualTerminal",
    "haversine_m",
    "import_osm",
    "main_import",
    "phone_for",
    "plate_for",
    "raise_nofile_limit",
]
