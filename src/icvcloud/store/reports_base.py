"""The report side of the store: the facts compliance reports (合规考核报表) are made
of — per vehicle and Beijing calendar day — gathered from the positions, alarms and
registry tables, and the SQL both implementations share to gather them.

A fact row is already an aggregate: the positions are classified (qualified or
not, and why), linked into track steps and summed in SQL, so a month of a city's
fleet comes back as one row per vehicle and day, never as positions. What the
facts mean is :class:`FactRules`'s docstring; what is made of them,
:mod:`icvcloud.reports.metrics`.

Every read takes a :class:`Scope` on the vehicle's organisation (architecture
rule 6): reports attribute a vehicle's positions and alarms to the organisation
the vehicle belongs to now, as tracks do.
"""

# SQL here is assembled only from constant fragments, column names chosen by the
# dialect and placeholders from :class:`Binds`; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .alarm_logic import EARTH_KM, HANDLED_BY
from .base import Scope

#: Day numbers in SQL count days since this date.
EPOCH_DAY = date(1970, 1, 1)

#: China with its islands, a little generous (the engine's data-quality rule uses
#: the same box, ``engine/geo.py: CHINA_BOUNDS``; a test keeps them equal).
CHINA_BOUNDS = (73.4, 3.8, 135.2, 53.6)  # min lon, min lat, max lon, max lat


@dataclass(frozen=True, slots=True)
class FactRules:
    """How stored records become facts. Every threshold is configurable; the
    defaults are written here and in docs/reports.md.

    **Records and their day.** A record is one stored position; it belongs to the
    Beijing calendar day (UTC + ``utc_offset_h``) of its *device* time.

    **Qualified record (合格数据).** A record is unqualified when any rule fails:

    * ``position`` — the coordinates lie outside China (``china_bounds``; zero
      coordinates are outside too);
    * ``time`` — the terminal flagged an impossible clock (stored under the receive
      time with ``extras.invalid_device_time``), or the device time is more than
      ``max_future_s`` after the receive time, or more than ``max_delay_s`` before it
      (back-filled reports are normal; a week late is not);
    * ``speed`` — outside 0…``max_speed_kmh``;
    * ``heading`` — outside 0…359;
    * ``altitude`` — outside ``min_altitude_m``…``max_altitude_m``;
    * ``no_fix`` — the status word's "positioned" bit (bit 1) is clear
      (``require_fix``);
    * ``drift`` — a single-point jump (漂移): among the records that pass the rules
      above, one that is *implausible* both from the one before and to the one after.

    **Steps and implausibility.** Consecutive qualified records of a vehicle (by
    device time, sequence, item) no more than ``link_s`` apart form a step, dated at
    its later record. A step is implausible when it is longer than ``min_jump_km``
    and implies more than ``jump_kmh`` (or takes no time).

    **Mileage** is the length of the plausible steps (the local equirectangular
    distance, as the engine's); the implausible ones (a drift that did not come
    back, a relocation) add nothing.
    **Complete mileage** counts only steps no longer than ``max_gap_s`` in time and
    ``max_step_km`` in distance; a longer one is track missing (轨迹不完整).
    **Running time** sums the plausible steps no longer than ``max_gap_s`` in which
    either end reports at least ``moving_kmh``.

    **Alarms** count on the Beijing day their first episode started (device time);
    retracted ones never. Overspeed and fatigue alarms are those whose type is one
    of ``overspeed_types`` / ``fatigue_types`` (``overspeed.warning``, a
    pre-warning, is not). An alarm *needs handling* when its category is one of
    ``handling_categories`` and its severity is at least ``handling_min_severity``;
    its deadline is the supervision order's (督办) when one was issued, else its
    creation (receive clock) plus ``handling_deadline_s``. It is *due* once handled
    or once its deadline has passed, and *handled in time* when it is handled and
    the handling step that closed it (text to the driver, phone call, false alarm)
    came by the deadline.
    """

    utc_offset_h: float = 8.0
    china_bounds: tuple[float, float, float, float] = CHINA_BOUNDS
    max_future_s: float = 300.0
    max_delay_s: float = 7 * 86400.0
    max_speed_kmh: float = 160.0
    min_altitude_m: float = -500.0
    max_altitude_m: float = 9000.0
    require_fix: bool = True
    jump_kmh: float = 180.0
    min_jump_km: float = 0.3
    link_s: float = 4 * 3600.0
    max_gap_s: float = 300.0
    max_step_km: float = 2.0
    moving_kmh: float = 5.0
    overspeed_types: tuple[str, ...] = ("overspeed",)
    fatigue_types: tuple[str, ...] = ("fatigue.continuous", "fatigue.daily", "fatigue.night")
    handling_categories: tuple[str, ...] = ("driving", "fence", "terminal", "active_safety")
    handling_min_severity: int = 2
    handling_deadline_s: float = 30 * 60.0

    def day_start(self, day: date) -> datetime:
        """The UTC instant a local day begins."""
        return datetime.combine(day, time(), tzinfo=UTC) - timedelta(hours=self.utc_offset_h)

    def local_day(self, t: datetime) -> date:
        return (t.astimezone(UTC) + timedelta(hours=self.utc_offset_h)).date()


