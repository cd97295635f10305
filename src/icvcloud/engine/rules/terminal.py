"""Terminal alarms: every alarm bit of 0x0200 as an episode from the first report
with the bit set to the first report without it.

The bit names repeat the codec's table (``protocols/jt808/bits.py``) because the
engine must not import protocols; a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from icvcloud.model.alarms import Severity

from ..episodes import Episode, new_episode
from ..step import Step
from .keys import key

ALARM_BIT_NAMES: dict[int, str] = {
    0: "emergency", 1: "overspeed", 2: "fatigue_driving", 3: "danger_warning", 4: "gnss_module_fault",
    5: "gnss_antenna_disconnected", 6: "gnss_antenna_short_circuit", 7: "main_power_undervoltage",
    8: "main_power_off", 9: "display_fault", 10: "tts_fault", 11: "camera_fault", 12: "ic_card_module_fault",
    13: "overspeed_warning", 14: "fatigue_warning", 15: "illegal_driving_period", 16: "tyre_pressure_warning",
    17: "right_turn_blind_spot", 18: "daily_driving_overtime", 19: "parking_overtime", 20: "area_in_out",
    21: "route_in_out", 22: "section_time_abnormal", 23: "route_deviation", 24: "vss_fault", 25: "fuel_abnormal",
    26: "stolen", 27: "illegal_ignition", 28: "illegal_displacement", 29: "collision_warning",
    30: "rollover_warning", 31: "illegal_door_open",
}

_C, _H, _M, _L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
#: Severity per bit: life first (SOS, collision, rollover), then tampering and theft
#: (power cut, cut antenna, illegal ignition/displacement), then driving alarms the
#: terminal itself raised, then faults and pre-warnings.
SEVERITY: dict[str, Severity] = {
    "emergency": _C, "collision_warning": _C, "rollover_warning": _C,
    "main_power_off": _H, "gnss_antenna_disconnected": _H, "stolen": _H, "illegal_ignition": _H,
    "illegal_displacement": _H, "illegal_door_open": _H, "danger_warning": _H, "overspeed": _H,
    "fatigue_driving": _H, "route_deviation": _H, "illegal_driving_period": _H,
    "gnss_module_fault": _M, "gnss_antenna_short_circuit": _M, "main_power_undervoltage": _M,
    "daily_driving_overtime": _M, "parking_overtime": _M, "area_in_out": _M, "route_in_out": _M,
    "section_time_abnormal": _M, "right_turn_blind_spot": _M, "tyre_pressure_warning": _M, "vss_fault": _M,
    "fuel_abnormal": _M, "camera_fault": _M,
    "display_fault": _L, "tts_fault": _L, "ic_card_module_fault": _L, "overspeed_warning": _L,
    "fatigue_warning": _L,
}

#: The additional item that explains a bit (JT/T 808 table 28: 0x11 overspeed,
#: 0x12 area/route in/out, 0x13 section time).
_EXPLAINED_BY = {1: "0x11", 20: "0x12", 21: "0x12", 22: "0x13"}


@dataclass(slots=True)
class TerminalState:
    open: dict[int, Episode] = field(default_factory=dict)


def step(st: TerminalState | None, x: Step) -> TerminalState | None:
    """Fold the report in; the state to keep (None while no bit is set: nothing to keep)."""
    a = x.s.alarm
    if st is None:
        if not a:
            return None
        st = TerminalState()
    _step(st, x)
    return st if st.open else None


def _step(st: TerminalState, x: Step) -> None:
    a = x.s.alarm
    if not a and not st.open:
        return
    cfg = x.rules.terminal
    t = x.s.t
    for bit in list(st.open):
        if not a >> bit & 1:
            ep = st.open.pop(bit)
            ep.close(t)
            x.book.touch(ep)
    if not cfg.enabled:
        return
    bits = a
    while bits:
        low = bits & -bits
        bit = low.bit_length() - 1
        bits ^= low
        if bit in st.open:
            continue
        name = ALARM_BIT_NAMES[bit]
        if name in cfg.ignore:
            continue
        sev = cfg.severity.get(name, SEVERITY[name])
        details: dict[str, object] = {"bit": bit, "name": name}
        ex = x.s.extras
        item = _EXPLAINED_BY.get(bit)
        if ex and item and item in ex:
            details[item] = ex[item]
        lat, lon = (x.s.lat, x.s.lon) if x.loc_ok else (x.lat, x.lon)
        ep = new_episode(key(x.v.vehicle_id, f"terminal.{name}", t), f"terminal.{name}", "terminal", sev, t,
                         lat, lon, details)
        st.open[bit] = ep
        x.book.touch(ep)
