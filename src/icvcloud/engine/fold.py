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
from .jsonstate import cloner
from .location import LocationState, locate
from .rules import active_safety, data_quality, deviation, fatigue, fences, overspeed, stop, terminal
from .sample import Sample
from .step import Derived, Step


@dataclass(slots=True)
class VehicleState:
    dq: data_quality.DataQualityState = field(default_factory=data_quality.DataQualityState)
    loc: LocationState = field(default_factory=LocationState)
    terminal: terminal.TerminalState = field(default_factory=terminal.TerminalState)
    safety: active_safety.ActiveSafetyState = field(default_factory=active_safety.ActiveSafetyState)
    overspeed: overspeed.OverspeedState = field(default_factory=overspeed.OverspeedState)
    fatigue: fatigue.FatigueState = field(default_factory=fatigue.FatigueState)
    fences: fences.FenceEventsState = field(default_factory=fences.FenceEventsState)
    deviation: deviation.DeviationState = field(default_factory=deviation.DeviationState)
    stop: stop.StopState = field(default_factory=stop.StopState)


#: An independent copy of a state: what a checkpoint holds.
copy_state = cloner(VehicleState)


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
    if every_stage or s.alarm or st.terminal.open:
        terminal.step(st.terminal, x)
    if every_stage or s.extras or st.safety.open:
        active_safety.step(st.safety, x)
    overspeed.step(st.overspeed, x)
    if every_stage or derived.fatigue:
        fatigue.step(st.fatigue, x)
    fe = st.fences
    if every_stage or x.trans or x.inside or x.inside_before or fe.dwell or fe.forbidden:
        fences.step(fe, x)
    if every_stage or derived.routes:
        deviation.step(st.deviation, x)
    if every_stage or derived.stop:
        stop.step(st.stop, x)


def open_episodes(st: VehicleState) -> Iterator[Episode]:
    """Every episode the state holds open."""
    yield from st.dq.runs.values()
    yield from st.terminal.open.values()
    yield from st.safety.open.values()
    for run in (st.overspeed.over, st.overspeed.warn):
        if run is not None and run.ep is not None:
            yield run.ep
    for ep in (st.fatigue.cont_ep, st.fatigue.night_ep, st.fatigue.daily_ep, st.fatigue.restr_ep, st.deviation.ep,
               st.stop.ep):
        if ep is not None:
            yield ep
    yield from st.fences.dwell.values()
    yield from st.fences.forbidden.values()


def deadline(st: VehicleState, derived: Derived, index: FenceIndex) -> int | None:
    """The earliest device time at which time alone opens an episode (dwell, stop, deviation)."""
    best = stop.deadline(st.stop, derived.rules.stop) if st.stop.since is not None else None
    if st.loc.inside and derived.rules.fences.enabled:
        d = fences.deadline(st.fences, st.loc, index)
        if d is not None and (best is None or d < best):
            best = d
    if st.deviation.out_since is not None and derived.rules.deviation.enabled:
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
