"""Offline (掉线): no report for ``offline_after_s`` while the vehicle was not parked.

Unlike the other rules this one is about *arrival* — the receive clock — not about
what the reports say, so it lives outside the per-report fold and is driven by
:meth:`Engine.tick`. Its key is still data-derived: the device time of the last
report before the silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from icvcloud.model.alarms import Severity

from ..config import OfflineConfig
from ..episodes import Episode, new_episode
from ..sample import Sample
from ..timeutil import from_us, seconds
from .keys import key


@dataclass(slots=True)
class OfflineState:
    last_recv: int | None = None
    newest_t: int | None = None
    parked: bool = False
    lat: float | None = None
    lon: float | None = None
    ep: Episode | None = None


#: (µs of silence after which a vehicle counts as offline, the same when parked); None = never.
Limits = tuple[int | None, int | None]


def limits_us(cfg: OfflineConfig) -> Limits:
    if not cfg.enabled:
        return None, None
    parked = cfg.parked_offline_after_s
    return seconds(cfg.offline_after_s), None if parked is None else seconds(parked)


def on_report(st: OfflineState, s: Sample, cfg: OfflineConfig, clock_ok: bool = True) -> Episode | None:
    """Note a report; returns the offline episode it ends, if any. A report whose
    device clock is wrong (``clock_ok`` False) proves contact but says nothing of the
    vehicle's state."""
    last = st.last_recv
    if last is None or s.recv > last:
        st.last_recv = s.recv
    newest = st.newest_t
    if clock_ok and (newest is None or s.t >= newest):
        st.newest_t = s.t
        st.parked = not s.status & 1 and not s.speed >= cfg.moving_kmh  # ACC off and not moving
        if s.status & 2 and s.lat == s.lat and s.lon == s.lon:  # positioned, not NaN
            st.lat, st.lon = s.lat, s.lon
    ep = st.ep
    if ep is None:
        return None
    st.ep = None
    ep.close(s.t if clock_ok else ep.start_us)
    ep.details["back_at"] = from_us(s.recv).isoformat()
    return ep


def deadline(st: OfflineState, limits: Limits) -> int | None:
    """Receive-clock µs after which the vehicle counts as offline."""
    if st.ep is not None or st.last_recv is None or st.newest_t is None:
        return None
    limit = limits[1] if st.parked else limits[0]
    return None if limit is None else st.last_recv + limit


def check(st: OfflineState, cfg: OfflineConfig, limits: Limits, vid: int, now: int) -> Episode | None:
    """Open the offline episode if the silence has lasted long enough by ``now``."""
    d = deadline(st, limits)
    if d is None or now < d:
        return None
    assert st.newest_t is not None and st.last_recv is not None
    st.ep = new_episode(key(vid, "offline", st.newest_t), "offline", "connectivity", Severity.MEDIUM, st.newest_t,
                        st.lat, st.lon,
                        {"last_received_at": from_us(st.last_recv).isoformat(), "parked": st.parked,
                         "threshold_s": cfg.parked_offline_after_s if st.parked else cfg.offline_after_s})
    return st.ep
