"""Full-trip monitoring as a rule engine: the trips of the active electronic
waybills, driven by their vehicles' reports, and the vehicle-level hazmat rules —
a pure component (no I/O, no clock of its own) that the alarm consumer runs beside
the alarm engine (``app/trip_engine.py``), so its findings get the consumer's
checkpoints, replay and exactly-once storing, and become alarms people handle.

What it emits, as :class:`~icvcloud.model.alarms.AlarmEvent` values:

* category ``trip``, type ``trip.state``: a waybill's trip changed state (details
  ``waybill_id``, ``from``, ``to``, ``by``). Not an alarm: the consumer hands these to
  the hazmat store, which records the state (``hazmat_trip_states``);
* category ``hazmat``: the trip's findings (:mod:`.trip`: ``hazmat.route_deviation``,
  ``hazmat.departure_without_loading``, ``hazmat.arrival_overdue``,
  ``hazmat.escort_absent``) and two of the vehicle's:

  - ``hazmat.no_waybill`` — a hazmat vehicle moving (≥ ``moving_kmh``; with
    ``loaded_from = "status"`` also loaded by its terminal's status bits 8–9) for
    ``no_waybill_after_s`` while no waybill covers it. A waybill covers its vehicle
    from ``cover_before_s`` before its departure window to ``cover_after_s`` after
    its arrival window closes or its trip completes (the empty return leg). Dated at
    the first such report; a stop of ``no_waybill_stop_s`` or a covering waybill
    ends it;
  - ``hazmat.unknown_person`` — during a trip, an IC card (0x0702) read whose
    qualification certificate is neither the waybill's driver's nor its escort's.

Restricted zones, stops outside permitted places, overspeed and fatigue are the
alarm engine's (fences with ``forbidden`` hours and ``vehicle_types``, the stop and
speed rules for hazmat vehicle types); the trip view joins them by vehicle and time.

Reports of one vehicle come in device-time order in practice; a report not newer
than the last one a trip folded is ignored there (:mod:`.trip`), and the vehicle
rule ignores it likewise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from icvcloud.engine.context import VehicleContext
from icvcloud.engine.rules.keys import key
from icvcloud.engine.timeutil import to_us
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.model.hazmat import HAZMAT_VEHICLE_TYPES, MonitoredWaybill, Waybill
from icvcloud.model.records import Position

from .trip import FindingPhase, Fix, Trip, TripConfig, TripFinding, TripState

HAZMAT_TYPES = frozenset(HAZMAT_VEHICLE_TYPES)
#: Waybill states whose trip is still being monitored.
OPEN_STATES = frozenset({"planned", "loading", "in_transit", "unloading"})
SNAPSHOT_FORMAT = 1

_SEVERITY: dict[str, Severity] = {
    "route_deviation": Severity.HIGH, "departure_without_loading": Severity.HIGH,
    "arrival_overdue": Severity.MEDIUM, "escort_absent": Severity.HIGH, "no_waybill": Severity.HIGH,
    "unknown_person": Severity.MEDIUM,
}
#: Status bits 8–9 (JT/T 808-2013 table 24): 00 empty, 01 half, 11 full.
_LOAD_MASK = 0b11 << 8


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    trip: TripConfig = field(default_factory=TripConfig)
    no_waybill: bool = True
    no_waybill_after_s: float = 300.0
    no_waybill_stop_s: float = 600.0
    #: "always": any movement counts; "status": only while the terminal says loaded.
    loaded_from: Literal["always", "status"] = "always"
    cover_before_s: float = 3600.0
    cover_after_s: float = 12 * 3600.0


@dataclass(slots=True)
class _NoWaybill:
    since: datetime | None = None  # first moving report of the current run
    last_moving: datetime | None = None
    told: bool = False
    last_t: datetime | None = None

    def to_list(self) -> list[Any]:
        return [_iso(self.since), _iso(self.last_moving), self.told, _iso(self.last_t)]

    @classmethod
    def from_list(cls, v: list[Any]) -> _NoWaybill:
        return cls(_dt(v[0]), _dt(v[1]), bool(v[2]), _dt(v[3]))


def _stored_state(w: Waybill) -> TripState:
    """A trip's state as the store has it (no checkpoint of it): entered at ``state_at``."""
    return TripState(state=w.state, entered={w.state: w.state_at or w.departure_from})


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


