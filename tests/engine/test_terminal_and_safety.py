"""Terminal alarm bits and active-safety items, from frames through the codec."""

from __future__ import annotations

from datetime import timedelta

from icvcloud.engine import Engine, RuleProfiles
from icvcloud.engine.rules.terminal import ALARM_BIT_NAMES, SEVERITY
from icvcloud.model.alarms import Severity
from icvcloud.protocols.jt808.bits import ALARM_BITS
from icvcloud.protocols.jt808.extras import OverspeedInfo

from .helpers import T0, fold_events, of_type, pos, run, vehicle
from .wire import adas, bsd, dsm, location, through_gateway, tpms

BUS = vehicle(3, "coach")


def s(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_bit_names_match_the_codec() -> None:
    assert ALARM_BIT_NAMES == ALARM_BITS
    assert set(SEVERITY) == set(ALARM_BITS.values())


def test_every_bit_has_start_and_end() -> None:
    for bit, name in ALARM_BIT_NAMES.items():
        evs = run(Engine(), BUS, [pos(0, speed=0, alarm=1 << bit), pos(30, speed=0, alarm=1 << bit),
                                   pos(60, speed=0)])
        (start, end) = of_type(evs, f"terminal.{name}")
        assert start.phase == "start" and start.category == "terminal" and start.details["bit"] == bit
        assert (end.start_time, end.end_time) == (T0, T0 + s(60))


def test_emergency_with_overlapping_power_cut() -> None:
    emergency, power = 1 << 0, 1 << 8
    evs = fold_events(run(Engine(), BUS, [pos(0, alarm=emergency), pos(30, alarm=emergency | power),
                                          pos(60, alarm=power), pos(90)]))
    (em,) = of_type(evs, "terminal.emergency")
    (pw,) = of_type(evs, "terminal.main_power_off")
    assert em.severity == Severity.CRITICAL and (em.start, em.end) == (T0, T0 + s(60))
    assert pw.severity == Severity.HIGH and (pw.start, pw.end) == (T0 + s(30), T0 + s(90))


def test_terminal_details_from_the_frame() -> None:
    loc = location(T0, 118.05, 36.81, 90, alarm=1 << 1)
    loc.extras[0x11] = OverspeedInfo(location_type=4, area_id=77)
    (ev,) = run(Engine(), BUS, [through_gateway(loc)])
    assert ev.alarm_type == "terminal.overspeed" and ev.details["0x11"]["overspeed"]["area_id"] == 77


def test_terminal_config_ignore_and_severity() -> None:
    p = RuleProfiles.from_dict({"defaults": {"terminal": {"ignore": ["camera_fault"],
                                                          "severity": {"vss_fault": "critical"}}}})
    evs = run(Engine(p), BUS, [pos(0, alarm=(1 << 11) | (1 << 24))])
    assert [(e.alarm_type, e.severity) for e in evs] == [("terminal.vss_fault", Severity.CRITICAL)]


def test_adas_alarm_with_attachments() -> None:
    loc = location(T0, 118.05, 36.81, items={0x64: adas(T0, 41, alarm_type=1, level=2)})
    (ev,) = run(Engine(), BUS, [through_gateway(loc)])
    assert ev.alarm_type == "adas.forward_collision" and ev.category == "active_safety"
    assert ev.phase == "instant" and ev.severity == Severity.HIGH and ev.start_time == T0
    assert ev.details["attachment_count"] == 3 and ev.details["alarm_id"] == 41
    assert ev.details["identification"]["terminal_id"] == "T000001"
    assert ev.details["identification"]["seq"] == 0
    assert (ev.lat, ev.lon) == (36.81, 118.06)
    assert ev.key == f"3|adas.forward_collision|41|{int(T0.timestamp() * 1e6)}"


def test_dsm_start_and_end_pair_by_alarm_id() -> None:
    a = through_gateway(location(T0, 118.05, 36.81, items={0x65: dsm(T0, 7, flag=1)}), seq=1)
    b = through_gateway(location(T0 + s(30), 118.05, 36.81, items={0x65: dsm(T0 + s(25), 7, flag=2)}), seq=2)
    evs = run(Engine(), BUS, [a, b])
    assert [(e.alarm_type, e.phase) for e in evs] == [("dsm.fatigue", "start"), ("dsm.fatigue", "end")]
    assert evs[0].key == evs[1].key and evs[1].end_time == T0 + s(25)
    assert evs[0].severity == Severity.MEDIUM and evs[0].details["fatigue_level"] == 6


def test_bsd_tpms_and_events() -> None:
    snap = adas(T0, 9, alarm_type=0x11, level=1)  # active snapshot: an event, not an alarm
    loc = location(T0, 118.05, 36.81, items={0x67: bsd(T0, 1), 0x66: tpms(T0, 2), 0x64: snap})
    evs = {e.alarm_type: e for e in run(Engine(), BUS, [through_gateway(loc)])}
    assert set(evs) == {"bsd.right_rear_approach", "tpms.tyre", "adas.active_snapshot"}
    assert evs["adas.active_snapshot"].severity == Severity.INFO
    assert evs["tpms.tyre"].details["tyre_events"] == ["pressure_low"]
    assert evs["bsd.right_rear_approach"].details["attachment_count"] == 1


def test_undecodable_item_is_skipped() -> None:
    p = pos(0, extras={"0x64": {"raw": "0102", "error": "length 2 not valid for adas_alarm"}})
    assert run(Engine(), BUS, [p]) == []
