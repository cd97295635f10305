"""Overspeed (超速) and its pre-warning (超速预警).

The limit at a report is the lowest of: the vehicle type's limit for the road
class of the fences it is in (``"default"`` where no fence gives a class — hazmat
vehicles 60 km/h, 80 km/h inside an ``expressway`` fence), the ``speed_limit_kmh``
of the fences it is in, and the limit of the corridor section it is on.

An episode is a run of consecutive over-limit reports lasting at least
``min_duration_s`` (first to last over-limit report); it ends at the first report
back within the limit, or at the last over-limit report when the next report is
more than ``max_gap_s`` later. The pre-warning is the same over the band just
below the limit: a report is in one class only (over, band, or neither).
"""

from __future__ import annotations

from dataclasses import dataclass

from icvcloud.model.alarms import Severity

from ..episodes import Episode, new_episode
from ..step import Step, limit_for
from ..timeutil import US
from .keys import key


@dataclass(slots=True)
class Run:
    start: int
    last: int
    peak_kmh: float
    peak_over_pct: float
    limit_kmh: float
    source: str
    lat: float
    lon: float
    ep: Episode | None = None


@dataclass(slots=True)
class OverspeedState:
    over: Run | None = None
    warn: Run | None = None


def limit_at(x: Step) -> tuple[float, str] | None:
    """The limit at this report and where it comes from."""
    if not x.inside and not x.limits:
        return x.c.default_limit  # no fence or section here: the vehicle type's limit
    return limit_for(x.c.type_limits, x.inside, x.limits)


def _severity(over_pct: float, x: Step) -> Severity:
    cfg = x.rules.overspeed
    if over_pct >= cfg.critical_over_pct:
        return Severity.CRITICAL
    if over_pct >= cfg.high_over_pct:
        return Severity.HIGH
    return Severity.MEDIUM


def _close(run: Run, end: int, x: Step) -> None:
    ep = run.ep
    if ep is None:
        return
    ep.close(end)
    ep.details.update({
        "peak_speed_kmh": run.peak_kmh,
        "peak_over_pct": round(run.peak_over_pct, 1),
        "duration_s": (ep.end_us - ep.start_us) / US if ep.end_us is not None else 0.0,
    })
    x.book.touch(ep)


def _advance(run: Run | None, active: bool, lim: tuple[float, str] | None, x: Step, alarm_type: str) -> Run | None:
    cfg = x.rules.overspeed
    s = x.s
    t = s.t
    gap = cfg.max_gap_s * US
    if run is not None and (not active or t - run.last > gap):
        _close(run, t if t - run.last <= gap else run.last, x)
        run = None
    if not active or lim is None:
        return None
    limit, source = lim
    pct = (s.speed - limit) / limit * 100 if limit > 0 else 0.0
    if run is None:
        run = Run(t, t, s.speed, pct, limit, source, s.lat, s.lon)
    else:
        run.last = t
        run.peak_kmh = max(run.peak_kmh, s.speed)
        run.peak_over_pct = max(run.peak_over_pct, pct)
    warning = alarm_type == "overspeed.warning"
    if run.ep is None:
        if run.last - run.start >= cfg.min_duration_s * US:
            sev = Severity.LOW if warning else _severity(run.peak_over_pct, x)
            run.ep = new_episode(key(x.v.vehicle_id, alarm_type, run.start), alarm_type, "driving", sev, run.start,
                                 run.lat, run.lon,
                                 {"limit_kmh": run.limit_kmh, "limit_source": run.source,
                                  "speed_kmh": run.peak_kmh, "peak_speed_kmh": run.peak_kmh})
            x.book.touch(run.ep)
    elif not warning:
        sev = _severity(run.peak_over_pct, x)
        if sev > run.ep.severity:
            run.ep.severity = int(sev)
            x.book.touch(run.ep)
    return run


def step(st: OverspeedState | None, x: Step) -> OverspeedState | None:
    """Fold the report in; the state to keep (None while neither run is on)."""
    if not x.speed_ok or not x.loc_ok:
        return st
    cfg = x.rules.overspeed
    lim = limit_at(x) if cfg.enabled else None
    if lim is None and st is None:
        return None  # no limit here (e.g. a bus off classified roads) and nothing open
    v = x.s.speed
    over = lim is not None and v > lim[0]
    band = cfg.warning_band_kmh
    warn = lim is not None and band > 0 and not over and v > lim[0] - band
    if st is None:
        if not over and not warn:
            return None  # the common case: under the limit and its band
        st = OverspeedState()
    if st.over is not None or over:
        st.over = _advance(st.over, over, lim, x, "overspeed")
    if st.warn is not None or warn:
        st.warn = _advance(st.warn, warn, lim, x, "overspeed.warning")
    return st if st.over is not None or st.warn is not None else None
