"""``icv bench reports``: how long a compliance report over a month takes, and how
that compares with merely reading the same positions.

A synthetic month is written into a fresh embedded store (SQLite, in a temporary
directory; ``--keep`` keeps it): ``--orgs`` enterprises share ``--vehicles``
vehicles, each driving ``--hours`` a day with a report every ``--interval`` s
along a straight line at ~40 km/h (a little jitter, now and then a gap or a bad
record, so the facts' rules have work to do). Then, in the same run:

* **report** — the enterprise report of the month, as ``GET /reports/enterprises``
  builds it (``reports.build.gather`` + ``enterprise_rows``): positions summed per
  vehicle and Beijing day in SQL, folded, scored, ranked;
* **baseline** — one SQL pass over the same positions that only counts them and
  sums their speeds (what reading the month costs at all).

Printed: records, seconds and records/s of each, the ratio, and what a city month
would take at that rate (``--city-records``, default 300 million: 10,000 vehicles
× 1,000 reports a day × 30 days); the last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import emit
from icvcloud.model import Position, Vehicle
from icvcloud.protocols.jt808.wire import CST
from icvcloud.reports.build import ReportSettings, enterprise_rows, gather
from icvcloud.reports.periods import Period
from icvcloud.reports.repository import report_store
from icvcloud.store.base import Scope
from icvcloud.store.sqlite import SqliteStore, to_us

BATCH = 20_000


def _positions(device: str, day: date, hours: float, interval_s: float, k: int) -> list[Position]:
    """One vehicle's day: from 07:00 Beijing, east at ~40 km/h, a report every ``interval_s``."""
    start = datetime.combine(day, datetime.min.time(), CST).replace(hour=7).astimezone(UTC)
    n = int(hours * 3600 / interval_s)
    lat = 36.6 + (k % 50) * 0.01
    out = []
    for i in range(n):
        if i % 997 == 500:
            continue  # now and then a missing report (a gap in the track)
        t = start + timedelta(seconds=i * interval_s)
        lon = 117.8 + (i * interval_s * 11.1 / 111_000) % 0.8
        speed = 0.0 if i % 50 < 3 else 40.0 + (i % 7)
        bad = i % 1999 == 1000  # now and then an invalid record
        out.append(Position(device_id=device, device_time=t, seq=i & 0xFFFF, received_at=t + timedelta(seconds=1),
                            lat=0.0 if bad else lat, lon=0.0 if bad else lon, speed_kmh=speed, heading_deg=90,
                            status=0b11, mileage_km=None))
    return out


async def _seed(store: SqliteStore, vehicles: int, orgs: int, first: date, days: int, hours: float,
                interval_s: float) -> int:
    org_ids = [await store.add_organisation(f"运输企业{i + 1:02d}", "enterprise") for i in range(orgs)]
    written = 0
    pending: list[Position] = []
    for k in range(vehicles):
        device = f"1390000{k:05d}"
        await store.add_vehicle(Vehicle(id=0, plate=f"鲁C{k:05d}", vehicle_type="hazmat_tanker",
                                        org_id=org_ids[k % orgs], device_id=device))
        for d in range(days):
            pending += _positions(device, first + timedelta(days=d), hours, interval_s, k)
            if len(pending) >= BATCH:
                await store.write_positions(pending)
                written += len(pending)
                pending = []
    if pending:
        await store.write_positions(pending)
        written += len(pending)
    return written


async def _baseline(store: SqliteStore, first: date, last: date) -> tuple[int, float]:
    lo = datetime.combine(first, datetime.min.time(), CST).astimezone(UTC)
    hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), CST).astimezone(UTC)

    def run(db: Any) -> tuple[int, float]:
        r = db.execute("SELECT COUNT(*), COALESCE(SUM(speed_kmh), 0) FROM positions "
                       "WHERE device_time_us >= ? AND device_time_us < ?", (to_us(lo), to_us(hi))).fetchone()
        return int(r[0]), float(r[1])

    return await store._read(run)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="icv-bench-reports-"))
    store = SqliteStore(work / "store.db")
    await store.open()
    try:
        first = date(2026, 3, 1)
        p = Period(first, first + timedelta(days=args.days - 1))
        t0 = time.perf_counter()
        written = await _seed(store, args.vehicles, args.orgs, first, args.days, args.hours, args.interval)
        seed_s = time.perf_counter() - t0
        print(f"seeded {written:,} positions of {args.vehicles} vehicles × {args.days} days in {seed_s:.1f} s",
              flush=True)
        settings = ReportSettings(clock=lambda: datetime(2026, 4, 2, tzinfo=UTC))
        runs: dict[str, list[float]] = {"report": [], "baseline": []}
        rows: list[dict[str, Any]] = []
        counted = 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            data = await gather(store, report_store(store), Scope.all(), p, settings)
            rows = enterprise_rows(data, settings.weights)
            runs["report"].append(time.perf_counter() - t)
            t = time.perf_counter()
            counted, _ = await _baseline(store, p.first, p.last)
            runs["baseline"].append(time.perf_counter() - t)
        report_s, baseline_s = min(runs["report"]), min(runs["baseline"])
        records = sum(int(r["records"]) for r in rows)
        figures = {
            "vehicles": args.vehicles, "days": args.days, "positions": written, "report_records": records,
            "baseline_records": counted, "seed_s": round(seed_s, 2), "report_s": round(report_s, 3),
            "baseline_s": round(baseline_s, 3), "report_records_per_s": round(records / report_s),
            "baseline_records_per_s": round(counted / baseline_s) if baseline_s > 0 else None,
            "ratio_to_baseline": round(report_s / baseline_s, 1) if baseline_s > 0 else None,
            "city_records": args.city_records,
            "city_month_s": round(args.city_records / (records / report_s)) if records else None,
            "enterprises": len(rows),
        }
        print(f"report    {records:,} records in {report_s:.2f} s = {figures['report_records_per_s']:,}/s "
              f"(best of {args.repeat})")
        print(f"baseline  {counted:,} records counted in {baseline_s:.2f} s = "
              f"{figures['baseline_records_per_s']:,}/s; the report costs ×{figures['ratio_to_baseline']}")
        city = figures["city_month_s"]
        if city is not None:
            print(f"a city month of {args.city_records:,} records at this rate: ~{city / 60:.0f} min "
                  f"(measured here, scaled linearly: not a measurement of a city)")
        return figures
    finally:
        await store.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="icv bench reports", description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, default=100)
    ap.add_argument("--orgs", type=int, default=5)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--hours", type=float, default=8.0, help="driving hours a day")
    ap.add_argument("--interval", type=float, default=60.0, help="seconds between reports")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--city-records", type=int, default=300_000_000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    if args.vehicles < 1 or args.orgs < 1 or not 1 <= args.days <= 366 or not math.isfinite(args.interval) \
            or args.interval <= 0:
        ap.error("vehicles, orgs ≥ 1; days 1–366; interval > 0")
    emit(asyncio.run(main_async(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
