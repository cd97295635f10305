"""The report queries over the scale-out store's PostgreSQL database (shares
:class:`PostgresStore`'s pool). The SQL is :mod:`.reports_base`'s; here are
PostgreSQL's spellings: times are timestamptz, local days by date arithmetic.

A period's positions are read by device time, so only the day partitions of the
period (and the margins :func:`~.reports_base.facts_sql` links across) are
scanned, each through its (device, device time) key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from .base import Scope
from .postgres import PostgresStore
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


def _same(t: datetime) -> datetime:
    return t


POSTGRES = Dialect(
    suffix="",
    seconds=lambda c: f"EXTRACT(EPOCH FROM {c})::float8",
    day=lambda c, offset_s: (f"((({c} AT TIME ZONE 'UTC') + {offset_s}::float8 * interval '1 second')::date "
                             "- DATE '1970-01-01')"),
    flagged_time="(p.extras -> 'invalid_device_time') IS NOT NULL",
    greatest="GREATEST",
    real=lambda placeholder: f"{placeholder}::float8",
    time_value=_same,
    plus_seconds=lambda c, s: f"({c} + {s}::float8 * interval '1 second')",
)


class PostgresReportStore(ReportStore):
    def __init__(self, store: PostgresStore, *, work_mem: str = "64MB") -> None:
        self.store = store
        #: For the facts query's sorts (a chunk's records), so they stay in memory.
        self.work_mem = work_mem

    async def report_vehicles(self, scope: Scope, first: date, last: date, rules: FactRules,
                              org_id: int | None = None) -> list[ReportVehicle]:
        start, _ = period_bounds(first, last, rules)
        b = Binds(arrays=True)
        rows = await self.store.pool.fetch(vehicles_sql(POSTGRES, b, scope, start, org_id), *b.values)
        return [report_vehicle(tuple(r), first, last, rules, _same) for r in rows]

    async def vehicle_days(self, scope: Scope, vehicle_ids: Sequence[int], first: date, last: date,
                           rules: FactRules, now: datetime) -> list[VehicleDay]:
        if not vehicle_ids:
            return []
        start, end = period_bounds(first, last, rules)
        fb, ab = Binds(arrays=True), Binds(arrays=True)
        facts = facts_sql(POSTGRES, fb, scope, vehicle_ids, start, end, rules)
        alarms = alarms_sql(POSTGRES, ab, scope, vehicle_ids, start, end, rules, now)
        async with self.store.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            await conn.execute("SELECT set_config('work_mem', $1, true)", self.work_mem)
            fact_rows = await conn.fetch(facts, *fb.values)
            alarm_rows = await conn.fetch(alarms, *ab.values)
        return merge_rows([tuple(r) for r in fact_rows], [tuple(r) for r in alarm_rows])
