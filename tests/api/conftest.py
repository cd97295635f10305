"""A seeded platform for API tests: a real store and LiveHub, an in-memory log
double, two enterprises and a regulator with their users. Every test of the
``world`` fixture runs against both stores: SQLite (embedded, in tmp_path) and
PostgreSQL + PostGIS (scale-out, a schema of its own in the test database,
dropped afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.live import LiveHub
from icvcloud.log.base import Entry, Log, LogRecord, OnDurable
from icvcloud.model import Position, Vehicle
from icvcloud.store.alarms_base import AlarmStore
from icvcloud.store.base import Store
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.postgres_alarms import PostgresAlarmStore
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore
from tests.services import drop_schema, postgis, unique

PASSWORD = "correct horse battery"
# Hashed once: argon2 is slow by design and most tests only need tokens.
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


class MemoryLog(Log):
    """Just enough of the log for the API (recent frames of a device)."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def append(self, entries: Sequence[Entry], on_durable: OnDurable, decoded: Sequence[Any] | None = None) -> None:
        for kind, device_id, at_us, payload in entries:
            self.records.append(LogRecord(len(self.records) + 1, kind, device_id, at_us, payload))
        on_durable(None)

    async def read(self, after: int, limit: int = 1000, timeout_s: float = 0.0) -> list[LogRecord]:
        return [r for r in self.records if r.offset > after][:limit]

    async def recent(self, device_id: str, limit: int = 50) -> list[LogRecord]:
        return [r for r in reversed(self.records) if r.device_id == device_id][:limit]

    def last_offset(self) -> int:
        return len(self.records)

    @property
    def pending(self) -> int:
        return 0


def track_positions(device_id: str, minutes: int, **kw: Any) -> list[Position]:
    """A straight eastward drive, one report a minute from T0, with a wiggle every 10th."""
    return [Position(device_id=device_id, device_time=T0 + timedelta(minutes=m), seq=m,
                     received_at=T0 + timedelta(minutes=m, seconds=2), lat=36.8 + (1e-5 if m % 10 == 5 else 0.0),
                     lon=118.0 + m * 1e-3, speed_kmh=40.0, **kw)
            for m in range(minutes)]


def new_store(kind: str, tmp_path: Path) -> Store:
    """A store (not yet open): SQLite in ``tmp_path``, or PostgreSQL in a new schema of the test database."""
    return SqliteStore(tmp_path / "store.db") if kind == "sqlite" else PostgresStore(postgis(), schema=unique("api"))


async def close_store(store: Store) -> None:
    """Close the store; a PostgreSQL one's schema goes with it."""
    await store.close()
    if isinstance(store, PostgresStore):
        await drop_schema(store.schema)


def alarm_store(store: Store) -> AlarmStore:
    """The alarm repository over ``store``'s database."""
    if isinstance(store, PostgresStore):
        return PostgresAlarmStore(store)
    assert isinstance(store, SqliteStore)
    return SqliteAlarmStore(store)


@dataclass
class World:
    store: Store
    hub: LiveHub
    log: MemoryLog
    services: ApiServices
    app: FastAPI
    regulator: int
    org_a: int
    org_b: int
    tanker: int  # org A, device 1001, online with an alarm
    bus: int  # org A, device 1002, never reported
    coach: int  # org B, device 1003, online and stopped
    tokens: dict[str, str] = field(default_factory=dict)  # by username
    requests: Any = None  # a prometheus counter the tests bump

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture(params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    store = new_store(request.param, tmp_path)
    await store.open()
    try:
        reg = await store.add_organisation("淄博市交通运输局", "regulator")
        a = await store.add_organisation("鲁中危险品运输", parent_id=reg)
        b = await store.add_organisation("长途客运集团", parent_id=reg)
        tanker = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=a,
                                                 device_id="1001"))
        bus = await store.add_vehicle(Vehicle(id=0, plate="鲁C0B001", vehicle_type="bus", org_id=a, device_id="1002"))
        coach = await store.add_vehicle(Vehicle(id=0, plate="鲁C6K888", vehicle_type="coach", org_id=b,
                                                device_id="1003"))
        await store.write_positions(track_positions("1001", 60, alarm=2, status=3))
        stopped = track_positions("1003", 5)
        for p in stopped:
            p.lat, p.lon, p.speed_kmh = 37.5, 118.5, 0.0
        await store.write_positions(stopped)
        await store.add_bad_frame("1001", T0 + timedelta(minutes=30), b"\x7e\x02\x00\x7e", "bad_check_code: x")
        registry = CollectorRegistry()
        requests = Counter("icv_test_requests", "A counter for the tests", registry=registry)
        hub, log = LiveHub(), MemoryLog()
        log.append([("jt808", "1001", int((T0 + timedelta(minutes=31)).timestamp() * 1e6), bytes.fromhex("0200aa")),
                    ("jt808", "1001", int((T0 + timedelta(minutes=29)).timestamp() * 1e6), bytes.fromhex("0002")),
                    ("jt808", "1003", int(T0.timestamp() * 1e6), bytes.fromhex("0200"))], lambda e: None)
        services = ApiServices(store=store, log=log, hub=hub, registry=registry,
                               health=lambda: {"log_lag": 0, "connections": 3})
        w = World(store, hub, log, services, create_app(services), reg, a, b, tanker, bus, coach, requests=requests)
        for username, role, org in (("admin", "admin", None), ("inspector", "viewer", reg),
                                    ("a_operator", "operator", a), ("a_viewer", "viewer", a),
                                    ("b_viewer", "viewer", b), ("drifter", "operator", None)):
            uid = await store.add_user(username, PASSWORD_HASH, role, org)
            w.tokens[username] = await issue_token(store, uid, "test")
        yield w
    finally:
        await close_store(store)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://icv.test") as c:
        yield c
