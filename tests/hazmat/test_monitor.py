"""The trip monitor (icvcloud.hazmat.monitor) as the alarm consumer runs it: trips of
loaded waybills, the no-waybill rule, IC cards, checkpoints."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from icvcloud.engine.context import VehicleContext
from icvcloud.hazmat.monitor import HazmatMonitor, MonitorConfig
from icvcloud.hazmat.trip import TripConfig
from icvcloud.model.alarms import AlarmEvent
from icvcloud.model.hazmat import MonitoredWaybill
from icvcloud.model.records import Position

from .test_trip import LAT, SCRIPT, T0, at, waybill

TANKER = VehicleContext(vehicle_id=7, device_id="13800000007", org_id=3, vehicle_type="hazmat_tanker")
BUS = VehicleContext(vehicle_id=8, device_id="13800000008", org_id=3, vehicle_type="bus")


def pos(t: datetime, lon: float, speed_kmh: float, status: int = 0) -> Position:
    return Position(device_id="13800000007", device_time=t, seq=0, received_at=t, lat=LAT, lon=lon,
                    speed_kmh=speed_kmh, status=status)


def drive(m: HazmatMonitor, vehicle: VehicleContext, fixes: list[tuple[float, float, float]]) -> list[AlarmEvent]:
    out: list[AlarmEvent] = []
    for s, lon, v in fixes:
        out += m.process(vehicle, pos(at(s), lon, v))
    return out


def of(evs: list[AlarmEvent], alarm_type: str) -> list[AlarmEvent]:
    return [e for e in evs if e.alarm_type == alarm_type]


def script_positions() -> list[Position]:
    return [pos(f.t, f.lon, f.speed_kmh) for f in SCRIPT]


def test_trip_state_changes_and_findings_come_out_as_events() -> None:
    m = HazmatMonitor()
    m.set_waybills([MonitoredWaybill(waybill(escort_id=2), escort_certificates=("E-1",))])
    evs = [e for p in script_positions() for e in m.process(TANKER, p)]
    states = [(e.details["to"], e.start_time) for e in evs if e.category == "trip"]
    assert states == [("loading", at(60)), ("in_transit", at(1210)), ("unloading", at(3600)),
                      ("completed", at(6000))]
    assert all(e.key == f"trip|42|{e.details['to']}" for e in evs if e.category == "trip")
    esc = of(evs, "hazmat.escort_absent")
    assert [(e.phase, e.start_time) for e in esc] == [("start", at(1210)), ("end", at(1210))]
    assert esc[0].key == esc[1].key and esc[1].end_time == at(3600)
    assert esc[0].details["waybill_id"] == 42 and esc[0].category == "hazmat" and esc[0].org_id == 3


def test_ic_card_of_the_escort_checks_in_and_removal_checks_out() -> None:
    m = HazmatMonitor()
    m.set_waybills([MonitoredWaybill(waybill(escort_id=2), driver_certificates=("D-1",),
                                     escort_certificates=("E-1",))])
    ps = script_positions()
    evs = [e for p in ps[:2] for e in m.process(TANKER, p)]  # loading
    evs += m.identity(TANKER, at(100), True, "D-1")  # the driver's card: fine
    evs += m.identity(TANKER, at(120), True, "E-1 ")  # the escort's (padded as terminals send it)
    evs += [e for p in ps[2:] for e in m.process(TANKER, p)]
    assert of(evs, "hazmat.escort_absent") == [] and of(evs, "hazmat.unknown_person") == []
    # A stranger's card during a trip is a finding.
    m2 = HazmatMonitor()
    m2.set_waybills([MonitoredWaybill(waybill(), driver_certificates=("D-1",))])
    for p in ps[:2]:
        m2.process(TANKER, p)
    evs = m2.identity(TANKER, at(200), True, "X-9")
    assert [(e.alarm_type, e.details["certificate_no"]) for e in evs] == [("hazmat.unknown_person", "X-9")]
    # A 2019 card whose certificate field is blank but whose ID-card number is the qualification's number.
    assert m2.identity(TANKER, at(300), True, "", "D-1") == []


def test_manual_checkin_learnt_at_reload_ends_an_open_absence() -> None:
    m = HazmatMonitor()
    wb = MonitoredWaybill(waybill(escort_id=2))
    m.set_waybills([wb])
    ps = script_positions()
    evs = [e for p in ps[:7] for e in m.process(TANKER, p)]  # in transit since 1210, report at 2500
    assert [e.phase for e in of(evs, "hazmat.escort_absent")] == ["start"]
    m.set_waybills([dataclasses.replace(wb, checkins=((at(2400), "escort"),))])
    evs = m.process(TANKER, ps[7])  # the pending end comes out with the next call
    end = of(evs, "hazmat.escort_absent")
    assert [(e.phase, e.end_time) for e in end] == [("end", at(2400))]


def test_moving_without_a_waybill_is_one_episode_until_a_long_stop() -> None:
    m = HazmatMonitor()
    m.set_waybills([])
    evs = drive(m, TANKER, [(0, 118.2, 40), (120, 118.21, 40), (290, 118.22, 40),  # 290 s: not yet
                            (300, 118.23, 40),  # 300 s moving → start, dated 0
                            (400, 118.24, 0), (850, 118.24, 0),  # 550 s since moving: the run goes on
                            (960, 118.25, 30), (1000, 118.26, 0), (1700, 118.26, 0)])  # 700 s stopped: ends
    nw = of(evs, "hazmat.no_waybill")
    assert [(e.phase, e.start_time, e.end_time) for e in nw] == [("start", at(0), None), ("end", at(0), at(960))]
    assert nw[0].severity >= 3 and "waybill_id" not in nw[0].details
    # Not a hazmat vehicle: nothing.
    assert drive(m, BUS, [(0, 118.2, 40), (400, 118.3, 40)]) == []


def test_a_covering_waybill_ends_or_prevents_the_no_waybill_finding() -> None:
    m = HazmatMonitor()
    # Departure window 02:00–03:00, arrival until 05:00; cover from 01:00 to 17:00.
    m.set_waybills([MonitoredWaybill(waybill())])
    assert of(drive(m, TANKER, [(-3000, 118.3, 40), (-2000, 118.31, 40)]), "hazmat.no_waybill") == []  # covered
    late = 15 * 3600 + 100  # after the cover
    evs = drive(m, TANKER, [(late, 118.3, 40), (late + 400, 118.31, 40)])
    assert [e.phase for e in of(evs, "hazmat.no_waybill")] == ["start"]
    # The empty return is covered until 12 h after the arrival window.
    m2 = HazmatMonitor()
    m2.set_waybills([MonitoredWaybill(waybill())])
    evs = drive(m2, TANKER, [(10 * 3600, 118.3, 40), (10 * 3600 + 900, 118.31, 40)])
    assert [e.alarm_type for e in evs] == ["hazmat.arrival_overdue"]  # the trip never started, but no no_waybill


def test_loaded_from_status_bits() -> None:
    m = HazmatMonitor(MonitorConfig(loaded_from="status"))
    m.set_waybills([])
    empty = [m.process(TANKER, pos(at(s), 118.2, 40, status=0)) for s in (0, 400)]
    assert empty == [[], []]
    full = 0b11 << 8
    evs = [e for s in (500, 900) for e in m.process(TANKER, pos(at(s), 118.2, 40, status=full))]
    assert [(e.phase, e.start_time) for e in of(evs, "hazmat.no_waybill")] == [("start", at(500))]


def test_snapshot_round_trip_mid_trip_gives_identical_events() -> None:
    cfg = MonitorConfig(trip=TripConfig(complete_after_s=1800))
    wbs = [MonitoredWaybill(waybill(escort_id=2, arrival_until=at(2000)))]
    ps = script_positions()
    for cut in range(1, len(ps)):
        a = HazmatMonitor(cfg)
        a.set_waybills(wbs)
        for p in ps[:cut]:
            a.process(TANKER, p)
        b = HazmatMonitor(cfg)
        b.restore(a.snapshot())  # restored before the waybills are loaded, as at a consumer start
        b.set_waybills(wbs)
        out_a = [e for p in ps[cut:] for e in a.process(TANKER, p)] + a.tick(at(20_000))
        out_b = [e for p in ps[cut:] for e in b.process(TANKER, p)] + b.tick(at(20_000))
        assert out_a == out_b, cut
        assert a.snapshot() == b.snapshot()


def test_ticks_of_trips_whose_vehicle_this_monitor_never_saw() -> None:
    wb = MonitoredWaybill(waybill(arrival_until=T0 + timedelta(hours=1)), device_id="13900000777")
    everything, own = HazmatMonitor(tick_everything=True), HazmatMonitor(tick_everything=False)
    for m in (everything, own):
        m.set_waybills([wb])
    (overdue,) = everything.tick(at(4000))
    # The finding names the vehicle's terminal from the registry, though it never reported here.
    assert overdue.alarm_type == "hazmat.arrival_overdue" and overdue.device_id == "13900000777"
    assert own.tick(at(4000)) == []
    # A trip another monitor drives is ticked on its stored state: unloading is not overdue.
    late = HazmatMonitor(tick_everything=True)
    late.set_waybills([MonitoredWaybill(dataclasses.replace(wb.waybill, state="unloading", state_at=at(3000)))])
    assert late.tick(at(4000)) == []