class HazmatMonitor:
    def __init__(self, config: MonitorConfig | None = None, *, tick_everything: bool = True) -> None:
        self.config = config or MonitorConfig()
        #: Tick trips of vehicles this monitor never saw (one monitor per deployment does:
        #: embedded, or the holder of partition 0 in scale-out) — else only its own.
        self.tick_everything = tick_everything
        self._trips: dict[int, Trip] = {}
        self._by_vehicle: dict[int, list[int]] = {}
        self._waybills: dict[int, MonitoredWaybill] = {}
        #: (start, end) of the time each vehicle's waybills cover it.
        self._cover: dict[int, list[tuple[datetime, datetime]]] = {}
        self._no_waybill: dict[int, _NoWaybill] = {}
        #: The role of the card last inserted in each vehicle's terminal.
        self._card: dict[int, str] = {}
        self._seen: set[int] = set()
        self._contexts: dict[int, VehicleContext] = {}
        #: Trip states restored from a snapshot, for waybills not loaded yet.
        self._restored: dict[int, TripState] = {}
        #: Findings caused outside process/tick (a manual check-in learnt at a reload).
        self._pending: list[AlarmEvent] = []

    # ------------------------------------------------------------------ waybills

    def set_waybills(self, items: Iterable[MonitoredWaybill]) -> None:
        """The waybills to monitor (open ones, and recently closed ones for the cover);
        trips already running keep their state."""
        fresh: dict[int, MonitoredWaybill] = {m.waybill.id: m for m in items}
        for wid in list(self._trips):
            m = fresh.get(wid)
            if m is None or m.waybill.state not in OPEN_STATES:
                del self._trips[wid]  # cancelled, or its end is stored
        for wid, m in fresh.items():
            w = m.waybill
            if w.state not in OPEN_STATES:
                continue
            trip = self._trips.get(wid)
            if trip is None:
                st = self._restored.pop(wid, None)
                trip = self._trips[wid] = Trip(w, self.config.trip, st if st is not None else _stored_state(w))
            elif w.vehicle_id not in self._seen and w.state != trip.state.state:
                # Another monitor drives this vehicle's trip (its partition's, in scale-out);
                # this one only ticks it, on the state as stored.
                trip.state = _stored_state(w)
            for t, role in m.checkins:
                if role == "escort":
                    self._pending.extend(self._events(trip, trip.presence(t, True), None))
        self._waybills = fresh
        self._by_vehicle = {}
        for wid, trip in sorted(self._trips.items(), key=lambda kv: kv[1].waybill.departure_from):
            self._by_vehicle.setdefault(trip.waybill.vehicle_id, []).append(wid)
        self._cover = {}
        before, after = timedelta(seconds=self.config.cover_before_s), timedelta(seconds=self.config.cover_after_s)
        for m in fresh.values():
            w = m.waybill
            if w.state == "cancelled":
                continue
            trip = self._trips.get(w.id)
            done = m.completed_at or (trip.state.entered.get("completed") if trip is not None else None)
            end = max(w.arrival_until, done) if done is not None else w.arrival_until
            self._cover.setdefault(w.vehicle_id, []).append((w.departure_from - before, end + after))

    def trip(self, waybill_id: int) -> Trip | None:
        return self._trips.get(waybill_id)

    # ------------------------------------------------------------------ driving

    def process(self, vehicle: VehicleContext, p: Position) -> list[AlarmEvent]:
        vid = vehicle.vehicle_id
        wids = self._by_vehicle.get(vid)
        hazmat = vehicle.vehicle_type in HAZMAT_TYPES
        out = self._take_pending()
        if wids is None and not hazmat:
            return out  # the common case, kept cheap: most vehicles are not hazmat vehicles
        self._seen.add(vid)
        self._contexts[vid] = vehicle
        fix = Fix(p.device_time, p.lon, p.lat, p.speed_kmh)
        for wid in wids or ():
            trip = self._trips[wid]
            out.extend(self._events(trip, trip.report(fix), fix))
        if self.config.no_waybill and hazmat:
            out.extend(self._no_waybill_rule(vehicle, p))
        return out

    def _take_pending(self) -> list[AlarmEvent]:
        """What waited for the next call (findings of a reload); cheap when nothing did."""
        if not self._pending:
            return []
        out, self._pending = self._pending, []
        return out

    def identity(self, vehicle: VehicleContext, t: datetime, inserted: bool, certificate_no: str,
                 id_card: str = "") -> list[AlarmEvent]:
        """An IC card was inserted (and read: ``certificate_no``, 2019 cards also
        ``id_card`` — many provinces number the qualification certificate with the
        holder's ID card number, so either may match) or removed at ``t``."""
        vid = vehicle.vehicle_id
        out = self._take_pending()
        self._contexts[vid] = vehicle
        if not inserted:
            role = self._card.pop(vid, None)
            if role == "escort":
                for wid in self._by_vehicle.get(vid, ()):
                    trip = self._trips[wid]
                    out.extend(self._events(trip, trip.presence(t, False), None))
            return out
        cert = certificate_no.strip()
        numbers = {n for n in (cert, id_card.strip()) if n}
        for wid in self._by_vehicle.get(vid, ()):
            trip, m = self._trips[wid], self._waybills[wid]
            if trip.state.state not in ("loading", "in_transit", "unloading") and t < m.waybill.departure_from:
                continue
            if numbers & set(m.escort_certificates):
                self._card[vid] = "escort"
                out.extend(self._events(trip, trip.presence(t, True), None))
            elif numbers & set(m.driver_certificates):
                self._card[vid] = "driver"
            elif trip.state.state in ("loading", "in_transit", "unloading"):
                self._card[vid] = "unknown"
                out.append(self._event(vehicle, "unknown_person", key(vid, "hazmat.unknown_person", wid, to_us(t)),
                                       t, None, "instant", trip.waybill,
                                       {"certificate_no": cert or "(unread)"}))
        return out

    def tick(self, now: datetime) -> list[AlarmEvent]:
        out = self._take_pending()
        for trip in list(self._trips.values()):
            vid = trip.waybill.vehicle_id
            if not self.tick_everything and vid not in self._seen:
                continue
            out.extend(self._events(trip, trip.tick(now), None))
        return out

    # ------------------------------------------------------------------ rules

    def _covered(self, vehicle_id: int, t: datetime) -> bool:
        return any(a <= t <= b for a, b in self._cover.get(vehicle_id, ()))

    def _no_waybill_rule(self, vehicle: VehicleContext, p: Position) -> list[AlarmEvent]:
        cfg, vid, t = self.config, vehicle.vehicle_id, p.device_time
        st = self._no_waybill.setdefault(vid, _NoWaybill())
        if st.last_t is not None and t <= st.last_t:
            return []
        st.last_t = t
        out: list[AlarmEvent] = []
        loaded = cfg.loaded_from == "always" or bool(p.status & _LOAD_MASK)
        moving = p.speed_kmh >= cfg.trip.moving_kmh and loaded
        covered = self._covered(vid, t)
        if covered or (not moving and st.last_moving is not None
                       and (t - st.last_moving).total_seconds() >= cfg.no_waybill_stop_s):
            if st.told and st.since is not None and st.last_moving is not None:
                end = t if covered else st.last_moving
                out.append(self._event(vehicle, "no_waybill", key(vid, "hazmat.no_waybill", to_us(st.since)),
                                       st.since, end, "end", None, {"ended_by": "waybill" if covered else "stop"}))
            self._no_waybill[vid] = _NoWaybill(last_t=t)
            return out
        if not moving:
            return out
        if st.since is None:
            st.since = t
        st.last_moving = t
        if not st.told and (t - st.since).total_seconds() >= cfg.no_waybill_after_s:
            st.told = True
            out.append(self._event(vehicle, "no_waybill", key(vid, "hazmat.no_waybill", to_us(st.since)), st.since,
                                   None, "start", None, {"lon": p.lon, "lat": p.lat, "speed_kmh": p.speed_kmh}))
        return out

    # ------------------------------------------------------------------ events

    def _events(self, trip: Trip, findings: list[TripFinding], fix: Fix | None) -> list[AlarmEvent]:
        w = trip.waybill
        vehicle = self._contexts.get(w.vehicle_id)
        if vehicle is None:  # not reported since the monitor started: the registry's terminal
            m = self._waybills.get(w.id)
            vehicle = VehicleContext(vehicle_id=w.vehicle_id, device_id=m.device_id if m else "", org_id=w.org_id)
        out: list[AlarmEvent] = []
        for f in findings:
            if f.kind == "state_changed":
                out.append(AlarmEvent(
                    key=f"trip|{w.id}|{f.details['to']}", vehicle_id=w.vehicle_id, device_id=vehicle.device_id,
                    org_id=w.org_id, alarm_type="trip.state", category="trip", phase="instant",
                    severity=Severity.INFO, start_time=f.t, end_time=f.t,
                    lat=fix.lat if fix is not None else None, lon=fix.lon if fix is not None else None,
                    details={"waybill_id": w.id, **f.details}))
                continue
            k = key(w.vehicle_id, f"hazmat.{f.kind}", w.id, to_us(f.t))
            details = dict(f.details)
            if fix is not None and "lon" not in details:
                details.update(lon=fix.lon, lat=fix.lat)
            out.append(self._event(vehicle, f.kind, k, f.t, f.end, f.phase, w, details))
        return out

    def _event(self, vehicle: VehicleContext, kind: str, k: str, start: datetime, end: datetime | None,
               phase: FindingPhase, waybill: Waybill | None, details: dict[str, Any]) -> AlarmEvent:
        if waybill is not None:
            details = {"waybill_id": waybill.id, "waybill_number": waybill.number, **details}
        lon, lat = details.get("lon"), details.get("lat")
        return AlarmEvent(key=k, vehicle_id=vehicle.vehicle_id, device_id=vehicle.device_id,
                          org_id=waybill.org_id if waybill is not None else vehicle.org_id,
                          alarm_type=f"hazmat.{kind}", category="hazmat", phase=phase, severity=_SEVERITY[kind],
                          start_time=start, end_time=end if phase != "instant" else start,
                          lat=float(lat) if isinstance(lat, int | float) else None,
                          lon=float(lon) if isinstance(lon, int | float) else None, details=details)

    # ------------------------------------------------------------------ checkpoints

    def snapshot(self) -> bytes:
        trips = {str(wid): t.state.to_dict() for wid, t in self._trips.items()}
        trips.update({str(wid): st.to_dict() for wid, st in self._restored.items() if wid not in self._trips})
        return json.dumps({"format": SNAPSHOT_FORMAT, "trips": trips,
                           "no_waybill": {str(v): s.to_list() for v, s in self._no_waybill.items()},
                           "cards": {str(v): r for v, r in self._card.items()}, "seen": sorted(self._seen)},
                          separators=(",", ":")).encode()

    def restore(self, blob: bytes) -> None:
        d = json.loads(blob)
        if d.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown trip monitor snapshot format {d.get('format')!r}")
        states = {int(k): TripState.from_dict(v) for k, v in d["trips"].items()}
        self._restored = {}
        for wid, st in states.items():
            trip = self._trips.get(wid)
            if trip is not None:
                trip.state = st
            else:
                self._restored[wid] = st
        self._no_waybill = {int(k): _NoWaybill.from_list(v) for k, v in d["no_waybill"].items()}
        self._card = {int(k): str(v) for k, v in d["cards"].items()}
        self._seen = {int(v) for v in d["seen"]}
        self._pending = []
