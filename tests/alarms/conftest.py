"""A real SqliteStore with the alarm repository over it, two enterprises and their vehicles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from icvcloud.model import Vehicle
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@dataclass
class Db:
    store: SqliteStore
    alarms: SqliteAlarmStore
    org_a: int
    org_b: int
    tanker: int  # org A, device 1001
    coach: int  # org B, device 1003


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Db]:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        a = await store.add_organisation("鲁中危险品运输")
        b = await store.add_organisation("长途客运集团")
        tanker = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=a,
                                                 device_id="1001"))
        coach = await store.add_vehicle(Vehicle(id=0, plate="鲁C6K888", vehicle_type="coach", org_id=b,
                                                device_id="1003"))
        yield Db(store, SqliteAlarmStore(store), a, b, tanker, coach)
    finally:
        await store.close()


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
