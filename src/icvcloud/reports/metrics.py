"""The supervision metrics (考核指标), computed from per-vehicle, per-day facts
(:class:`~icvcloud.store.reports_base.VehicleDay`; what a record, a qualified record,
a step and a due alarm are is :class:`~icvcloud.store.reports_base.FactRules`).
Pure: no I/O.

Facts fold into a :class:`Tally` — plain sums over vehicles (and days) — from which
every rate follows; tallies add, so an enterprise's is the sum of its vehicles', a
region's the sum of its enterprises'. Definitions follow the platform's domain notes
(入网率, 上线率, 轨迹完整率, 数据合格率, 漂移车辆率, 超速/疲劳驾驶车辆率, 报警处理率); each
function's docstring says what it divides by what. A rate whose denominator is 0 is
None (not 0 and not 1: nothing was there to measure).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from icvcloud.store.reports_base import Counts, ReportVehicle, VehicleDay


@dataclass(slots=True)
class Tally:
    """Sums over vehicles and days. For a period, a vehicle counts once in the
    vehicle counts (``online``: it was online on some day); for one day, the period
    is that day."""

    vehicles: int = 0  # registered
    networked: int = 0  # its terminal had reached the platform by the period's end
    online: int = 0  # at least one qualified record in the period
    networked_days: int = 0  # vehicle-days networked
    online_days: int = 0  # vehicle-days with a qualified record
    records: int = 0
    qualified: int = 0
    mileage_km: float = 0.0
    complete_km: float = 0.0
    running_s: float = 0.0
    drift_vehicles: int = 0
    overspeed_vehicles: int = 0
    fatigue_vehicles: int = 0
    overspeed_alarms: int = 0
    fatigue_alarms: int = 0
    alarms_due: int = 0
    alarms_in_time: int = 0

    def add(self, other: Tally) -> None:
        for name in _TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_TALLY_FIELDS = tuple(f.name for f in fields(Tally))


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def network_rate(t: Tally) -> float | None:
    """入网率: vehicles whose terminal had reached the platform (registered, sent a
    message or a position) by the end of the period ÷ registered vehicles."""
    return ratio(t.networked, t.vehicles)


def online_rate(t: Tally) -> float | None:
    """上线率: networked vehicles that sent at least one qualified position in the
    period ÷ networked vehicles (domain notes; the national assessment's definition,
    a vehicle online on any day of a month is online for the month). For a day
    report, the day's rate."""
    return ratio(t.online, t.networked)


def online_day_rate(t: Tally) -> float | None:
    """Daily-average 上线率, as some provinces score it: vehicle-days with a qualified
    position ÷ vehicle-days networked (a vehicle networked mid-period counts from
    the day it was). Equal to :func:`online_rate` for one day."""
    return ratio(t.online_days, t.networked_days)


def track_completeness(t: Tally) -> float | None:
    """轨迹完整率: mileage of complete track ÷ total mileage, both from the steps
    between consecutive qualified positions; a step longer in time or distance than
    the thresholds is track missing (its straight-line length counts in the total
    only)."""
    return ratio(t.complete_km, t.mileage_km)


def data_qualification(t: Tally) -> float | None:
    """数据合格率: qualified position records ÷ all position records (the rules:
    FactRules — coordinates, time, speed, heading, altitude, fix, drift)."""
    return ratio(t.qualified, t.records)


def drift_rate(t: Tally) -> float | None:
    """漂移车辆率: online vehicles with a drift point or an implausible step ÷ online
    vehicles."""
    return ratio(t.drift_vehicles, t.online)


def overspeed_per_100(t: Tally) -> float | None:
    """超速车辆数/百车: vehicles with at least one overspeed alarm in the period per 100
    online vehicles."""
    return ratio(100 * t.overspeed_vehicles, t.online)


def fatigue_per_100(t: Tally) -> float | None:
    """疲劳驾驶车辆数/百车: vehicles with at least one fatigue-driving alarm in the
    period per 100 online vehicles."""
    return ratio(100 * t.fatigue_vehicles, t.online)


def alarm_handling_rate(t: Tally) -> float | None:
    """报警处理率: alarms needing handling that were handled by their deadline ÷ those
    due (handled, or past their deadline) — an alarm still within its deadline counts
    in neither."""
    return ratio(t.alarms_in_time, t.alarms_due)


