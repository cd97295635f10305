from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from icvcloud.model import Position
from icvcloud.store.base import Store
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.sqlite import SqliteStore
from tests.services import drop_schema, postgis, unique

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def pos(device_id: str, minute: float, seq: int = 0, *, received_min: float | None = None, **kw: Any) -> Position:
    """A position ``minute`` minutes after T0 (received a second later unless told)."""
    t = T0 + timedelta(minutes=minute)
    received = T0 + timedelta(minutes=received_min) if received_min is not None else t + timedelta(seconds=1)
    kw.setdefault("lat", 36.8 + minute * 1e-4)
    kw.setdefault("lon", 118.0 + minute * 1e-4)
    return Position(device_id=device_id, device_time=t, seq=seq, received_at=received, **kw)


#: What a store raises for a broken constraint (unique, check, foreign key).
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """Every store test runs against both stores: SQLite (embedded) and PostgreSQL +
    PostGIS (scale-out, a schema of its own in the test database)."""
    s: Store
    schema = None
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "store.db")
    else:
        schema = unique("store")
        s = PostgresStore(postgis(), schema=schema)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
        if schema is not None:
            await drop_schema(schema)
