"""Reports made from the store's facts: gather them for a scope and period, fold
them into per-vehicle summaries and per-organisation daily tallies, and lay out the
three reports' rows (enterprises with score and rank, vehicles, days).

Memory stays bounded by the fleet, not by its positions: the store sums positions
per vehicle and day in SQL, and the facts are asked for in chunks of vehicles and
runs of days, folded and dropped chunk by chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from icvcloud.model import Organisation
from icvcloud.store.base import Scope, Store
from icvcloud.store.reports_base import FactRules, ReportStore, VehicleDay

from . import metrics
from .metrics import Tally, VehicleSummary, day_tally
from .periods import Period
from .scoring import Weights, rank, score

#: One row of a report, keyed as its columns (``tables``).
Row = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReportSettings:
    """What a deployment may tune (``ApiServices.reports``; defaults otherwise)."""

    rules: FactRules = field(default_factory=FactRules)
    weights: Weights = field(default_factory=Weights)
    #: "Now", for which alarms are due and which month was the last complete one.
    clock: Callable[[], datetime] = _now
    #: Facts are asked for this many vehicles and days at a time, this many chunks
    #: at once (PostgreSQL runs them on as many connections; SQLite on its readers).
    chunk_vehicles: int = 200
    chunk_days: int = 7
    parallel: int = 4

    def today(self) -> date:
        return self.rules.local_day(self.clock())


@dataclass
class ReportData:
    period: Period
    organisations: dict[int, Organisation]
    vehicles: list[VehicleSummary]
    #: Per organisation (None: vehicles of none) and day; empty unless asked for.
    days: dict[int | None, dict[date, Tally]]


def _chunks(ids: Sequence[int], n: int) -> list[Sequence[int]]:
    return [ids[i : i + n] for i in range(0, len(ids), n)]


async def gather(core: Store, store: ReportStore, scope: Scope, period: Period, settings: ReportSettings, *,
                 org_id: int | None = None, daily: bool = False) -> ReportData:
    """Every vehicle of the scope (of ``org_id`` only, if given) summarised over the
    period, and (``daily``) each organisation's tally per day."""
    rules = settings.rules
    now = settings.clock()
    orgs = {o.id: o for o in await core.list_organisations(scope)}
    listed = await store.report_vehicles(scope, period.first, period.last, rules, org_id)
    summaries = {v.vehicle_id: VehicleSummary(v, period.first, period.last) for v in listed}
    days: dict[int | None, dict[date, Tally]] = {}
    dates = period.dates()
    with_terminal = [v.vehicle_id for v in listed if v.has_terminal]
    gate = asyncio.Semaphore(max(1, settings.parallel))

    async def facts_of(chunk: Sequence[int]) -> tuple[Sequence[int], list[VehicleDay]]:
        async with gate:
            facts: list[VehicleDay] = []
            for first, last in period.spans(max(1, settings.chunk_days)):
                facts += await store.vehicle_days(scope, chunk, first, last, rules, now)
            return chunk, facts

    # Folded as they come: at most ``parallel`` chunks of facts are held at a time.
    for done in asyncio.as_completed([facts_of(c) for c in _chunks(with_terminal, max(1, settings.chunk_vehicles))]):
        chunk, facts = await done
        for f in facts:
            summaries[f.vehicle_id].add(f)
        if daily:
            by_key = {(f.vehicle_id, f.day): f for f in facts}
            for vid in chunk:
                _add_days(days, summaries[vid], dates, by_key)
    if daily:
        for v in listed:
            if not v.has_terminal:
                _add_days(days, summaries[v.vehicle_id], dates, {})
    return ReportData(period, orgs, list(summaries.values()), days)


def _add_days(days: dict[int | None, dict[date, Tally]], s: VehicleSummary, dates: list[date],
              facts: dict[tuple[int, date], VehicleDay]) -> None:
    per_day = days.setdefault(s.vehicle.org_id, {})
    vid = s.vehicle.vehicle_id
    for d in dates:
        per_day.setdefault(d, Tally()).add(day_tally(s, facts.get((vid, d)), d))


# -- rows