@dataclass(frozen=True, slots=True)
class ReportVehicle:
    """A registered vehicle (the registry as it is now: it has no history) and when
    its terminal is known to have reached the platform."""

    vehicle_id: int
    plate: str
    org_id: int | None
    vehicle_type: str
    has_terminal: bool
    #: The first day of the period on which the terminal had contacted the platform
    #: by the registry's and live state's evidence (registration time, last message,
    #: a stored position before the period: the period's first day); None if nothing
    #: shows contact by the period's end. Records in the period are evidence too,
    #: added by :func:`icvcloud.reports.metrics.summarise`.
    contact_day: date | None


@dataclass(slots=True, kw_only=True)
class Counts:
    """What is counted per vehicle and day and summed over periods: records and their
    defects, distance, running time, alarms (see :class:`FactRules`)."""

    records: int = 0
    qualified: int = 0
    bad_position: int = 0
    bad_time: int = 0
    bad_speed: int = 0
    bad_heading: int = 0
    bad_altitude: int = 0
    no_fix: int = 0
    drift_points: int = 0
    mileage_km: float = 0.0
    complete_km: float = 0.0
    running_s: float = 0.0
    overspeed_alarms: int = 0
    fatigue_alarms: int = 0
    alarms_due: int = 0
    alarms_in_time: int = 0

    def add_counts(self, other: Counts) -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Counts))


@dataclass(slots=True)
class VehicleDay(Counts):
    """One vehicle's facts on one local day (the counters are keyword arguments)."""

    vehicle_id: int
    day: date
    jump_steps: int = 0

    @property
    def drifted(self) -> bool:
        """A drift point or an implausible step that day."""
        return self.drift_points > 0 or self.jump_steps > 0


class ReportStore(abc.ABC):
    @abc.abstractmethod
    async def report_vehicles(self, scope: Scope, first: date, last: date, rules: FactRules,
                              org_id: int | None = None) -> list[ReportVehicle]:
        """The scope's vehicles (of ``org_id`` only, if given), by ID, with their
        contact evidence for the local days ``first``…``last``."""

    @abc.abstractmethod
    async def vehicle_days(self, scope: Scope, vehicle_ids: Sequence[int], first: date, last: date,
                           rules: FactRules, now: datetime) -> list[VehicleDay]:
        """Facts of the given vehicles (those in scope) for each local day
        ``first``…``last`` on which they have records or alarms, by vehicle and day.
        ``now`` decides which alarms are due."""


# -- the SQL both stores share


class Binds:
    """The values bound to one statement; ``b(value)`` returns its numbered
    placeholder (``$n`` for PostgreSQL, ``?n`` for SQLite), so a fragment may be
    used twice and fragments may be built in any order."""

    def __init__(self, arrays: bool) -> None:
        self.arrays = arrays  # PostgreSQL: a list is one array parameter
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"{'$' if self.arrays else '?'}{len(self.values)}"

    def any_of(self, column: str, values: Sequence[Any]) -> str:
        if not values:
            return "1 = 0"
        if self.arrays:
            return f"{column} = ANY({self(list(values))})"
        return f"{column} IN ({', '.join(self(v) for v in values)})"

    def scope(self, scope: Scope, column: str) -> str:
        """The scope's condition on an organisation column."""
        return "1 = 1" if scope.org_ids is None else self.any_of(column, sorted(scope.org_ids))


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the stores' SQL."""

    suffix: str  # column-name suffix of times: "_us" (integer microseconds) or "" (timestamptz)
    #: A time column → float seconds since the epoch.
    seconds: Callable[[str], str]
    #: (time column, the placeholder of the UTC offset in seconds) → days since 1970-01-01, local.
    day: Callable[[str, str], str]
    #: A condition on positions ``p``: the terminal flagged an impossible clock.
    flagged_time: str
    #: The larger of two values: GREATEST or SQLite's two-argument max.
    greatest: str
    #: A float parameter's placeholder, typed where the dialect needs it.
    real: Callable[[str], str]
    #: A time (or a duration added to one) as bound for the time columns.
    time_value: Callable[[datetime], Any]
    #: ``column`` + seconds, in the time columns' form.
    plus_seconds: Callable[[str, str], str]


