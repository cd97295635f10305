"""The report queries over the embedded store's SQLite database (shares
:class:`SqliteStore`'s reader pool). The SQL is :mod:`.reports_base`'s; here are
SQLite's spellings: times are integer microseconds, days integer division."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from .base import Scope
from .reports_base import (
    Binds,
    Dialect,
    FactRules,
    ReportStore,
    ReportVehicle,
    VehicleDay,
    alarms_sql,
    facts_sql,
    merge_rows,
    period_bounds,
    report_vehicle,
    vehicles_sql,
)
from .sqlite import SqliteStore, from_us, to_us


def _us(seconds: str) -> str:
    return f"CAST({seconds} * 1000000 AS INTEGER)"


SQLITE = Dialect(
    suffix="_us",
    seconds=lambda c: f"({c} / 1e6)",
    # Both operands integers: integer division, and times are after 1970.
    day=lambda c, offset_s: f"(({c} + {_us(offset_s)}) / 86400000000)",
    flagged_time="(p.extras IS NOT NULL AND json_type(p.extras, '$.invalid_device_time') IS NOT NULL)",
    greatest="max",
    real=lambda placeholder: placeholder,
    time_value=to_us,
    plus_seconds=lambda c, s: f"({c} + {_us(s)})",
)


class SqliteReportStore(ReportStore):
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def report_vehicles(self, scope: Scope, first: date, last: date, rules: FactRules,
                              org_id: int | None = None) -> list[ReportVehicle]:
        start, _ = period_bounds(first, last, rules)
        b = Binds(arrays=False)
        sql = vehicles_sql(SQLITE, b, scope, start, org_id)

        def run(db: sqlite3.Connection) -> list[Any]:
            return db.execute(sql, b.values).fetchall()

        return [report_vehicle(r, first, last, rules, from_us) for r in await self.store._read(run)]

    async def vehicle_days(self, scope: Scope, vehicle_ids: Sequence[int], first: date, last: date,
                           rules: FactRules, now: datetime) -> list[VehicleDay]:
        if not vehicle_ids:
            return []
        start, end = period_bounds(first, last, rules)
        fb, ab = Binds(arrays=False), Binds(arrays=False)
        facts = facts_sql(SQLITE, fb, scope, vehicle_ids, start, end, rules)
        alarms = alarms_sql(SQLITE, ab, scope, vehicle_ids, start, end, rules, now)

        def run(db: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
            return db.execute(facts, fb.values).fetchall(), db.execute(alarms, ab.values).fetchall()

        fact_rows, alarm_rows = await self.store._read(run)
        return merge_rows(fact_rows, alarm_rows)
