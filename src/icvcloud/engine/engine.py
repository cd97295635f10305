"""The engine: per-vehicle state, device-time order, late data, time-driven rules.

Per vehicle it keeps the last ``window_reports`` reports sorted by
``(device time, seq, item)``, a checkpoint of the whole rule state every
``checkpoint_every`` reports, and what it has told the consumer about each
episode. A report in order is folded once. A late report (device time before
the newest seen) is inserted, the state restored from the checkpoint before it,
and the reports after it folded again; the episodes that come out are compared
with what was told, and only differences are emitted — updates, ends, new
episodes, and retractions of episodes that turn out not to have happened. The
outcome is the one the reports would have given in device-time order, whatever
order they arrived in, as long as no report is older than the window's start.
See docs/engine.md for the design and its limits.
"""

from __future__ import annotations

import json
import marshal
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from icvcloud.model.alarms import AlarmCategory, AlarmEvent, AlarmPhase, Severity
from icvcloud.model.fences import Fence
from icvcloud.model.records import Position

from . import snapshot as snap
from .config import EngineConfig, RuleProfiles
from .context import VehicleContext
from .episodes import Book, Episode, SampleKey
from .fenceindex import FenceIndex
from .fold import VehicleState, deadline, fold, open_episodes, quiet, speculate
from .geo import in_china
from .jsonstate import converter, from_json, to_json, writer
from .rules import active_safety, data_quality, offline
from .sample import Row, Sample
from .step import Derived, Settings, Step, settings_for
from .timeutil import FAR_FUTURE_US, from_us, to_us

#: Sorts before every report: the key of the checkpoint "nothing folded yet".
MIN_KEY: SampleKey = (-(2**62), -(2**62), -(2**62))
#: :meth:`Engine.to_dict`'s format (JSON values); :meth:`Engine.snapshot` writes the
#: binary form of :mod:`.snapshot` and :meth:`Engine.restore` reads both.
SNAPSHOT_FORMAT = 1

#: A window row's key (rows start with device time, seq, item).
_KEY = itemgetter(0, 1, 2)
_STATE_JSON = writer(VehicleState)
_STATE = converter(VehicleState)
_SEVERITY = {int(s): s for s in Severity}
#: "Nothing speculative": one empty set shared by every vehicle (see location.NO_FENCES);
#: tick replaces it before adding. Removing from it is a no-op.
NO_KEYS: set[str] = set()


def _dump(st: VehicleState) -> bytes:
    # A checkpoint is the state's JSON form (positional lists) in marshal bytes: one
    # object the garbage collector never visits (a copy of the objects would be a
    # dozen it must traverse), a third of a pickle's size, exact, and already what a
    # snapshot holds. It never leaves the process, so marshal's version-specific
    # format is no concern.
    return marshal.dumps(_STATE_JSON(st))


def _load(b: bytes) -> VehicleState:
    return cast(VehicleState, _STATE(marshal.loads(b)))  # noqa: S302 - our own bytes, see _dump


@dataclass
class EngineStats:
    reports: int = 0
    duplicates: int = 0
    #: Reports that arrived after a later one and were re-evaluated in order.
    late: int = 0
    #: Reports folded again because of late ones.
    refolded: int = 0
    #: Reports older than the vehicle's window: only their point events are evaluated.
    too_late: int = 0
    #: Reports from a device clock in the future: a finding and their point events only.
    future: int = 0
    events: int = 0
    retractions: int = 0


class _Vehicle:
    __slots__ = ("blob", "cps", "ctx", "derived", "due", "offline", "samples", "since_cp", "speculative", "state",
                 "told")

    def __init__(self, ctx: VehicleContext) -> None:
        self.ctx = ctx
        self.derived: Derived | None = None
        #: The window: the last reports as :meth:`Sample.row` tuples (sorted by key: rows
        #: start with it), which the garbage collector does not track.
        self.samples: list[Row] = []
        self.state = VehicleState()
        #: (key of the last report folded into it, the state then, see _dump), oldest
        #: first; ``cps[0]`` is the state just before the window's first report.
        self.cps: list[tuple[SampleKey, bytes]] = [(MIN_KEY, _dump(self.state))]
        self.since_cp = 0
        #: key → (the episode as last told, key of the report that last touched it).
        self.told: dict[str, tuple[Episode, SampleKey]] = {}
        #: Told by :meth:`Engine.tick` before any report confirmed them (NO_KEYS while none).
        self.speculative: set[str] = NO_KEYS
        self.offline = offline.OfflineState()
        self.due: int | None = None
        #: This vehicle's snapshot record while nothing has changed since it was written.
        self.blob: bytes | None = None