def to_day(n: int) -> date:
    return EPOCH_DAY + timedelta(days=int(n))


def period_bounds(first: date, last: date, rules: FactRules) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days ``first``…``last``."""
    return rules.day_start(first), rules.day_start(last + timedelta(days=1))


def _distance(lat0: str, lon0: str, lat1: str, lon1: str) -> str:
    """Kilometres between two points: the local equirectangular distance about their
    mid-latitude, as the engine measures GNSS jumps (``engine/geo.py``) — within a
    millimetre of the great circle over a few kilometres, exact along a meridian, and
    one cosine instead of the haversine's five trigonometric calls."""
    return (f"({EARTH_KM} * sqrt(power(radians({lat1} - {lat0}), 2) "
            f"+ power(radians({lon1} - {lon0}) * cos(radians(({lat0} + {lat1}) / 2)), 2)))")


def _implausible(d: Dialect, p: Binds, r: FactRules, dist: str, dt: str) -> str:
    """A link no more than ``link_s`` long (``dt`` seconds, NULL: no link) moving
    ``dist`` km: implausible when longer than ``min_jump_km`` and faster than
    ``jump_kmh`` (or in no time: then the speed bound is ≤ 0). One mention of
    ``dist``: the dialects evaluate an expression again at every mention."""
    return (f"({dt} IS NOT NULL AND {dt} <= {d.real(p(r.link_s))} AND {dist} > "
            f"{d.greatest}({d.real(p(r.min_jump_km))}, {d.real(p(r.jump_kmh))} * {dt} / 3600))")


#: The columns of :func:`facts_sql`'s rows, in order (after vehicle and day).
FACT_COLUMNS = ("records", "qualified", "bad_position", "bad_time", "bad_speed", "bad_heading", "bad_altitude",
                "no_fix", "drift_points", "mileage_km", "complete_km", "running_s", "jump_steps")


