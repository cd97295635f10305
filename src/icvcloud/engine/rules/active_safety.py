"""Active-safety alarms (T/JSATL 12 苏标 / T/GDRTA 002 粤标): ADAS 0x64, DSM 0x65,
TPMS 0x66 and BSD 0x67 items of 0x0200, as decoded to JSON by the codec.

Each item carries the terminal's alarm ID, a flag (0: no start/end — a point
event; 1: start; 2: end), the alarm type and level, and the alarm identification
(报警标识号) with the number of evidence files. The identification and attachment
count go into the details unchanged: the attachment retriever builds 0x9208 from
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..episodes import Episode, new_episode
from ..sample import SAFETY_ITEMS
from ..step import Step
from ..timeutil import US, to_us
from .keys import key

#: Item → (peripheral, JSON key of the decoded item).
PERIPHERALS = {"0x64": ("adas", "adas_alarm"), "0x65": ("dsm", "dsm_alarm"), "0x66": ("tpms", "tpms_alarm"),
               "0x67": ("bsd", "bsd_alarm")}
#: Types that are events, not alarms: snapshots, road-sign recognition, driver change.
EVENT_TYPES = {("adas", 0x10), ("adas", 0x11), ("dsm", 0x10), ("dsm", 0x11)}
#: Detail fields copied from the item when present.
_COPY = ("level", "front_vehicle_speed_kmh", "front_headway_100ms", "deviation_type_name", "road_sign_type_name",
         "road_sign_value", "fatigue_level", "speed_kmh", "vehicle_status_flags")
#: A start whose end never came is closed (end unknown) after this long.
MAX_OPEN_US = 3600 * US


@dataclass(slots=True)
class ActiveSafetyState:
    #: "peripheral:alarm_id:type" → the open episode.
    open: dict[str, Episode] = field(default_factory=dict)


def _time(v: Any, default: int) -> int:
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            return default
        return to_us(dt)
    return default


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def parse_item(item_id: str, raw: Any, report_t: int) -> dict[str, Any] | None:
    """One decoded item → the fields the rule uses, or None if it is not a decodable
    item. Fields of the wrong type (hand-made or damaged JSON) are treated as absent."""
    per, jkey = PERIPHERALS[item_id]
    if not isinstance(raw, dict):
        return None
    it = raw.get(jkey)
    if not isinstance(it, dict):
        return None  # kept raw by the codec (wrong length): nothing to evaluate
    code = _int(it.get("alarm_type"))
    if per == "tpms":
        events = it.get("events")
        found: set[str] = set()
        for ev in events if isinstance(events, list) else []:
            fl = ev.get("events_flags") if isinstance(ev, dict) else None
            found.update(str(f) for f in (fl if isinstance(fl, list) else []) if f != "pressure_report")
        flags = sorted(found)
        name = "tyre"
    else:
        flags = []
        n = it.get("alarm_type_name")
        name = n if isinstance(n, str) and n else f"type_{code}"
    ident = it.get("identification") if isinstance(it.get("identification"), dict) else {}
    flag = _int(it.get("flag"))
    return {
        "peripheral": per,
        "name": name,
        "code": code,
        "alarm_id": _int(it.get("alarm_id")),
        "flag": flag if flag in (0, 1, 2) else 0,
        "level": _int(it.get("level")),
        "t": _time(it.get("time"), report_t),
        "lat": _num(it.get("lat")),
        "lon": _num(it.get("lon")),
        "item": it,
        "ident": ident,
        "tyre_flags": flags,
    }


def _details(p: dict[str, Any]) -> dict[str, Any]:
    it = p["item"]
    d: dict[str, Any] = {"peripheral": p["peripheral"], "alarm_id": p["alarm_id"], "alarm_type_code": p["code"],
                         "flag": p["flag"]}
    for k in _COPY:
        if k in it:
            d[k] = it[k]
    if p["peripheral"] == "tpms":
        d["tyres"] = it.get("events", [])
        d["tyre_events"] = p["tyre_flags"]
    d["identification"] = p["ident"]
    d["attachment_count"] = _int(p["ident"].get("attachment_count")) or 0
    return d


def _severity(p: dict[str, Any], x: Step) -> int:
    cfg = x.rules.active_safety
    if (p["peripheral"], p["code"]) in EVENT_TYPES:
        return cfg.event_severity
    return cfg.level2_severity if p["level"] == 2 else cfg.level1_severity


def step(st: ActiveSafetyState | None, x: Step) -> ActiveSafetyState | None:
    """Fold the report in; the state to keep (None while no episode is open)."""
    if st is None:
        if not x.s.extras:
            return None
        st = ActiveSafetyState()
    _step(st, x)
    return st if st.open else None


def _step(st: ActiveSafetyState, x: Step) -> None:
    ex = x.s.extras
    cfg = x.rules.active_safety
    t = x.s.t
    if st.open:
        for k in list(st.open):
            ep = st.open[k]
            if t - ep.start_us > MAX_OPEN_US:
                del st.open[k]
                ep.close(ep.start_us)
                ep.details["end_unknown"] = True
                x.book.touch(ep)
    if not ex or not cfg.enabled:
        return
    vid = x.v.vehicle_id
    for item_id in SAFETY_ITEMS:
        raw = ex.get(item_id)
        if raw is None:
            continue
        p = parse_item(item_id, raw, t)
        if p is None:
            continue
        alarm_type = f"{p['peripheral']}.{p['name']}"
        if alarm_type in cfg.ignore:
            continue
        lat, lon = p["lat"], p["lon"]
        if lat is None or lon is None or (lat == 0 and lon == 0):
            lat, lon = (x.s.lat, x.s.lon) if x.loc_ok else (x.lat, x.lon)
        pair = f"{p['peripheral']}:{p['alarm_id']}:{p['code']}"
        flag = p["flag"]
        if flag == 2:
            started = st.open.pop(pair, None)
            if started is not None:
                started.close(p["t"])
                started.details["end_flag_item"] = _details(p)
                x.book.touch(started)
                continue
            # An end without its start (lost, or older than the window): an episode
            # that starts and ends at the end's time.
            ep = new_episode(key(vid, alarm_type, p["alarm_id"], p["t"]), alarm_type, "active_safety",
                             _severity(p, x), p["t"], lat, lon, _details(p))
            ep.close(p["t"])
            x.book.touch(ep)
            continue
        if flag == 1:
            if pair in st.open:
                continue  # the start repeated in a later report
            ep = new_episode(key(vid, alarm_type, p["alarm_id"], p["t"]), alarm_type, "active_safety",
                             _severity(p, x), p["t"], lat, lon, _details(p))
            st.open[pair] = ep
            x.book.touch(ep)
            continue
        ep = new_episode(key(vid, alarm_type, p["alarm_id"], p["t"]), alarm_type, "active_safety", _severity(p, x),
                         p["t"], lat, lon, _details(p), instant=True)
        x.book.touch(ep)
