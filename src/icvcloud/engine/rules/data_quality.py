"""Data quality: invalid reports (no fix, outside China, a device time in the future
or impossible, an impossible speed) and GNSS jumps (a displacement no vehicle can
make in the time between two reports). Findings are category ``data_quality`` —
counted for the data-qualification and drift rates, not shown as driving alarms —
and they decide whether the other rules may use the report's position and speed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from icvcloud.model.alarms import Severity

from ..episodes import Episode, new_episode
from ..geo import CHINA_BOUNDS, distance_m
from ..sample import Sample
from ..step import Step
from ..timeutil import US, from_us
from .keys import key

#: Run findings: one episode per run of consecutive reports with the same defect.
#: (A device time in the future is a point finding: such a report never enters the
#: vehicle's ordered window — see :func:`future_finding`.)
REASONS = ("invalid_time", "no_fix", "out_of_bounds", "invalid_speed")
_LON0, _LAT0, _LON1, _LAT1 = CHINA_BOUNDS


#: "No run open": one empty dict shared by every vehicle whose reports are fine (see
#: location.NO_FENCES); only :func:`_runs` changes a vehicle's runs, replacing this first.
NO_RUNS: dict[str, Episode] = {}


@dataclass(slots=True)
class DataQualityState:
    runs: dict[str, Episode] = field(default_factory=lambda: NO_RUNS)
    #: The last accepted position.
    a_t: int | None = None
    a_lon: float = 0.0
    a_lat: float = 0.0
    #: Reports that jumped away from it but agree with each other (a possible new place).
    c_t: int | None = None
    c_lon: float = 0.0
    c_lat: float = 0.0
    c_n: int = 0


def _plausible(t0: int, lon0: float, lat0: float, t1: int, lon1: float, lat1: float, jump_kmh: float,
               min_m: float) -> tuple[bool, float]:
    d = distance_m(lon0, lat0, lon1, lat1)
    if d <= min_m:
        return True, d
    return _speed_ok(t0, t1, d, jump_kmh), d


def _speed_ok(t0: int, t1: int, d: float, jump_kmh: float) -> bool:
    dt_s = (t1 - t0) / US
    return dt_s > 0 and d / dt_s * 3.6 <= jump_kmh


def step(st: DataQualityState, x: Step) -> None:
    cfg = x.rules.data_quality
    s = x.s
    lon, lat = s.lon, s.lat
    fixed = bool(s.status & 2)
    where_ok = _LON0 <= lon <= _LON1 and _LAT0 <= lat <= _LAT1  # in_china, inlined: it runs on every report
    speed_ok = 0.0 <= s.speed <= cfg.max_speed_kmh  # False for NaN
    if fixed and where_ok and speed_ok and not s.bad_time:
        x.loc_ok = x.speed_ok = True  # the common case: nothing wrong
        runs = st.runs
        if runs and cfg.enabled:
            _runs(st, x, [])
        elif runs is not NO_RUNS and not runs:
            st.runs = NO_RUNS  # (an empty dict of its own, rebuilt from a checkpoint)
    else:
        time_bad = s.bad_time
        x.loc_ok = fixed and where_ok and not time_bad
        x.speed_ok = speed_ok and not time_bad and fixed
        if cfg.enabled:
            bad: list[str] = []
            if time_bad:
                bad.append("invalid_time")
            if not fixed and cfg.report_no_fix:
                bad.append("no_fix")
            if not where_ok:
                bad.append("out_of_bounds")
            if not speed_ok:
                bad.append("invalid_speed")
            if bad or st.runs:
                _runs(st, x, bad)
        if not x.loc_ok:
            return

    a_t = st.a_t
    if a_t is None:
        st.a_t, st.a_lon, st.a_lat = s.t, lon, lat
        return
    d = distance_m(st.a_lon, st.a_lat, lon, lat)
    if d <= cfg.min_jump_m or _speed_ok(a_t, s.t, d, cfg.jump_kmh):  # _plausible, inlined
        st.a_t, st.a_lon, st.a_lat = s.t, lon, lat
        if st.c_t is not None or st.c_n:
            st.c_t, st.c_n = None, 0
        return
    # An impossible displacement from the last accepted position.
    if st.c_t is not None and _plausible(st.c_t, st.c_lon, st.c_lat, s.t, s.lon, s.lat, cfg.jump_kmh,
                                         cfg.min_jump_m)[0]:
        st.c_n += 1
    else:
        st.c_n = 1
        if cfg.enabled:
            dt_s = (s.t - a_t) / US
            ep = new_episode(
                key(x.v.vehicle_id, "data_quality.gnss_jump", s.t), "data_quality.gnss_jump", "data_quality",
                Severity.LOW, s.t, s.lat, s.lon,
                {"reason": "gnss_jump", "from_lon": st.a_lon, "from_lat": st.a_lat,
                 "from_time": from_us(a_t).isoformat(), "distance_m": round(d, 1),
                 "implied_kmh": round(d / dt_s * 3.6, 1) if dt_s > 0 else None},
                instant=True)
            x.book.touch(ep)
    st.c_t, st.c_lon, st.c_lat = s.t, s.lon, s.lat
    if st.c_n >= cfg.reanchor_after:
        # Several reports agree on the new place: the vehicle really is there.
        st.a_t, st.a_lon, st.a_lat = s.t, s.lon, s.lat
        st.c_t, st.c_n = None, 0
        return
    x.loc_ok = False


def _runs(st: DataQualityState, x: Step, bad: list[str]) -> None:
    """Open a run for each defect not yet open, end the runs of defects gone."""
    s = x.s
    if st.runs is NO_RUNS:
        st.runs = {}
    for r in bad:
        if r not in st.runs:
            ep = new_episode(key(x.v.vehicle_id, f"data_quality.{r}", s.t), f"data_quality.{r}", "data_quality",
                             Severity.LOW, s.t, _f(s.lat), _f(s.lon), {"reason": r})
            st.runs[r] = ep
            x.book.touch(ep)
    for r in list(st.runs):
        if r not in bad:
            ep = st.runs.pop(r)
            ep.close(s.t)
            x.book.touch(ep)
    if not st.runs:
        st.runs = NO_RUNS


def future_finding(s: Sample, vid: int) -> Episode:
    return new_episode(key(vid, "data_quality.future_time", s.t, s.seq, s.item), "data_quality.future_time",
                       "data_quality", Severity.LOW, s.t, _f(s.lat), _f(s.lon),
                       {"reason": "future_time", "received_at": from_us(s.recv).isoformat()}, instant=True)


def _f(v: float) -> float | None:
    return v if math.isfinite(v) else None