def facts_sql(d: Dialect, p: Binds, scope: Scope, vehicle_ids: Sequence[int], start: datetime, end: datetime,
              r: FactRules) -> str:
    """(vehicle, day, *FACT_COLUMNS) per vehicle and local day with records in
    [start, end). Records up to ``2 * link_s`` before and ``link_s`` after are read
    to link the period's first and last records as a longer period would (a drift
    verdict needs the neighbours' neighbours): a day's facts are the same whether it
    is reported alone or in a month.

    Two windows per vehicle: over the records that pass the field rules (partition
    ``ok``) to find single-point drifts, then over the qualified ones (``good``) for
    the steps. Everything is summed per vehicle and day in SQL."""
    t, rt = f"p.device_time{d.suffix}", f"p.received_at{d.suffix}"
    ts, rs = d.seconds(t), d.seconds(rt)
    lon0, lat0, lon1, lat1 = r.china_bounds
    margin = timedelta(seconds=r.link_s)
    no_fix = "(p.status & 2) = 0" if r.require_fix else "1 = 0"
    f = d.real
    raw = f"""
        SELECT v.id AS vid, {t} AS t, p.seq AS seq, p.item AS item, {ts} AS ts, p.lat AS lat, p.lon AS lon,
               p.speed_kmh AS spd, {d.day(t, p(r.utc_offset_h * 3600))} AS day,
               CASE WHEN p.lon BETWEEN {f(p(lon0))} AND {f(p(lon1))} AND p.lat BETWEEN {f(p(lat0))} AND {f(p(lat1))}
                    THEN 0 ELSE 1 END AS b_pos,
               CASE WHEN {d.flagged_time} OR {ts} > {rs} + {f(p(r.max_future_s))}
                         OR {ts} < {rs} - {f(p(r.max_delay_s))} THEN 1 ELSE 0 END AS b_time,
               CASE WHEN p.speed_kmh BETWEEN 0 AND {f(p(r.max_speed_kmh))} THEN 0 ELSE 1 END AS b_speed,
               CASE WHEN p.heading_deg BETWEEN 0 AND 359 THEN 0 ELSE 1 END AS b_heading,
               CASE WHEN p.altitude_m BETWEEN {f(p(r.min_altitude_m))} AND {f(p(r.max_altitude_m))}
                    THEN 0 ELSE 1 END AS b_alt,
               CASE WHEN {no_fix} THEN 1 ELSE 0 END AS b_fix
        FROM vehicles v JOIN positions p ON p.device_id = v.device_id
        WHERE {p.scope(scope, "v.org_id")} AND {p.any_of("v.id", vehicle_ids)}
          AND {t} >= {p(d.time_value(start - 2 * margin))} AND {t} < {p(d.time_value(end + margin))}"""
    step_km = _distance("qlat", "qlon", "lat", "lon")
    linked = f"good = 1 AND qts IS NOT NULL AND ts - qts <= {f(p(r.link_s))}"
    short = f"ds <= {f(p(r.max_gap_s))}"
    # h is materialised: its distances are computed once per record, not at each
    # mention in the sums below.
    return f"""
        WITH r AS ({raw}),
        a AS (SELECT r.*, CASE WHEN b_pos + b_time + b_speed + b_heading + b_alt + b_fix = 0 THEN 1 ELSE 0 END AS ok
              FROM r),
        b AS (SELECT a.*, ts - LAG(ts) OVER w AS dt_in, LAG(lat) OVER w AS plat, LAG(lon) OVER w AS plon,
                     LEAD(ts) OVER w - ts AS dt_out, LEAD(lat) OVER w AS nlat, LEAD(lon) OVER w AS nlon
              FROM a WINDOW w AS (PARTITION BY vid, ok ORDER BY t, seq, item)),
        c AS (SELECT b.*, CASE WHEN ok = 1
                                    AND {_implausible(d, p, r, _distance("plat", "plon", "lat", "lon"), "dt_in")}
                                    AND {_implausible(d, p, r, _distance("lat", "lon", "nlat", "nlon"), "dt_out")}
                               THEN 1 ELSE 0 END AS spike FROM b),
        e AS (SELECT c.*, ok - spike AS good FROM c),
        g AS (SELECT e.*, LAG(ts) OVER w AS qts, LAG(lat) OVER w AS qlat, LAG(lon) OVER w AS qlon,
                     LAG(spd) OVER w AS qspd
              FROM e WINDOW w AS (PARTITION BY vid, good ORDER BY t, seq, item)),
        h AS MATERIALIZED (
              SELECT vid, day, t, good, spike, b_pos, b_time, b_speed, b_heading, b_alt, b_fix, spd, qspd,
                     CASE WHEN {linked} THEN ts - qts END AS ds, {step_km} AS dk FROM g
              WHERE t >= {p(d.time_value(start))} AND t < {p(d.time_value(end))}),
        k AS (SELECT h.*, CASE WHEN {_implausible(d, p, r, "dk", "ds")} THEN 1 ELSE 0 END AS jumped FROM h)
        SELECT vid, day, COUNT(*), SUM(good), SUM(b_pos), SUM(b_time), SUM(b_speed), SUM(b_heading), SUM(b_alt),
               SUM(b_fix), SUM(spike),
               SUM(CASE WHEN ds IS NOT NULL AND jumped = 0 THEN dk ELSE 0 END),
               SUM(CASE WHEN ds IS NOT NULL AND jumped = 0 AND {short} AND dk <= {f(p(r.max_step_km))}
                        THEN dk ELSE 0 END),
               SUM(CASE WHEN ds IS NOT NULL AND jumped = 0 AND {short}
                             AND (spd >= {f(p(r.moving_kmh))} OR qspd >= {f(p(r.moving_kmh))}) THEN ds ELSE 0 END),
               SUM(jumped)
        FROM k
        GROUP BY vid, day"""


