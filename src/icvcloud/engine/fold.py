"""The pipeline: one vehicle's state and the order its stages see a report.

``fold`` is the pure step (state, report) → state + touched episodes; the engine
calls it in device-time order, again from a checkpoint when late data arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .context import VehicleContext
from .episodes import Book, Episode
from .fenceindex import FenceIndex
from .location import LocationState, locate
from .rules import active_safety, data_quality, deviation, fatigue, fences, overspeed, stop, terminal
from .sample import Sample
from .step import Derived, Step


@dataclass(slots=True)
class VehicleState:
    """One vehicle's rule state. A rule that is idle most of the time (no alarm bit set,
    no overspeed run, no fence episode, on its route, moving) keeps None instead of an
    idle state: the common report then reads nothing of it."""

    dq: data_quality.DataQualityState = field(default_factory=data_quality.DataQualityState)
    loc: LocationState = field(default_factory=LocationState)
    terminal: terminal.TerminalState | None = None
    safety: active_safety.ActiveSafetyState | None = None
    overspeed: overspeed.OverspeedState | None = None
    fatigue: fatigue.FatigueState = field(default_factory=fatigue.FatigueState)
    fences: fences.FenceEventsState | None = None
    deviation: deviation.DeviationState | None = None
    stop: stop.StopState | None = None


def fold(st: VehicleState, s: Sample, v: VehicleContext, derived: Derived, index: FenceIndex, book: Book, *,
         every_stage: bool = False) -> None:
    """Evaluate one report against the vehicle's state (mutates ``st``, touches ``book``).

    A stage whose inputs cannot make it do anything is skipped — no alarm bits and
    none open, no active-safety items and none open, no fence in sight or left, no
    assigned route, a vehicle type the rule does not watch. Each stage is a no-op in
    those cases anyway: ``every_stage`` runs them all, which the tests use to check
    that skipping changes nothing."""
    x = Step(s, v, derived, index, book)
    data_quality.step(st.dq, x)  # first: decides whether position and speed are usable
    locate(st.loc, x)  # then where the vehicle is relative to the fences
    if every_stage or s.alarm or st.terminal is not None:
        st.terminal = terminal.step(st.terminal, x)
    if every_stage or s.extras or st.safety is not None:
        st.safety = active_safety.step(st.safety, x)
    st.overspeed = overspeed.step(st.overspeed, x)
    c = derived.c
    if every_stage or c.fatigue:
        fatigue.step(st.fatigue, x)
    if every_stage or x.trans or x.inside or x.inside_before or st.fences is not None:
        st.fences = fences.step(st.fences, x)
    if every_stage or derived.has_routes:
        st.deviation = deviation.step(st.deviation, x)
    if every_stage or c.stop:
        st.stop = stop.step(st.stop, x)


def open_episodes(st: VehicleState) -> Iterator[Episode]:
    """Every episode the state holds open."""
    yield from st.dq.runs.values()
    if st.terminal is not None:
        yield from st.terminal.open.values()
    if st.safety is not None:
        yield from st.safety.open.values()
    if st.overspeed is not None:
        for run in (st.overspeed.over, st.overspeed.warn):
            if run is not None and run.ep is not None:
                yield run.ep
    f = st.fatigue
    for ep in (f.cont_ep, f.night_ep, f.daily_ep, f.restr_ep, st.deviation.ep if st.deviation is not None else None,
               st.stop.ep if st.stop is not None else None):
        if ep is not None:
            yield ep
    if st.fences is not None:
        yield from st.fences.dwell.values()
        yield from st.fences.forbidden.values()


def quiet(st: VehicleState) -> bool:
    """Whether time alone cannot open an episode (no stop, no fence, not off route):
    :func:`deadline` would find none."""
    return st.stop is None and not st.loc.inside and st.deviation is None


def deadline(st: VehicleState, derived: Derived, index: FenceIndex) -> int | None:
    """The earliest device time at which time alone opens an episode (dwell, stop, deviation)."""
    best = stop.deadline(st.stop, derived.rules.stop)
    if st.loc.inside and derived.rules.fences.enabled:
        d = fences.deadline(st.fences, st.loc, index)
        if d is not None and (best is None or d < best):
            best = d
    if st.deviation is not None and derived.rules.deviation.enabled:
        d = deviation.deadline(st.deviation, derived)
        if d is not None and (best is None or d < best):
            best = d
    return best


def speculate(st: VehicleState, derived: Derived, index: FenceIndex, vid: int, now: int) -> list[Episode]:
    """Episodes time alone would have opened by ``now`` if the vehicle stayed as last reported."""
    out: list[Episode] = []
    if derived.rules.fences.enabled:
        out += fences.speculate(st.fences, st.loc, index, vid, now)
    out += stop.speculate(st.stop, derived.rules.stop, vid, now)
    if derived.rules.deviation.enabled:
        out += deviation.speculate(st.deviation, derived, vid, now)
    return out