def running_h(t: Tally) -> float:
    """Running time in hours: steps in which the vehicle moved (FactRules)."""
    return t.running_s / 3600.0


@dataclass(frozen=True, slots=True)
class Rates:
    network_rate: float | None
    online_rate: float | None
    online_day_rate: float | None
    track_completeness: float | None
    data_qualification: float | None
    drift_rate: float | None
    overspeed_per_100: float | None
    fatigue_per_100: float | None
    alarm_handling_rate: float | None
    mileage_km: float
    running_h: float


def rates(t: Tally) -> Rates:
    return Rates(network_rate=network_rate(t), online_rate=online_rate(t), online_day_rate=online_day_rate(t),
                 track_completeness=track_completeness(t), data_qualification=data_qualification(t),
                 drift_rate=drift_rate(t), overspeed_per_100=overspeed_per_100(t),
                 fatigue_per_100=fatigue_per_100(t), alarm_handling_rate=alarm_handling_rate(t),
                 mileage_km=t.mileage_km, running_h=running_h(t))


@dataclass(slots=True)
class VehicleSummary(Counts):
    """One vehicle's facts over a period (local days ``first``…``last``)."""

    vehicle: ReportVehicle
    first: date
    last: date
    #: The first day the vehicle counts as networked: its contact evidence or its
    #: first day with records, whichever is earlier.
    networked_from: date | None = None
    online_days: int = 0
    drift_days: int = 0

    def __post_init__(self) -> None:
        self.networked_from = self.vehicle.contact_day

    def add(self, f: VehicleDay) -> None:
        """Fold one day's facts in (each day at most once)."""
        if f.records and (self.networked_from is None or f.day < self.networked_from):
            self.networked_from = f.day
        self.online_days += f.qualified > 0
        self.drift_days += f.drifted
        self.add_counts(f)

    def networked_on(self, day: date) -> bool:
        return self.networked_from is not None and self.networked_from <= day

    @property
    def networked(self) -> bool:
        return self.networked_on(self.last)

    @property
    def networked_days(self) -> int:
        if self.networked_from is None or self.networked_from > self.last:
            return 0
        return (self.last - max(self.networked_from, self.first)).days + 1

    def tally(self) -> Tally:
        """The vehicle's share of a period tally."""
        online = self.online_days > 0
        return Tally(vehicles=1, networked=int(self.networked), online=int(online),
                     networked_days=self.networked_days, online_days=self.online_days, records=self.records,
                     qualified=self.qualified, mileage_km=self.mileage_km, complete_km=self.complete_km,
                     running_s=self.running_s, drift_vehicles=int(online and self.drift_days > 0),
                     overspeed_vehicles=int(self.overspeed_alarms > 0), fatigue_vehicles=int(self.fatigue_alarms > 0),
                     overspeed_alarms=self.overspeed_alarms, fatigue_alarms=self.fatigue_alarms,
                     alarms_due=self.alarms_due, alarms_in_time=self.alarms_in_time)


def summarise(vehicle: ReportVehicle, facts: list[VehicleDay], first: date, last: date) -> VehicleSummary:
    s = VehicleSummary(vehicle, first, last)
    for f in facts:
        s.add(f)
    return s


def day_tally(s: VehicleSummary, f: VehicleDay | None, day: date) -> Tally:
    """A vehicle's share of one day's tally (``s`` holds all its facts, so whether it
    was networked that day is known)."""
    networked = int(s.networked_on(day))
    if f is None:
        return Tally(vehicles=1, networked=networked, networked_days=networked)
    online = int(f.qualified > 0)
    return Tally(vehicles=1, networked=networked, online=online, networked_days=networked, online_days=online,
                 records=f.records, qualified=f.qualified, mileage_km=f.mileage_km, complete_km=f.complete_km,
                 running_s=f.running_s, drift_vehicles=int(online == 1 and f.drifted),
                 overspeed_vehicles=int(f.overspeed_alarms > 0), fatigue_vehicles=int(f.fatigue_alarms > 0),
                 overspeed_alarms=f.overspeed_alarms, fatigue_alarms=f.fatigue_alarms, alarms_due=f.alarms_due,
                 alarms_in_time=f.alarms_in_time)