def _r(v: float | None, decimals: int) -> float | None:
    return None if v is None else round(v, decimals)


def figures(t: Tally) -> Row:
    """The metrics of a tally as report columns: rates as fractions 0…1 (None when
    the denominator is 0), per-100 figures, kilometres and hours."""
    r = metrics.rates(t)
    return {
        "vehicles": t.vehicles, "networked": t.networked, "online": t.online,
        "network_rate": _r(r.network_rate, 6), "online_rate": _r(r.online_rate, 6),
        "online_day_rate": _r(r.online_day_rate, 6), "track_completeness": _r(r.track_completeness, 6),
        "data_qualification": _r(r.data_qualification, 6), "drift_rate": _r(r.drift_rate, 6),
        "overspeed_vehicles": t.overspeed_vehicles, "overspeed_per_100": _r(r.overspeed_per_100, 4),
        "fatigue_vehicles": t.fatigue_vehicles, "fatigue_per_100": _r(r.fatigue_per_100, 4),
        "alarms_due": t.alarms_due, "alarms_handled_in_time": t.alarms_in_time,
        "alarm_handling_rate": _r(r.alarm_handling_rate, 6), "records": t.records, "qualified": t.qualified,
        "mileage_km": round(t.mileage_km, 3), "running_h": round(r.running_h, 3),
    }


def enterprise_rows(data: ReportData, weights: Weights) -> list[Row]:
    """One row per enterprise of the scope (and any other organisation owning
    vehicles in it), with score and rank, best first; unscored ones last."""
    tallies: dict[int, Tally] = {oid: Tally() for oid, o in data.organisations.items() if o.kind == "enterprise"}
    for s in data.vehicles:
        oid = s.vehicle.org_id
        if oid is not None and oid in data.organisations:
            tallies.setdefault(oid, Tally()).add(s.tally())
    ids = sorted(tallies)
    scores = [score(metrics.rates(tallies[oid]), weights) for oid in ids]
    ranks = rank(scores)
    rows = [{"org_id": oid, "name": data.organisations[oid].name, **figures(tallies[oid]), "score": _r(sc, 2),
             "rank": rk} for oid, sc, rk in zip(ids, scores, ranks, strict=True)]
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["org_id"]))
    return rows


def day_rows(data: ReportData, org_id: int | None = None) -> list[Row]:
    """One row per day of the period: the organisation's, or everything gathered."""
    per_day: dict[date, Tally] = {d: Tally() for d in data.period.dates()}
    for oid, days in data.days.items():
        if org_id is None or oid == org_id:
            for d, t in days.items():
                per_day[d].add(t)
    return [{"day": d.isoformat(), **figures(t)} for d, t in sorted(per_day.items())]


def vehicle_rows(data: ReportData) -> list[Row]:
    rows: list[Row] = []
    for s in sorted(data.vehicles, key=lambda s: s.vehicle.vehicle_id):
        v, t = s.vehicle, s.tally()
        r = metrics.rates(t)
        org = data.organisations.get(v.org_id) if v.org_id is not None else None
        rows.append({
            "vehicle_id": v.vehicle_id, "plate": v.plate, "org_id": v.org_id, "org_name": org.name if org else None,
            "vehicle_type": v.vehicle_type, "networked": s.networked, "days": data.period.days,
            "networked_days": s.networked_days, "online_days": s.online_days, "records": s.records,
            "qualified": s.qualified, "data_qualification": _r(r.data_qualification, 6),
            "bad_position": s.bad_position, "bad_time": s.bad_time, "bad_speed": s.bad_speed,
            "bad_heading": s.bad_heading, "bad_altitude": s.bad_altitude, "no_fix": s.no_fix,
            "drift_points": s.drift_points, "track_completeness": _r(r.track_completeness, 6),
            "mileage_km": round(s.mileage_km, 3), "running_h": round(r.running_h, 3),
            "overspeed_alarms": s.overspeed_alarms, "fatigue_alarms": s.fatigue_alarms, "alarms_due": s.alarms_due,
            "alarms_handled_in_time": s.alarms_in_time, "alarm_handling_rate": _r(r.alarm_handling_rate, 6),
        })
    return rows
