"""Persistence and queries behind the :class:`Store` interface (``base``); the
embedded implementation is :class:`SqliteStore` (``sqlite``)."""

from .base import BBox, Scope, Store, VehicleFilter, VehicleRow
from .sqlite import SqliteStore

__all__ = ["BBox", "Scope", "SqliteStore", "Store", "VehicleFilter", "VehicleRow"]
