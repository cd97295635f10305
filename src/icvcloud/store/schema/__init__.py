"""Schema history: numbered SQL files per dialect (``sqlite/0001_initial.sql``, …),
applied in order and recorded in ``schema_version``.

The SQLite and (later) PostgreSQL stores share the numbering, so version N means
the same logical schema in both.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The dialect's migrations, ascending; a gap or a duplicate number is a packaging bug."""
    found: list[Migration] = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mg: mg.version)
    if [mg.version for mg in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {[mg.version for mg in found]}")
    return found


def migrate_sqlite(db: sqlite3.Connection) -> list[int]:
    """Apply the SQLite migrations ``db`` lacks, each in its own transaction; returns the versions applied.

    ``db`` must be in autocommit mode (``isolation_level=None``) so the explicit
    BEGIN/COMMIT below are the only transaction boundaries.
    """
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
               "applied_at_us INTEGER NOT NULL)")
    have = {int(r[0]) for r in db.execute("SELECT version FROM schema_version")}
    known = migrations("sqlite")
    newest = known[-1].version if known else 0
    if have and max(have) > newest:
        raise RuntimeError(f"the database has schema version {max(have)}; this icvcloud knows up to {newest}")
    applied: list[int] = []
    for mg in known:
        if mg.version in have:
            continue
        # executescript commits any open transaction before it runs, so the BEGIN goes
        # inside the script; the version row then commits together with the DDL.
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{mg.sql}")
            db.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (mg.version, mg.name, time.time_ns() // 1000))
            db.execute("COMMIT")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        applied.append(mg.version)
    return applied
