"""Fence events: entry and exit (point events, for fences that ask for them), dwell
too long, and presence at forbidden hours.

Entries and exits come from the location stage, dated by interpolation along the
segment between two reports, so a fence crossed between two sparse reports still
yields its entry, its exit and — at forbidden hours — a forbidden episode covering
the time inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from icvcloud.model.alarms import Severity

from ..episodes import Episode, new_episode
from ..fenceindex import CompiledFence, FenceIndex
from ..location import LocationState
from ..step import Step
from ..timeutil import from_us, seconds
from .keys import key


@dataclass(slots=True)
class FenceEventsState:
    dwell: dict[int, Episode] = field(default_factory=dict)
    forbidden: dict[int, Episode] = field(default_factory=dict)
    #: fid → until when the open forbidden episode is known to last (µs).
    covered: dict[int, int] = field(default_factory=dict)


def _info(cf: CompiledFence) -> dict[str, object]:
    return {"fence_id": cf.id, "fence_name": cf.fence.name, "fence_kind": cf.fence.kind}


def step(st: FenceEventsState | None, x: Step) -> FenceEventsState | None:
    """Fold the report in; the state to keep (None while no dwell or forbidden episode is open)."""
    if not x.loc_ok or not x.rules.fences.enabled:
        return st
    if st is None:
        st = FenceEventsState()
    _step(st, x)
    return st if st.dwell or st.forbidden or st.covered else None


def _step(st: FenceEventsState, x: Step) -> None:
    vid = x.v.vehicle_id
    by_id = x.index.by_id
    t1 = x.s.t
    for t, fid, enter, lon, lat in x.trans:
        cf = by_id.get(fid)
        if cf is None:
            continue
        f = cf.fence
        if enter:
            if f.alarm_on_enter:
                x.book.touch(new_episode(key(vid, "fence.enter", fid, t), "fence.enter", "fence", Severity.LOW, t,
                                         lat, lon, _info(cf), instant=True))
            continue
        if f.alarm_on_exit:
            x.book.touch(new_episode(key(vid, "fence.exit", fid, t), "fence.exit", "fence", Severity.LOW, t, lat,
                                     lon, _info(cf), instant=True))
        if st.dwell:
            ep = st.dwell.pop(fid, None)
            if ep is not None:
                ep.close(t)
                x.book.touch(ep)
    if st.dwell:
        for fid in list(st.dwell):
            if fid not in x.inside:  # the fence was removed or no longer applies
                ep = st.dwell.pop(fid)
                ep.close(t1)
                x.book.touch(ep)

    # Forbidden hours: the time inside, cut by the fence's windows.
    involved = set(st.forbidden)
    for fid in x.inside_before:
        cf = by_id.get(fid)
        if cf is not None and cf.has_forbidden:
            involved.add(fid)
    for fid, cf in x.inside.items():
        if cf.has_forbidden:
            involved.add(fid)
    for _, fid, _, _, _ in x.trans:
        cf = by_id.get(fid)
        if cf is not None and cf.has_forbidden:
            involved.add(fid)
    where: dict[tuple[int, int], tuple[float, float]] = {}
    if involved:
        for t, fid, _, lon, lat in x.trans:
            where[(fid, t)] = (lon, lat)
    for fid in sorted(involved):
        cf = by_id.get(fid)
        ep = st.forbidden.get(fid)
        pieces = []
        if cf is not None and cf.forbidden:
            for a, b in x.pieces({fid}):
                pieces.extend(cf.forbidden.pieces(a, b))
        for p, q in pieces:
            if ep is not None and p <= st.covered[fid]:
                st.covered[fid] = max(st.covered[fid], q)
                continue
            if ep is not None:
                ep.close(st.covered[fid])
                x.book.touch(ep)
            assert cf is not None
            lon, lat = where.get((fid, p), (x.s.lon, x.s.lat))
            ep = new_episode(key(vid, "fence.forbidden", fid, p), "fence.forbidden", "fence", Severity.HIGH, p, lat,
                             lon, {**_info(cf), "forbidden": [w.to_dict() for w in cf.fence.forbidden]})
            x.book.touch(ep)
            st.forbidden[fid] = ep
            st.covered[fid] = q
        if ep is not None and st.covered[fid] < t1:
            ep.close(st.covered[fid])
            x.book.touch(ep)
            del st.forbidden[fid]
            del st.covered[fid]

    for fid, cf in x.inside.items():
        mx = cf.fence.max_dwell_s
        if mx is None or fid in st.dwell:
            continue
        entered = x.entered[fid]
        if t1 - entered >= seconds(mx):
            ep = _dwell_episode(vid, cf, entered)
            x.book.touch(ep)
            st.dwell[fid] = ep


def _dwell_episode(vid: int, cf: CompiledFence, entered: int) -> Episode:
    mx = cf.fence.max_dwell_s
    assert mx is not None
    return new_episode(key(vid, "fence.dwell", cf.id, entered), "fence.dwell", "fence", Severity.MEDIUM,
                       entered + seconds(mx), cf.centre[1], cf.centre[0],
                       {**_info(cf), "entered_at": from_us(entered).isoformat(), "max_dwell_s": mx})


def deadline(st: FenceEventsState | None, loc: LocationState, index: FenceIndex) -> int | None:
    best: int | None = None
    dwell = st.dwell if st is not None else {}
    for fid, entered in loc.inside.items():
        cf = index.by_id.get(fid)
        if cf is None or cf.fence.max_dwell_s is None or fid in dwell:
            continue
        d = entered + seconds(cf.fence.max_dwell_s)
        best = d if best is None or d < best else best
    return best


def speculate(st: FenceEventsState | None, loc: LocationState, index: FenceIndex, vid: int, now: int
              ) -> list[Episode]:
    """Dwell episodes time alone would open by ``now`` (no report yet says so)."""
    out = []
    dwell = st.dwell if st is not None else {}
    for fid, entered in loc.inside.items():
        cf = index.by_id.get(fid)
        if cf is None or cf.fence.max_dwell_s is None or fid in dwell:
            continue
        if now >= entered + seconds(cf.fence.max_dwell_s):
            out.append(_dwell_episode(vid, cf, entered))
    return out
