"""The store's repository interface. Two implementations: SQLite (embedded,
``sqlite.py``) and PostgreSQL + PostGIS (scale-out, ``postgres.py``).

Tenant scoping lives here: every read that returns enterprise data takes a
:class:`Scope`, so no caller can forget it (architecture rule 6).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from icvcloud.model import Device, LiveState, Organisation, Position, PositionRow, User, Vehicle, position_of_row


def fold_rows(rows: Iterable[PositionRow], newest: dict[str, PositionRow], last_seen: dict[str, int],
              plain: list[PositionRow], backfill: list[PositionRow]) -> None:
    """Fold position rows into each device's newest row (by device time) and latest
    receive time, and split them into plain and back-filled ones (0x0704 type 1: a
    re-sent copy of what may already be stored under another sequence number)."""
    for r in rows:
        dev = r[0]
        cur = newest.get(dev)
        if cur is None or r[1] >= cur[1]:
            newest[dev] = r
        if r[4] > last_seen.get(dev, -1):
            last_seen[dev] = r[4]
        (backfill if r[13] else plain).append(r)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which organisations' records a caller may see: ``None`` means all (a regulator
    or an administrator), otherwise the set of organisation IDs."""

    org_ids: frozenset[int] | None

    @classmethod
    def all(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, *org_ids: int) -> Scope:
        return cls(frozenset(org_ids))

    @classmethod
    def subtree(cls, orgs: Sequence[Organisation], root: int) -> Scope:
        """A regulator unit's jurisdiction: ``root`` and every organisation below it
        (by ``parent_id``, any depth; a cycle in the data ends the walk)."""
        children: dict[int, list[int]] = {}
        for o in orgs:
            if o.parent_id is not None:
                children.setdefault(o.parent_id, []).append(o.id)
        seen = {root}
        todo = [root]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return cls(frozenset(seen))

    def allows(self, org_id: int | None) -> bool:
        return self.org_ids is None or (org_id is not None and org_id in self.org_ids)


@dataclass(frozen=True, slots=True)
class VehicleFilter:
    vehicle_type: str | None = None
    org_id: int | None = None
    online: bool | None = None
    plate: str | None = None  # substring, case-insensitive
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class VehicleRow:
    """A vehicle with its device and live state, as lists and maps show it."""

    vehicle: Vehicle
    live: LiveState | None


@dataclass(frozen=True, slots=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lon: float, lat: float) -> bool:
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat


class Store(abc.ABC):
    """Persistence and queries. Async so both SQLite (threads) and asyncpg fit."""

    # -- lifecycle
    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    # -- organisations and users
    @abc.abstractmethod
    async def add_organisation(self, name: str, kind: str = "enterprise", parent_id: int | None = None) -> int: ...

    @abc.abstractmethod
    async def list_organisations(self, scope: Scope) -> list[Organisation]: ...

    @abc.abstractmethod
    async def add_user(self, username: str, password_hash: str, role: str, org_id: int | None) -> int: ...

    @abc.abstractmethod
    async def get_user(self, username: str) -> User | None: ...

    @abc.abstractmethod
    async def add_token(self, user_id: int, token_hash: str, name: str) -> None: ...

    @abc.abstractmethod
    async def user_for_token(self, token_hash: str) -> User | None: ...

    # -- devices and vehicles
    @abc.abstractmethod
    async def get_device(self, device_id: str) -> Device | None: ...

    @abc.abstractmethod
    async def save_device(self, device: Device) -> None: ...

    @abc.abstractmethod
    async def add_vehicle(self, vehicle: Vehicle) -> int:
        """Insert (``vehicle.id`` ignored) and link ``vehicle.device_id`` if given; returns the ID."""

    @abc.abstractmethod
    async def vehicle_for_device(self, device_id: str) -> Vehicle | None: ...

    async def device_and_vehicle(self, device_id: str) -> tuple[Device | None, Vehicle | None]:
        """A terminal's registry entry and its vehicle, as registration needs them (a
        server store answers in one round trip; this default asks twice)."""
        dev = await self.get_device(device_id)
        return dev, (await self.vehicle_for_device(device_id) if dev is not None else None)

    @abc.abstractmethod
    async def get_vehicle(self, scope: Scope, vehicle_id: int) -> VehicleRow | None: ...

    @abc.abstractmethod
    async def list_vehicles(self, scope: Scope, flt: VehicleFilter) -> tuple[list[VehicleRow], int]:
        """Matching vehicles (page) and the total count."""

    @abc.abstractmethod
    async def count_by_state(self, scope: Scope) -> dict[str, int]:
        """Vehicles per state: total, online, offline, moving, stopped, alarm."""

    # -- positions and live state
    async def write_position_rows(self, rows: Sequence[PositionRow], consumer: str | None = None,
                                  offset: int | None = None, seen: Mapping[str, datetime] | None = None) -> int:
        """:meth:`write_positions` of positions given as rows (the ingest path builds
        those); a store that writes rows as they are overrides this."""
        return await self.write_positions([position_of_row(r) for r in rows], consumer, offset, seen)

    @abc.abstractmethod
    async def write_positions(self, positions: Sequence[Position], consumer: str | None = None,
                              offset: int | None = None, seen: Mapping[str, datetime] | None = None) -> int:
        """Store positions idempotently (duplicates by (device, device time, seq, item)
        are ignored, and a back-filled position whose device and device time are
        already stored is a re-sent copy) and update live state; mark the devices in ``seen`` online as of
        the given receive time (messages without a position); if ``consumer`` is
        given, record ``offset`` as its position in the same transaction. Returns
        rows inserted."""

    @abc.abstractmethod
    async def consumer_offset(self, consumer: str) -> int:
        """The last log offset ``consumer`` committed here (0 if none)."""

    @abc.abstractmethod
    async def mark_seen(self, device_id: str, at: datetime, online: bool = True) -> None:
        """A message of any kind arrived (heartbeats keep a device online)."""

    @abc.abstractmethod
    async def mark_offline_before(self, cutoff: datetime) -> list[str]:
        """Devices whose last message is older than ``cutoff`` go offline; returns them."""

    @abc.abstractmethod
    async def track(self, scope: Scope, vehicle_id: int, start: datetime, end: datetime,
                    limit: int = 100_000) -> list[Position]:
        """Positions of a vehicle's device in [start, end] by device time, ascending."""

    @abc.abstractmethod
    async def live_states(self, scope: Scope, bbox: BBox | None = None) -> list[VehicleRow]: ...

    @abc.abstractmethod
    async def count_positions(self, device_id: str | None = None) -> int: ...

    # -- terminal debugging
    @abc.abstractmethod
    async def add_bad_frame(self, device_id: str, at: datetime, frame: bytes, reason: str) -> None:
        """Keep a frame that failed decoding (the newest few hundred per device)."""

    @abc.abstractmethod
    async def bad_frames(self, device_id: str, limit: int = 50) -> list[tuple[datetime, bytes, str]]:
        """(receive time, frame, reason), newest first."""
