"""A real store with the alarm repository over it, two enterprises and their vehicles:
every test of the ``db`` fixture runs against SQLite (embedded) and PostgreSQL +
PostGIS (scale-out, a schema of its own in the test database, dropped afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from icvcloud.model import Vehicle
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.store.alarms_base import AlarmStore
from icvcloud.store.base import Store
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.postgres_alarms import PostgresAlarmStore
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore
from tests.services import drop_schema, postgis, unique

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def stores(kind: str, where: str | Path) -> tuple[Store, AlarmStore]:
    """A store (not yet open) and its alarm repository over the database at ``where``:
    a SQLite file, or a schema of the PostgreSQL test database."""
    if kind == "sqlite":
        s = SqliteStore(where)
        return s, SqliteAlarmStore(s)
    pg = PostgresStore(postgis(), schema=str(where))
    return pg, PostgresAlarmStore(pg)


@dataclass
class Db:
    store: Store
    alarms: AlarmStore
    org_a: int
    org_b: int
    tanker: int  # org A, device 1001
    coach: int  # org B, device 1003
    kind: str = "sqlite"  # or "postgres"
    where: str | Path = ""  # the SQLite file or the PostgreSQL schema

    def reconnect(self) -> tuple[Store, AlarmStore]:
        """Another store object over the same database (as after a restart); not yet open."""
        return stores(self.kind, self.where)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    kind = request.param
    where: str | Path = tmp_path / "store.db" if kind == "sqlite" else unique("alarms")
    store, alarms = stores(kind, where)
    await store.open()
    try:
        a = await store.add_organisation("鲁中危险品运输")
        b = await store.add_organisation("长途客运集团")
        tanker = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=a,
                                                 device_id="1001"))
        coach = await store.add_vehicle(Vehicle(id=0, plate="鲁C6K888", vehicle_type="coach", org_id=b,
                                                device_id="1003"))
        yield Db(store, alarms, a, b, tanker, coach, kind, where)
    finally:
        await store.close()
        if kind == "postgres":
            await drop_schema(str(where))


def event(db: Db, key: str, phase: str, minute: float, *, end_minute: float | None = None,
          alarm_type: str = "overspeed", category: str = "driving", severity: Severity = Severity.MEDIUM,
          vehicle: str = "tanker", retracted: bool = False, **details: Any) -> AlarmEvent:
    vid, dev, org = (db.tanker, "1001", db.org_a) if vehicle == "tanker" else (db.coach, "1003", db.org_b)
    return AlarmEvent(key=key, vehicle_id=vid, device_id=dev, org_id=org, alarm_type=alarm_type,
                      category=category,  # type: ignore[arg-type]
                      phase=phase,  # type: ignore[arg-type]
                      severity=severity, start_time=T0 + timedelta(minutes=minute),
                      end_time=T0 + timedelta(minutes=end_minute) if end_minute is not None else None,
                      lat=36.8, lon=118.05, details=details, retracted=retracted)
