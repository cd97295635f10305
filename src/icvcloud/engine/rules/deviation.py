"""Route deviation (路线偏离): outside every corridor assigned to the vehicle for
longer than the corridor's ``deviation_after_s``. The time outside is measured
from the interpolated moment the vehicle left the corridor; the episode starts
when the allowance ran out and ends when the vehicle is back inside."""

from __future__ import annotations

from dataclasses import dataclass

from icvcloud.model.alarms import Severity

from ..episodes import Episode, new_episode
from ..step import Derived, Step
from ..timeutil import from_us
from .keys import key


@dataclass(slots=True)
class DeviationState:
    out_since: int | None = None
    out_lon: float = 0.0
    out_lat: float = 0.0
    ep: Episode | None = None


def _episode(vid: int, st: DeviationState, after: int, routes: list[int]) -> Episode:
    assert st.out_since is not None
    return new_episode(key(vid, "route.deviation", st.out_since), "route.deviation", "fence", Severity.HIGH,
                       st.out_since + after, st.out_lat, st.out_lon,
                       {"route_ids": routes, "left_at": from_us(st.out_since).isoformat(), "allowed_s": after / 1e6})


def step(st: DeviationState | None, x: Step) -> DeviationState | None:
    """Fold the report in; the state to keep (None while on an assigned route)."""
    routes = x.derived.routes
    if not routes or not x.loc_ok or not x.rules.deviation.enabled:
        return st
    if st is None:
        st = DeviationState()
    _step(st, x, routes)
    return st if st.out_since is not None or st.ep is not None else None


def _step(st: DeviationState, x: Step, routes: dict[int, int]) -> None:
    after = min(routes.values())
    ids = sorted(routes)
    t1 = x.s.t
    a = x.t0 if x.t0 is not None else t1
    inside = x.pieces(frozenset(routes))
    # Walk [a, t1]: outside stretches between the inside pieces.
    cur = a
    stretches: list[tuple[int, int, bool]] = []
    for p, q in inside:
        if p > cur:
            stretches.append((cur, p, False))
        stretches.append((p, q, True))
        cur = max(cur, q)
    if cur < t1 or not inside:
        stretches.append((cur, t1, False))
    where = {t: (lon, lat) for t, fid, enter, lon, lat in x.trans if fid in routes and not enter}
    for p, q, is_in in stretches:
        if is_in:
            if st.ep is not None:
                st.ep.close(p)
                x.book.touch(st.ep)
                st.ep = None
            st.out_since = None
            continue
        if st.out_since is None:
            st.out_since = p
            st.out_lon, st.out_lat = where.get(p, (x.s.lon, x.s.lat))
        if st.ep is None and q - st.out_since >= after:
            st.ep = _episode(x.v.vehicle_id, st, after, ids)
            x.book.touch(st.ep)


def deadline(st: DeviationState | None, derived: Derived) -> int | None:
    if st is None or st.out_since is None or st.ep is not None or not derived.routes:
        return None
    return st.out_since + min(derived.routes.values())


def speculate(st: DeviationState | None, derived: Derived, vid: int, now: int) -> list[Episode]:
    d = deadline(st, derived)
    if st is None or d is None or now < d:
        return []
    return [_episode(vid, st, min(derived.routes.values()), sorted(derived.routes))]