class Engine:
    """Alarm rules over position reports. Not thread-safe: one engine per worker,
    vehicles partitioned between workers."""

    def __init__(self, profiles: RuleProfiles | None = None, fences: Iterable[Fence] = (),
                 config: EngineConfig | None = None) -> None:
        self.profiles = profiles if profiles is not None else RuleProfiles()
        self.config = config if config is not None else EngineConfig()
        self._fences = list(fences)
        self._index = FenceIndex(self._fences)
        self._vehicles: dict[int, _Vehicle] = {}
        self.stats = EngineStats()
        self._book = Book()
        self._settings: dict[tuple[int, str], Settings] = {}
        self._every = self.config.checkpoint_every
        #: A window this long has a checkpoint it can drop (see _trim).
        self._trim_at = self.config.window_reports + self.config.checkpoint_every

    # ------------------------------------------------------------------ definitions

    @property
    def fences(self) -> list[Fence]:
        return list(self._fences)

    def set_fences(self, fences: Iterable[Fence]) -> None:
        """Replace the fences; vehicles inside a removed fence leave it at their next report."""
        self._fences = list(fences)
        self._index = FenceIndex(self._fences, version=self._index.version + 1)
        for e in self._vehicles.values():
            e.derived = None

    def set_profiles(self, profiles: RuleProfiles) -> None:
        self.profiles = profiles
        self._settings = {}
        for e in self._vehicles.values():
            e.derived = None

    def _vehicle(self, v: VehicleContext) -> _Vehicle:
        e = self._vehicles.get(v.vehicle_id)
        if e is None:
            e = self._vehicles[v.vehicle_id] = _Vehicle(v)
        elif e.ctx != v:
            e.ctx = v
            e.derived = None
            e.blob = None
        if e.derived is None:
            rules = self.profiles.resolve(v.vehicle_type, v.org_id, v.group)
            e.derived = Derived(v, rules, self._index, settings_for(self._settings, rules, v.vehicle_type))
        return e

    def __len__(self) -> int:
        return len(self._vehicles)

    # ------------------------------------------------------------------ reports

    def process(self, vehicle: VehicleContext, position: Position) -> list[AlarmEvent]:
        """Evaluate one report; the events it causes (possibly about earlier episodes)."""
        s = Sample.from_position(position)
        e = self._vehicles.get(vehicle.vehicle_id)
        if e is None or e.derived is None or (e.ctx is not vehicle and e.ctx != vehicle):
            e = self._vehicle(vehicle)
        derived = e.derived
        assert derived is not None
        e.blob = None
        out: list[AlarmEvent] = []
        stats = self.stats
        stats.reports += 1
        # A device time after its receipt by more than data_quality.max_future_s: a wrong
        # clock. Kept out of the ordering (it would sort after every true report).
        future = s.t > s.recv + derived.c.max_future_us
        ended = offline.on_report(e.offline, s, derived.rules.offline, clock_ok=not future)
        if ended is not None:
            out.append(self._event(e, ended, "end"))
        samples = e.samples
        if future:
            self._detached(e, s, out)
        elif samples and s.key <= samples[-1]:  # a key compares below a row with the same key (it is shorter)
            k = s.key
            i = bisect_left(samples, k, key=_KEY)
            if _KEY(samples[i]) == k:
                stats.duplicates += 1
            elif k <= e.cps[0][0]:
                self._too_late(e, s, out)
            else:
                self._insert(e, s, i, out)
        elif not samples and s.key <= e.cps[0][0]:  # (with a window, its last key is above the base)
            self._too_late(e, s, out)
        else:
            # Newer than every report of the vehicle (the common case): fold it once.
            book = self._book
            fold(e.state, s, e.ctx, derived, self._index, book)
            samples.append(s.row)
            e.since_cp += 1
            if e.since_cp >= self._every:
                e.cps.append((s.key, _dump(e.state)))
                e.since_cp = 0
            if book.touched:
                touched = book.touched
                self._book = Book()
                self._tell(e, touched, out)
                if e.speculative:
                    self._settle(e, set(touched), out)
            elif e.speculative:
                self._settle(e, set(), out)
        if len(samples) >= self._trim_at:
            self._trim(e)
        self._set_due(e)
        stats.events += len(out)
        return out

    def _insert(self, e: _Vehicle, s: Sample, i: int, out: list[AlarmEvent]) -> None:
        assert e.derived is not None
        self.stats.late += 1
        k = (s.t, s.seq, s.item)
        j = len(e.cps) - 1
        while e.cps[j][0] >= k:
            j -= 1
        cp_key, blob = e.cps[j]
        del e.cps[j + 1:]
        state = _load(blob)
        e.samples.insert(i, s.row)
        book = Book()
        every = self.config.checkpoint_every
        n = 0
        for idx in range(bisect_right(e.samples, cp_key, key=_KEY), len(e.samples)):
            r = Sample(e.samples[idx])
            fold(state, r, e.ctx, e.derived, self._index, book)
            n += 1
            if n % every == 0:
                e.cps.append((r.key, _dump(state)))
        e.since_cp = n % every
        e.state = state
        self.stats.refolded += n - 1
        # What the re-evaluation says now: everything it touched, and what is open.
        now: dict[str, tuple[Episode, SampleKey]] = {}
        for ep in open_episodes(state):
            prev = e.told.get(ep.key)
            now[ep.key] = (ep, prev[1] if prev is not None else cp_key)
        now.update(book.touched)
        self._tell(e, now, out)
        for key, (_, at) in list(e.told.items()):
            if at > cp_key and key not in now and key not in e.speculative:
                self._retract(e, key, out)
        if e.speculative:
            self._settle(e, set(now), out)

    def _too_late(self, e: _Vehicle, s: Sample, out: list[AlarmEvent]) -> None:
        """Older than the window: the stateful rules cannot place it any more."""
        self.stats.too_late += 1
        self._point_events(e, s, out)

    def _detached(self, e: _Vehicle, s: Sample, out: list[AlarmEvent]) -> None:
        """A report from a wrong (future) device clock: a data-quality finding, and
        its point events; it does not enter the window, where it would sort after every
        true report for as long as the clock error lasts."""
        self.stats.future += 1
        assert e.derived is not None
        if e.derived.rules.data_quality.enabled:
            out.append(self._event(e, data_quality.future_finding(s, e.ctx.vehicle_id), "instant"))
        self._point_events(e, s, out)

    def _point_events(self, e: _Vehicle, s: Sample, out: list[AlarmEvent]) -> None:
        """The active-safety point events (evidence) of a report the stateful rules
        cannot take: a re-sent old report repeats them under the same keys; starts and
        ends, which need their pair, are dropped."""
        assert e.derived is not None
        book = Book()
        x = Step(s, e.ctx, e.derived, self._index, book)
        x.loc_ok = s.fixed and in_china(s.lon, s.lat)
        active_safety.step(None, x)
        for ep, _ in book.touched.values():
            if ep.instant:
                out.append(self._event(e, ep, "instant"))

    def _trim(self, e: _Vehicle) -> None:
        w = self.config.window_reports
        trimmed = False
        while len(e.cps) >= 2:
            cut = bisect_right(e.samples, e.cps[1][0], key=_KEY)
            if len(e.samples) - cut < w:
                break
            del e.cps[0]
            del e.samples[:cut]
            trimmed = True
        if trimmed:
            base = e.cps[0][0]
            for key, (ep, at) in list(e.told.items()):
                if ep.closed and at <= base and key not in e.speculative:
                    del e.told[key]

    # ------------------------------------------------------------------ telling

    def _tell(self, e: _Vehicle, touched: Mapping[str, tuple[Episode, SampleKey]], out: list[AlarmEvent]) -> None:
        for key, (ep, at) in touched.items():
            prev = e.told.get(key)
            if prev is not None and prev[0].told_value() == ep.told_value():
                e.told[key] = (prev[0], at)
                continue
            phase: AlarmPhase = ("instant" if ep.instant else "end" if ep.end_us is not None
                                 else "start" if prev is None else "update")
            out.append(self._event(e, ep, phase))
            e.told[key] = (ep.copy(), at)

    def _retract(self, e: _Vehicle, key: str, out: list[AlarmEvent]) -> None:
        ep = e.told.pop(key)[0]
        e.speculative.discard(key)
        self.stats.retractions += 1
        out.append(self._event(e, ep, "end", retracted=True))

    def _settle(self, e: _Vehicle, produced: set[str], out: list[AlarmEvent]) -> None:
        """Speculative episodes: confirmed by the data, still possible, or retracted."""
        assert e.derived is not None
        current = {ep.key for ep in open_episodes(e.state)}
        pending: set[str] | None = None
        for key in sorted(e.speculative):
            if key in produced or key in current:
                e.speculative.discard(key)
                continue
            if pending is None:
                pending = {ep.key for ep in speculate(e.state, e.derived, self._index, e.ctx.vehicle_id,
                                                      FAR_FUTURE_US)}
            if key not in pending:
                self._retract(e, key, out)

    def _event(self, e: _Vehicle, ep: Episode, phase: AlarmPhase, retracted: bool = False) -> AlarmEvent:
        v = e.ctx
        return AlarmEvent(
            key=ep.key, vehicle_id=v.vehicle_id, device_id=v.device_id, org_id=v.org_id, alarm_type=ep.alarm_type,
            category=cast(AlarmCategory, ep.category), phase=phase, severity=_SEVERITY[ep.severity],
            start_time=from_us(ep.start_us), end_time=from_us(ep.end_us) if ep.end_us is not None else None,
            lat=ep.lat, lon=ep.lon, details=dict(ep.details), retracted=retracted)

    # ------------------------------------------------------------------ time

    def _set_due(self, e: _Vehicle) -> None:
        derived = e.derived
        assert derived is not None
        a = offline.deadline(e.offline, derived.c.offline_us)
        st = e.state
        if quiet(st):
            e.due = a
            return
        b = deadline(st, derived, self._index)
        e.due = a if b is None else b if a is None else min(a, b)

    def tick(self, now: datetime) -> list[AlarmEvent]:
        """Time-driven rules at ``now`` (receive clock, UTC): offline, and — before a
        report confirms them — dwell, stop and deviation episodes whose allowance has
        run out while the vehicle stayed as last reported. Call it every few seconds."""
        now_us = to_us(now)
        out: list[AlarmEvent] = []
        for v in self._vehicles.values():
            if v.due is None or v.due > now_us:
                continue
            e = self._vehicle(v.ctx)
            assert e.derived is not None
            e.blob = None
            ep = offline.check(e.offline, e.derived.rules.offline, e.derived.c.offline_us, e.ctx.vehicle_id,
                              now_us)
            if ep is not None:
                out.append(self._event(e, ep, "start"))
            at = _KEY(e.samples[-1]) if e.samples else MIN_KEY
            for sp in speculate(e.state, e.derived, self._index, e.ctx.vehicle_id, now_us):
                if sp.key not in e.told:
                    out.append(self._event(e, sp, "start"))
                    e.told[sp.key] = (sp.copy(), at)
                    if e.speculative is NO_KEYS:
                        e.speculative = set()
                    e.speculative.add(sp.key)
            self._set_due(e)
        self.stats.events += len(out)
        return out

    # ------------------------------------------------------------------ snapshots

    def to_dict(self) -> dict[str, Any]:
        """The whole engine state as JSON-able values (window, checkpoint base, state,
        what was told, offline clocks): the readable form; :meth:`snapshot` is the
        compact one."""
        return {"format": SNAPSHOT_FORMAT, "vehicles": [self._vehicle_dict(e) for e in self._vehicles.values()]}

    @staticmethod
    def _small(e: _Vehicle) -> list[Any]:
        """A vehicle's state apart from its window, as JSON values."""
        base_key, base = e.cps[0]
        return [to_json(e.ctx), list(base_key), marshal.loads(base), _STATE_JSON(e.state),  # noqa: S302 - see _dump
                [[k, to_json(ep), list(at)] for k, (ep, at) in e.told.items()], sorted(e.speculative),
                to_json(e.offline)]

    @classmethod
    def _vehicle_dict(cls, e: _Vehicle) -> dict[str, Any]:
        ctx, base_key, base, state, told, speculative, off = cls._small(e)
        return {"ctx": ctx, "window": [list(r) for r in e.samples], "base_key": base_key, "base": base,
                "state": state, "told": told, "speculative": speculative, "offline": off}

    @staticmethod
    def _restored(small: list[Any], samples: list[Row]) -> _Vehicle:
        ctx_d, base_key, base, state, told, speculative, off = small
        e = _Vehicle(from_json(VehicleContext, ctx_d))
        e.samples = samples
        e.cps = [(cast(SampleKey, tuple(int(k) for k in base_key)), _dump(_STATE(base)))]
        e.state = _STATE(state)
        e.told = {k: (from_json(Episode, ep), cast(SampleKey, tuple(at))) for k, ep, at in told}
        e.speculative = set(speculative) if speculative else NO_KEYS
        e.offline = from_json(offline.OfflineState, off)
        return e

    def from_dict(self, d: Mapping[str, Any]) -> None:
        """Replace all per-vehicle state with :meth:`to_dict` output."""
        if d.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown engine snapshot format {d.get('format')!r}")
        vehicles: dict[int, _Vehicle] = {}
        for vd in d["vehicles"]:
            samples = [snap.row(r) for r in vd["window"]]
            e = self._restored([vd["ctx"], vd["base_key"], vd["base"], vd["state"], vd["told"], vd["speculative"],
                                vd["offline"]], samples)
            vehicles[e.ctx.vehicle_id] = e
        self._install(vehicles)

    def _install(self, vehicles: dict[int, _Vehicle]) -> None:
        self._vehicles = vehicles
        for e in vehicles.values():
            self._vehicle(e.ctx)
            self._set_due(e)

    def snapshot(self) -> bytes:
        """The engine's state as bytes (what the alarm consumer checkpoints): see
        :mod:`.snapshot`. A vehicle unchanged since the last snapshot costs a copy of
        its record."""
        return b"".join(self.snapshot_parts())

    def snapshot_parts(self, vehicles_per_part: int = 1) -> Iterator[bytes]:
        """:meth:`snapshot` in pieces (their concatenation), so a caller can serve other
        work in between (a vehicle written anew costs ~0.1 ms). The engine must not be
        used until the iteration ends."""
        yield snap.MAGIC
        part: list[bytes] = []
        for e in list(self._vehicles.values()):
            if e.blob is None:
                e.blob = snap.encode_vehicle(self._small(e), e.samples)
            part.append(e.blob)
            if len(part) >= vehicles_per_part:
                yield b"".join(part)
                part = []
        if part:
            yield b"".join(part)

    def restore(self, snapshot: bytes | Mapping[str, Any]) -> None:
        """Restore from :meth:`snapshot` bytes, format-1 JSON bytes (older snapshots) or a
        :meth:`to_dict` value. A snapshot that cannot be read raises ``ValueError``
        and leaves the engine as it was."""
        if isinstance(snapshot, bytes | bytearray | memoryview) and bytes(snapshot[:len(snap.MAGIC)]) == snap.MAGIC:
            vehicles: dict[int, _Vehicle] = {}
            try:
                for small, samples, blob in snap.records(snapshot):
                    e = self._restored(small, samples)
                    e.blob = blob  # still this vehicle's record until it changes
                    vehicles[e.ctx.vehicle_id] = e
            except snap.SnapshotError:
                raise
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise snap.SnapshotError(f"engine snapshot: unreadable vehicle state ({exc})") from None
            self._install(vehicles)
            return
        if isinstance(snapshot, bytes | bytearray | memoryview):
            try:
                d = json.loads(bytes(snapshot))
            except ValueError:
                raise snap.SnapshotError("not an engine snapshot") from None
            if not isinstance(d, dict):
                raise snap.SnapshotError("not an engine snapshot")
            snapshot = d
        try:
            self.from_dict(snapshot)
        except snap.SnapshotError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise snap.SnapshotError(f"engine snapshot: unreadable ({exc})") from None
