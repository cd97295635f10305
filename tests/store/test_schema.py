"""Migrations and the schema's own checks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from icvcloud.model import VEHICLE_TYPES, Vehicle
from icvcloud.store.schema import migrate_sqlite, migrations
from icvcloud.store.sqlite import SqliteStore


def test_migrations_are_numbered_from_one() -> None:
    found = migrations("sqlite")
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "initial"


async def test_open_applies_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    for _ in range(2):
        s = SqliteStore(path)
        await s.open()
        await s.close()
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT version FROM schema_version")] == [m.version for m in migrations("sqlite")]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    migrate_sqlite(db)
    db.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    with pytest.raises(RuntimeError, match="999"):
        migrate_sqlite(db)
    db.close()


def test_a_failed_migration_leaves_no_trace(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    db.execute("CREATE TABLE organisations (x)")  # collides with 0001
    with pytest.raises(sqlite3.OperationalError):
        migrate_sqlite(db)
    assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'positions'").fetchone()[0] == 0
    db.close()


async def test_vehicle_type_check_matches_the_model(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "store.db")
    await s.open()
    try:
        for t in VEHICLE_TYPES:
            await s.add_vehicle(Vehicle(id=0, plate=t, vehicle_type=t))
        with pytest.raises(sqlite3.IntegrityError):
            await s.add_vehicle(Vehicle(id=0, plate="X", vehicle_type="spaceship"))
    finally:
        await s.close()