def alarms_sql(d: Dialect, p: Binds, scope: Scope, vehicle_ids: Sequence[int], start: datetime, end: datetime,
               r: FactRules, now: datetime) -> str:
    """(vehicle, day, overspeed, fatigue, due, handled in time) per vehicle and local
    day of the alarms that started in [start, end)."""
    s = d.suffix
    deadline = f"COALESCE(a.deadline{s}, {d.plus_seconds(f'a.created_at{s}', p(r.handling_deadline_s))})"
    handled_at = (f"(SELECT MAX(h.at{s}) FROM alarm_handling h WHERE h.alarm_id = a.id "
                  f"AND {p.any_of('h.action', sorted(HANDLED_BY))})")
    x = f"""
        SELECT a.vehicle_id AS vid, {d.day(f"a.start_time{s}", p(r.utc_offset_h * 3600))} AS day,
               CASE WHEN {p.any_of("a.alarm_type", r.overspeed_types)} THEN 1 ELSE 0 END AS over,
               CASE WHEN {p.any_of("a.alarm_type", r.fatigue_types)} THEN 1 ELSE 0 END AS fat,
               CASE WHEN {p.any_of("a.category", r.handling_categories)}
                         AND a.severity >= {p(r.handling_min_severity)} THEN 1 ELSE 0 END AS need,
               a.state AS state, {deadline} AS dl, {handled_at} AS done
        FROM alarms a JOIN vehicles v ON v.id = a.vehicle_id
        WHERE {p.scope(scope, "v.org_id")} AND {p.any_of("a.vehicle_id", vehicle_ids)}
          AND a.retracted = false AND a.start_time{s} >= {p(d.time_value(start))}
          AND a.start_time{s} < {p(d.time_value(end))}"""
    now_p = p(d.time_value(now))
    return f"""
        WITH x AS ({x})
        SELECT vid, day, SUM(over), SUM(fat),
               SUM(CASE WHEN need = 1 AND (state = 'handled' OR dl <= {now_p}) THEN 1 ELSE 0 END),
               SUM(CASE WHEN need = 1 AND state = 'handled' AND done <= dl THEN 1 ELSE 0 END)
        FROM x GROUP BY vid, day"""


def vehicles_sql(d: Dialect, p: Binds, scope: Scope, start: datetime, org_id: int | None) -> str:
    """(id, plate, org, type, device, registered, last message, a position before
    ``start``) of the scope's vehicles."""
    s = d.suffix
    cond = [p.scope(scope, "v.org_id")]
    if org_id is not None:
        cond.append(f"v.org_id = {p(org_id)}")
    before = p(d.time_value(start))
    return f"""
        SELECT v.id, v.plate, v.org_id, v.vehicle_type, v.device_id, dv.registered_at{s}, l.last_report_at{s},
               CASE WHEN v.device_id IS NOT NULL AND EXISTS (SELECT 1 FROM positions p WHERE p.device_id = v.device_id
                         AND p.device_time{s} < {before}) THEN 1 ELSE 0 END
        FROM vehicles v LEFT JOIN devices dv ON dv.device_id = v.device_id
        LEFT JOIN live_state l ON l.device_id = v.device_id
        WHERE {" AND ".join(cond)} ORDER BY v.id"""


def report_vehicle(row: Sequence[Any], first: date, last: date, rules: FactRules,
                   as_time: Callable[[Any], datetime]) -> ReportVehicle:
    """A :func:`vehicles_sql` row; ``as_time`` reads a stored time."""
    vid, plate, org_id, vtype, device, registered, last_seen, earlier = row
    start, end = period_bounds(first, last, rules)
    contact: date | None = None
    if device is not None:
        seen = [as_time(x) for x in (registered, last_seen) if x is not None]
        if earlier or any(x < start for x in seen):
            contact = first
        else:
            within = [rules.local_day(x) for x in seen if x < end]
            contact = min(within) if within else None
    return ReportVehicle(vehicle_id=int(vid), plate=plate, org_id=org_id, vehicle_type=vtype,
                         has_terminal=device is not None, contact_day=contact)


@dataclass
class _Merge:
    days: dict[tuple[int, date], VehicleDay] = field(default_factory=dict)

    def get(self, vid: Any, day: Any) -> VehicleDay:
        key = (int(vid), to_day(day))
        got = self.days.get(key)
        if got is None:
            got = self.days[key] = VehicleDay(key[0], key[1])
        return got


def merge_rows(fact_rows: Sequence[Sequence[Any]], alarm_rows: Sequence[Sequence[Any]]) -> list[VehicleDay]:
    """Facts and alarm counts as VehicleDay values, by vehicle and day."""
    m = _Merge()
    for row in fact_rows:
        vd = m.get(row[0], row[1])
        for name, value in zip(FACT_COLUMNS, row[2:], strict=True):
            setattr(vd, name, float(value or 0) if name.endswith(("_km", "_s")) else int(value or 0))
    for vid, day, over, fat, due, in_time in alarm_rows:
        vd = m.get(vid, day)
        vd.overspeed_alarms, vd.fatigue_alarms = int(over or 0), int(fat or 0)
        vd.alarms_due, vd.alarms_in_time = int(due or 0), int(in_time or 0)
    return [m.days[k] for k in sorted(m.days)]
