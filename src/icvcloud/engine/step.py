"""What one rule step sees: the report, the vehicle, its rules, and where it is
relative to the fences (computed once per report, shared by every rule)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .config import RuleSet, applies
from .context import VehicleContext
from .episodes import Book
from .fenceindex import CompiledFence, FenceIndex, LimitZone, Transition
from .rules.offline import limits_us as offline_limits
from .sample import Sample
from .timeutil import US, seconds

#: What a step holds until the location stage says otherwise: no fences (shared, read-only).
_NONE: Mapping[Any, Any] = MappingProxyType({})


def limit_for(type_limits: Mapping[str, float], inside: Mapping[int, CompiledFence], limits: Sequence[float]
              ) -> tuple[float, str] | None:
    """The speed limit at a place and where it comes from: the lowest of the vehicle
    type's limit for the road classes of the fences it is in (``"default"`` where none
    gives one), those fences' own limits and the corridor sections' limits."""
    best: tuple[float, str] | None = None
    tl = type_limits
    classes = sorted({cf.fence.road_class for cf in inside.values() if cf.fence.road_class})
    for c in classes or ["default"]:
        lim = tl.get(c, tl.get("default")) if c != "default" else tl.get("default")
        if lim is not None and (best is None or lim < best[0]):
            best = (lim, f"vehicle_type:{c}")
    for fid in sorted(inside):
        lim = inside[fid].fence.speed_limit_kmh
        if lim is not None and (best is None or lim < best[0]):
            best = (lim, f"fence:{fid}")
    for lim in limits:
        if best is None or lim < best[0]:
            best = (lim, "section")
    # A float whatever the configuration wrote (40 or 40.0): a state restored from a
    # checkpoint reads it back as its declared float, and an alarm's details must not
    # depend on whether its episode was folded live or again after a late report.
    return None if best is None else (float(best[0]), best[1])


class Settings:
    """What a vehicle's rules and type make of each report, in the units the rules
    compare (µs): shared by all vehicles of one rule set and type (:func:`settings_for`),
    so the thousands of vehicles' reports read the same few objects."""

    __slots__ = ("cont_us", "daily_calendar", "daily_us", "default_limit", "fatigue", "gap_as_rest_us",
                 "max_future_us", "max_stop_us", "night", "night_us", "offline_us", "rest_us", "restricted", "rules",
                 "stop", "type_limits")

    def __init__(self, rules: RuleSet, vehicle_type: str) -> None:
        self.rules = rules
        vt = vehicle_type
        f = rules.fatigue
        #: Which type-selective rules concern this vehicle.
        self.fatigue = f.enabled and applies(f.vehicle_types, vt)
        self.night = applies(f.night_vehicle_types, vt)
        self.restricted = applies(f.restricted_vehicle_types, vt)
        self.stop = rules.stop.enabled and applies(rules.stop.vehicle_types, vt)
        #: Durations of the settings in µs, as the rules compare them.
        self.cont_us = round(f.continuous_s * US)
        self.night_us = round(f.night_continuous_s * US)
        self.daily_us = round(f.daily_s * US)
        self.rest_us = round(f.rest_s * US)
        self.gap_as_rest_us = round(f.gap_as_rest_s * US)
        self.daily_calendar = f.daily_mode == "calendar_day"
        self.max_stop_us = seconds(rules.stop.max_stop_s)
        self.max_future_us = round(rules.data_quality.max_future_s * US)
        self.offline_us = offline_limits(rules.offline)
        #: Speed limits of the vehicle's type, by road class ("default" off classified roads).
        self.type_limits = rules.overspeed.limits_for(vt)
        #: The limit where no fence or section says anything (the common case).
        self.default_limit = limit_for(self.type_limits, _NONE, ())


def settings_for(cache: dict[tuple[int, str], Settings], rules: RuleSet, vehicle_type: str) -> Settings:
    """The shared :class:`Settings` (``cache`` belongs to one set of profiles: a rule set is
    found by identity, and the cache keeps it alive)."""
    k = (id(rules), vehicle_type)
    got = cache.get(k)
    if got is None or got.rules is not rules:
        got = cache[k] = Settings(rules, vehicle_type)
    return got


