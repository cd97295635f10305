"""Where the vehicle is relative to the fences: membership at this report, and the
boundary crossings along the straight segment from the previous accepted position
(so a fence crossed between two sparse reports is still seen)."""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely

from .fenceindex import CompiledFence, FenceIndex, Transition, by_order, clip, contains_point
from .geo import distance_m
from .step import Step
from .timeutil import US

#: "In no fence": one empty dict shared by every vehicle outside all fences (most of
#: them), so their reports do not each fetch their own from memory. Never mutated:
#: the location stage replaces a vehicle's ``inside``, it does not change it.
NO_FENCES: dict[int, int] = {}


@dataclass(slots=True)
class LocationState:
    #: Fences the vehicle is inside → when it entered (µs).
    inside: dict[int, int] = field(default_factory=lambda: NO_FENCES)
    #: The last accepted position.
    t: int | None = None
    lon: float = 0.0
    lat: float = 0.0


def _meets(span: tuple[float, float] | None) -> bool:
    return span is not None and span[1] >= 0.0 and span[0] <= 1.0


def _apply(f: CompiledFence, in0: bool, in1: bool, changes: list[tuple[float, bool]], old: dict[int, int],
           new: dict[int, int], trans: list[Transition], t0: int | None, t1: int, x0: float, y0: float, dx: float,
           dy: float) -> None:
    """Record one fence's crossings along the segment and whether it ends inside."""
    entered = old.get(f.id)
    for frac, enter in changes:
        t = t1 if t0 is None or frac >= 1.0 else t0 + round(frac * (t1 - t0))
        trans.append((t, f.id, enter, x0 + frac * dx, y0 + frac * dy))
        if enter:
            entered = t
    if in1:
        new[f.id] = entered if entered is not None else t1


def locate(st: LocationState, x: Step) -> None:
    index: FenceIndex = x.index
    old = st.inside
    x.inside_before = old
    t0 = x.t0 = st.t
    if not x.loc_ok:
        # Hold the last accepted place: the fences it is in, no crossings.
        if old:
            x.inside = {f: index.by_id[f] for f in old if f in index.by_id}
        x.entered = old
        if t0 is not None:
            x.lon, x.lat = st.lon, st.lat
        x.t0 = None
        return
    s = x.s
    lon, lat, t1 = s.lon, s.lat, s.t
    x.lon, x.lat = lon, lat
    x0, y0 = st.lon, st.lat
    derived = x.derived
    if not old:
        # In no fence: if no fence can be anywhere along the segment (the box of both
        # ends covers whatever the segment needs) and no speed-limit section here,
        # nothing changes — the common case, kept short.
        if t0 is None:
            ux0 = ux1 = lon
            uy0 = uy1 = lat
        else:
            ux0, uy0, ux1, uy1 = min(x0, lon), min(y0, lat), max(x0, lon), max(y0, lat)
        if index.clear(ux0, uy0, ux1, uy1, lon, lat):
            st.t, st.lon, st.lat = t1, lon, lat
            if old is not NO_FENCES:
                st.inside = NO_FENCES  # (an empty dict of its own, rebuilt from a checkpoint)
            x.entered = st.inside
            return
    cfg = x.rules.fences
    interp = (t0 is not None and t1 > t0 and t1 - t0 <= cfg.interpolate_max_gap_s * US
              and distance_m(x0, y0, lon, lat) <= cfg.interpolate_max_m)
    if interp:
        bx0, by0, bx1, by1 = min(x0, lon), min(y0, lat), max(x0, lon), max(y0, lat)
    else:
        bx0 = bx1 = lon
        by0 = by1 = lat
    near = index.fences_meeting(bx0, by0, bx1, by1)
    if old:
        # The fences it was in are looked at too, wherever they are: it may have left them.
        # Mostly they are among the near ones already: merge (and re-sort) only if not.
        ids = {f.id for f in near}
        by_id = index.by_id
        extra = [cf for fid in old if fid not in ids and (cf := by_id.get(fid)) is not None]
        if extra:
            near = sorted([*near, *extra], key=by_order)
    derived = x.derived
    new: dict[int, int] = {}
    trans: list[Transition] = []
    seen: set[int] = set()
    dx, dy = lon - x0, lat - y0
    # Circles, rectangles and small polygons are settled here in closed form;
    # shapely-tested fences are collected and tested together (one vectorised call
    # per predicate).
    shaped: list[CompiledFence] = []
    for f in near:
        fx0, fy0, fx1, fy1 = f.bbox
        if fx0 > bx1 or fx1 < bx0 or fy0 > by1 or fy1 < by0:
            continue
        if not f.everyone and not derived.applies(f):
            continue
        fid = f.id
        in0 = fid in old
        if in0:
            seen.add(fid)
        pin = fx0 <= lon <= fx1 and fy0 <= lat <= fy1
        if not f.closed_form:
            if in0 or pin or (interp and _meets(clip(f.bbox, x0, y0, lon, lat))):
                shaped.append(f)
            continue
        in1 = pin and f.contains(lon, lat)
        if in0 and in1 and (f.convex or not interp):
            new[fid] = old[fid]  # still inside (a convex fence cannot be left and re-entered)
            continue
        if interp:
            changes = f.crossings(x0, y0, lon, lat, in0, in1)
        elif in0 != in1:
            changes = [(1.0, in1)]
        elif not in1:
            continue  # outside at both ends, no segment to follow
        else:
            changes = []
        if changes or in1:
            _apply(f, in0, in1, changes, old, new, trans, t0, t1, x0, y0, dx, dy)
    if shaped:
        in1s = shapely.contains_xy([f.geom for f in shaped], lon, lat).tolist()
        meets: list[bool] = [False] * len(shaped)
        if interp:
            seg = shapely.LineString([(x0, y0), (lon, lat)])
            out_both = [i for i, f in enumerate(shaped) if not in1s[i] and f.id not in old]
            in_both = [i for i, f in enumerate(shaped) if in1s[i] and f.id in old and not f.convex]
            if out_both:
                for i, hit in zip(out_both, shapely.intersects([shaped[i].geom for i in out_both], seg).tolist(),
                                  strict=True):
                    meets[i] = hit
            if in_both:
                for i, inside in zip(in_both, shapely.contains([shaped[i].geom for i in in_both], seg).tolist(),
                                     strict=True):
                    meets[i] = not inside
        for i, f in enumerate(shaped):
            in0, in1 = f.id in old, in1s[i]
            if not interp:
                changes = [(1.0, in1)] if in0 != in1 else []
            elif in0 != in1 or meets[i]:
                changes = f.boundary_crossings(x0, y0, lon, lat, in0, in1, seg)
            else:
                changes = []
            _apply(f, in0, in1, changes, old, new, trans, t0, t1, x0, y0, dx, dy)
    for fid in old:
        if fid not in seen:  # left the neighbourhood, stopped applying, or was removed
            trans.append((t1, fid, False, lon, lat))
    limits = []
    for z in index.zones_at(lon, lat):
        b = z.bbox
        if (b[0] <= lon <= b[2] and b[1] <= lat <= b[3] and (z.everyone or derived.applies(z))
                and contains_point(z.geom, lon, lat)):
            limits.append(z.limit_kmh)
    trans.sort()
    st.inside = new if new else NO_FENCES
    st.t, st.lon, st.lat = t1, lon, lat
    x.inside = {f: index.by_id[f] for f in new}
    x.entered = new
    x.trans = trans
    x.limits = limits
