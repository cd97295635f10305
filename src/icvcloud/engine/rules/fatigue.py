"""Fatigue driving (疲劳驾驶) and the coaches' 02:00–05:00 restriction.

Time between two consecutive reports counts as driving when the earlier report
was moving (speed ≥ ``moving_kmh``) and the silence is at most ``gap_as_rest_s``;
otherwise as standing. A standing period of at least ``rest_s`` is a rest: it
resets continuous driving and ends the fatigue episodes (at the moment the
vehicle stopped). Shorter stops neither count as driving nor reset.

* ``fatigue.continuous``: continuous driving beyond ``continuous_s`` (4 h); starts
  at the moment the limit was passed.
* ``fatigue.night``: for ``night_vehicle_types``, the continuous driving done inside
  the night window (22:00–06:00 Beijing time) beyond ``night_continuous_s`` (2 h);
  ends at the rest or when the night window ends.
* ``fatigue.daily``: cumulative driving beyond ``daily_s`` (8 h) in a rolling 24 h
  window (or the Beijing calendar day with ``daily_mode = "calendar_day"``); starts
  when the total passed the limit, ends at the next rest (or at midnight).
* ``night_driving.restricted``: for ``restricted_vehicle_types``, driving inside
  the 02:00–05:00 window on a road of a restricted class (a fence declaring it), or
  anywhere with ``restricted_everywhere``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from icvcloud.model.alarms import Severity
from icvcloud.model.fences import TimeWindow

from ..episodes import Episode, new_episode
from ..step import Step
from ..timeutil import DAY_US, US, Windows, from_us, local_day_start_us
from .keys import key

_WINDOWS: dict[TimeWindow, Windows] = {}


def _windows(w: TimeWindow) -> Windows:
    c = _WINDOWS.get(w)
    if c is None:
        c = _WINDOWS[w] = Windows([w])
    return c


@dataclass(slots=True)
class FatigueState:
    prev_t: int | None = None
    prev_moving: bool = False
    prev_restricted_road: bool = False
    #: Continuous driving since the last rest, and the part of it done at night (µs).
    cont: int = 0
    night: int = 0
    night_last: int = 0  # end of the latest night driving
    stint_start: int | None = None
    rest_start: int | None = None
    rested: bool = True
    #: Driving intervals [start, end] still inside the daily window, and their total length.
    drives: list[list[int]] = field(default_factory=list)
    drives_sum: int = 0
    day: int = 0  # calendar mode: the local day (its UTC start) being counted
    restr_last: int = 0
    cont_ep: Episode | None = None
    night_ep: Episode | None = None
    daily_ep: Episode | None = None
    restr_ep: Episode | None = None


def _open(x: Step, alarm_type: str, start: int, sev: Severity, details: dict[str, object]) -> Episode:
    lat, lon = (x.s.lat, x.s.lon) if x.loc_ok else (x.lat, x.lon)
    ep = new_episode(key(x.v.vehicle_id, alarm_type, start), alarm_type, "driving", sev, start, lat, lon, details)
    x.book.touch(ep)
    return ep


def _end(ep: Episode | None, t: int, x: Step, **details: object) -> None:
    if ep is not None:
        ep.close(t)
        ep.details.update(details)
        x.book.touch(ep)


def _daily_total(st: FatigueState, t: int, calendar: bool) -> int:
    """Driving within the daily window ending at ``t``, in O(1): the intervals kept are
    in time order, disjoint and end by ``t``, so once those that ended before the
    window are dropped, only the first can start before it."""
    lo = local_day_start_us(t) if calendar else t - DAY_US
    drives = st.drives
    while drives and drives[0][1] <= lo:
        a, b = drives.pop(0)
        st.drives_sum -= b - a
    if drives and drives[0][0] < lo:
        return st.drives_sum - (lo - drives[0][0])
    return st.drives_sum


def _drive(st: FatigueState, x: Step, a: int, b: int) -> None:
    cfg = x.rules.fatigue
    c = x.c
    if st.rested:
        st.rested = False
    if st.rest_start is not None:
        st.rest_start = None
    if st.stint_start is None:
        st.stint_start = a
    d = b - a
    lim = c.cont_us
    if st.cont_ep is None and st.cont + d > lim:
        st.cont_ep = _open(x, "fatigue.continuous", a + max(0, lim - st.cont), Severity.HIGH,
                           {"limit_s": cfg.continuous_s, "stint_start": from_us(st.stint_start).isoformat()})
    st.cont += d

    if c.night:
        nlim = c.night_us
        for p, q in _windows(cfg.night_window).pieces(a, b):
            nd = q - p
            if st.night_ep is None and st.night + nd > nlim:
                st.night_ep = _open(x, "fatigue.night", p + max(0, nlim - st.night), Severity.HIGH,
                                    {"limit_s": cfg.night_continuous_s,
                                     "stint_start": from_us(st.stint_start).isoformat()})
            st.night += nd
            st.night_last = q
        if st.night_ep is not None and st.night_last < b:
            _end(st.night_ep, st.night_last, x, night_driving_s=st.night / US, reason="night_ended")
            st.night_ep = None

    dlim = c.daily_us
    if not c.daily_calendar:
        # Rolling 24 h: the calendar loop below with its one piece, spelled out (every report of a driving vehicle).
        drives = st.drives
        if drives and drives[-1][1] == a:
            drives[-1][1] = b
        else:
            drives.append([a, b])
        st.drives_sum += d
        total = _daily_total(st, b, False)
        if st.daily_ep is None and total > dlim:
            st.daily_ep = _open(x, "fatigue.daily", max(a, b - (total - dlim)), Severity.MEDIUM,
                                {"limit_s": cfg.daily_s, "mode": cfg.daily_mode})
    else:
        _daily_calendar(st, x, a, b, dlim)

    if c.restricted and (cfg.restricted_everywhere or st.prev_restricted_road):
        rp = _windows(cfg.restricted_window).pieces(a, b)
        for p, q in rp:
            if st.restr_ep is not None and p > st.restr_last:
                _end(st.restr_ep, st.restr_last, x)
                st.restr_ep = None
            if st.restr_ep is None:
                st.restr_ep = _open(x, "night_driving.restricted", p, Severity.HIGH,
                                    {"window": [cfg.restricted_window.start, cfg.restricted_window.end]})
            st.restr_last = q
        if st.restr_ep is not None and st.restr_last < b:
            _end(st.restr_ep, st.restr_last, x)
            st.restr_ep = None
    elif st.restr_ep is not None:
        _end(st.restr_ep, a, x)
        st.restr_ep = None


def _daily_calendar(st: FatigueState, x: Step, a: int, b: int, dlim: int) -> None:
    """Daily driving counted per Beijing calendar day (the episode ends at midnight)."""
    cfg = x.rules.fatigue
    pieces = []
    p = a
    while p < b:
        q = min(b, local_day_start_us(p) + DAY_US)
        pieces.append((p, q))
        p = q
    for p, q in pieces:
        day = local_day_start_us(p)
        if day != st.day:
            if st.daily_ep is not None:
                _end(st.daily_ep, day, x, reason="day_ended")
                st.daily_ep = None
            st.day = day
        if st.drives and st.drives[-1][1] == p:
            st.drives[-1][1] = q
        else:
            st.drives.append([p, q])
        st.drives_sum += q - p
        total = _daily_total(st, q, True)
        if st.daily_ep is None and total > dlim:
            st.daily_ep = _open(x, "fatigue.daily", max(p, q - (total - dlim)), Severity.MEDIUM,
                                {"limit_s": cfg.daily_s, "mode": cfg.daily_mode})


def _stand(st: FatigueState, x: Step, a: int, b: int) -> None:
    if st.rest_start is None:
        st.rest_start = a
    if st.restr_ep is not None:
        _end(st.restr_ep, a, x)
        st.restr_ep = None
    if not st.rested and b - st.rest_start >= x.c.rest_us:
        r = st.rest_start
        _end(st.cont_ep, r, x, driven_s=st.cont / US, reason="rest")
        _end(st.night_ep, r, x, night_driving_s=st.night / US, reason="rest")
        _end(st.daily_ep, r, x, reason="rest")
        st.cont_ep = st.night_ep = st.daily_ep = None
        st.cont = st.night = 0
        st.stint_start = None
        st.rested = True


def step(st: FatigueState, x: Step) -> None:
    c = x.c
    if not c.fatigue or not x.speed_ok:
        return
    cfg = x.rules.fatigue
    t = x.s.t
    prev = st.prev_t
    if prev is None:
        st.prev_t = t
    elif t > prev:
        if st.prev_moving and t - prev <= c.gap_as_rest_us:
            _drive(st, x, prev, t)
        else:
            _stand(st, x, prev, t)
        st.prev_t = t
    st.prev_moving = x.s.speed >= cfg.moving_kmh
    if x.loc_ok:
        inside = x.inside
        if inside:
            classes = cfg.restricted_road_classes
            st.prev_restricted_road = any(cf.fence.road_class in classes for cf in inside.values())
        elif st.prev_restricted_road:
            st.prev_restricted_road = False