class Derived:
    """Per-vehicle values derived from its context, rules and the fences (cached; rebuilt
    when any of them changes): the shared :class:`Settings` ``c``, the assigned routes,
    which fences apply."""

    __slots__ = ("_applies", "c", "has_routes", "routes", "rules", "v")

    def __init__(self, v: VehicleContext, rules: RuleSet, index: FenceIndex, shared: Settings | None = None) -> None:
        self.v = v
        c = self.c = shared if shared is not None else Settings(rules, v.vehicle_type)
        assert c.rules is rules
        self.rules = rules
        #: Assigned corridors → allowed time outside (µs): corridors with a deviation
        #: duration that apply to the vehicle, and the context's route_ids.
        routes: dict[int, int] = {}
        for cf in index.deviation_corridors:
            if cf.applies(v):
                assert cf.fence.deviation_after_s is not None
                routes[cf.id] = seconds(cf.fence.deviation_after_s)
        for rid in v.route_ids:
            rf = index.by_id.get(rid)
            if rf is not None and rf.fence.kind == "corridor" and rid not in routes:
                after = rf.fence.deviation_after_s
                routes[rid] = seconds(after if after is not None else rules.deviation.after_s)
        self.routes = routes
        self.has_routes = bool(routes)
        #: Index position → whether a fence with selectors applies to this vehicle.
        self._applies: dict[int, bool] = {}

    def applies(self, e: CompiledFence | LimitZone) -> bool:
        """Whether a fence or limit zone applies to the vehicle (remembered per fence)."""
        a = self._applies.get(e.order)
        if a is None:
            a = self._applies[e.order] = e.applies(self.v)
        return a


class Step:
    __slots__ = ("book", "c", "derived", "entered", "index", "inside", "inside_before", "lat", "limits", "loc_ok",
                 "lon", "rules", "s", "speed_ok", "t0", "trans", "v")

    def __init__(self, s: Sample, v: VehicleContext, derived: Derived, index: FenceIndex, book: Book) -> None:
        self.s = s
        self.derived = derived
        c = self.c = derived.c  # the rules read their settings here
        self.rules = c.rules
        self.v = v
        self.index = index
        self.book = book
        book.at = s.key
        #: Set by the data-quality stage: may the position / the speed be used?
        self.loc_ok = False
        self.speed_ok = False
        #: Set by the location stage. ``t0``: time of the previous accepted position
        #: (the segment's start; None for the first). Crossings along the segment are
        #: interpolated, or dated at this report when the gap was too long.
        self.t0: int | None = None
        self.inside_before: Mapping[int, int] = _NONE
        self.inside: Mapping[int, CompiledFence] = _NONE
        self.trans: Sequence[Transition] = ()
        #: Fences the vehicle is inside after this report → when it entered (µs).
        self.entered: Mapping[int, int] = _NONE
        self.limits: Sequence[float] = ()
        #: Where the vehicle is for this step: this report's fix, or the last accepted one.
        self.lon: float | None = None
        self.lat: float | None = None

    def pieces(self, fids: set[int] | frozenset[int]) -> list[tuple[int, int]]:
        """When, between the previous accepted position and this one, the vehicle was
        inside any of ``fids``: merged ``[(from µs, to µs)]``. A report without a
        segment behind it gives the instant ``[(t, t)]`` if inside."""
        t1 = self.s.t
        if self.t0 is None:
            return [(t1, t1)] if any(f in self.inside for f in fids) else []
        count = sum(1 for f in fids if f in self.inside_before)
        out: list[tuple[int, int]] = []
        start = self.t0 if count else None
        for t, fid, enter, _, _ in self.trans:
            if fid not in fids:
                continue
            count += 1 if enter else -1
            if count > 0 and start is None:
                start = t
            elif count <= 0 and start is not None:
                out.append((start, t))
                start = None
        if start is not None:
            out.append((start, t1))
        return out
