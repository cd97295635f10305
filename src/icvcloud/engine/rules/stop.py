"""Stopping too long (超时停车) outside permitted places: standing (speed below
``moving_kmh``) for more than ``max_stop_s`` where no fence with
``stop_permitted`` covers the place the vehicle stopped at. By default for
hazmat vehicles only (their stops belong in designated parking)."""

from __future__ import annotations

from dataclasses import dataclass

from icvcloud.model.alarms import Severity

from ..config import StopConfig
from ..episodes import Episode, new_episode
from ..step import Step
from ..timeutil import from_us, seconds
from .keys import key


@dataclass(slots=True)
class StopState:
    since: int | None = None
    lon: float | None = None
    lat: float | None = None
    permitted: bool = False
    ep: Episode | None = None


def _episode(vid: int, st: StopState, cfg: StopConfig) -> Episode:
    assert st.since is not None
    return new_episode(key(vid, "stop.too_long", st.since), "stop.too_long", "driving", Severity.MEDIUM,
                       st.since + seconds(cfg.max_stop_s), st.lat, st.lon,
                       {"stopped_at": from_us(st.since).isoformat(), "max_stop_s": cfg.max_stop_s})


def step(st: StopState | None, x: Step) -> StopState | None:
    """Fold the report in; the state to keep (None while moving)."""
    cfg = x.rules.stop
    if not x.c.stop or not x.speed_ok:
        return st
    t = x.s.t
    if x.s.speed < cfg.moving_kmh:
        if st is None:
            st = StopState()
        if st.since is None:
            st.since = t
            st.lon, st.lat = x.lon, x.lat
            st.permitted = any(cf.fence.stop_permitted for cf in x.inside.values())
        elif not st.permitted and x.inside:
            # A place can become permitted during the stop (a waybill issued while the
            # vehicle waits at its loading site makes the site a permitted stop for it).
            st.permitted = any(cf.fence.stop_permitted for cf in x.inside.values())
        if not st.permitted and st.ep is None and t - st.since >= x.c.max_stop_us:
            st.ep = _episode(x.v.vehicle_id, st, cfg)
            x.book.touch(st.ep)
        return st
    if st is not None and st.ep is not None:
        st.ep.close(t)
        x.book.touch(st.ep)
    return None  # moving: what a stop left behind no longer matters


def deadline(st: StopState | None, cfg: StopConfig) -> int | None:
    if st is None or st.since is None or st.permitted or st.ep is not None or not cfg.enabled:
        return None
    return st.since + seconds(cfg.max_stop_s)


def speculate(st: StopState | None, cfg: StopConfig, vid: int, now: int) -> list[Episode]:
    d = deadline(st, cfg)
    if st is None or d is None or now < d:
        return []
    return [_episode(vid, st, cfg)]
