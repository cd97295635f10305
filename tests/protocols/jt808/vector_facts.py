"""How the free-form facts of ``vectors.json`` map onto our decoded objects.

Each vector lists ``facts``: values its source asserts, in the source's own
snake_case names and raw units (``lat_raw`` = degrees x 1e6, ``speed_raw`` = 1/10
km/h, ``time_local`` = device time without offset). Here every such key is given
a small function ``fn(seen, obj)`` that reads the same value from what *our*
decoder produced: ``seen`` is the :class:`Seen` frame context, ``obj`` the object
the key belongs to (the message body at the top level, an additional item, an
area, a parameter …). Nested facts (dicts of items, lists of areas) are mapped by
:class:`One`, :class:`Each` and :class:`Keyed`.

A key that is neither mapped nor listed in an ``unchecked`` table makes the test
fail, so no asserted value is silently ignored.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import RawItem, encode_item
from icvcloud.protocols.jt808.location import LOCATION
from icvcloud.protocols.jt808.params import PARAM
from icvcloud.protocols.jt808.wire import gbk_encode

Fn = Callable[[Any, Any], Any]


@dataclass
class Seen:
    """What the test decoded from one vector, handed to every fact function."""

    msg: jt808.Message
    ctx: jt808.Ctx
    #: Unescaped header + body (no flags, no check code); empty for reassembled sets.
    content: bytes = b""
    #: The body bytes as received (reassembled for sub-packaged sets).
    body: bytes = b""
    #: The packets of a sub-packaged set, in index order.
    packets: list[jt808.Message] = field(default_factory=list)
    #: Whether the check code verified.
    check_ok: bool = True


@dataclass
class Scope:
    """Fact keys of one object: mapped functions or nested scopes, and keys we
    deliberately do not check (with the reason)."""

    facts: dict[str, Any]
    unchecked: dict[str, str] = field(default_factory=dict)


@dataclass
class One:
    """A fact whose value is a dict describing one nested object."""

    get: Fn
    scope: Scope


@dataclass
class Each:
    """A fact whose value is a list of dicts, one per nested object (same length)."""

    get: Fn
    scope: Scope


@dataclass
class Keyed:
    """A fact whose value is a dict keyed by an ID (``"0x01"``, ``"0x0013"``):
    ``get(seen, obj, key)`` gives the object, ``scope(key)`` its fact keys."""

    get: Callable[[Any, Any, str], Any]
    scope: Callable[[str], Scope]


# --------------------------------------------------------------------------------------
# Value helpers


def t(v: datetime | date | str | None) -> str | None:
    """A device time as the vectors write it: naive local ISO, or the raw digits."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=None).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def raw_coord(v: float) -> int:
    return round(abs(v) * 1e6)


def timed(get: Callable[[Any], Any]) -> Fn:
    """A time field that exists only when attribute bit 0 is set (areas, routes)."""
    return lambda s, o: t(get(o)) if o.attr & 1 else None


def speed_limited(get: Callable[[Any], Any]) -> Fn:
    """A speed field that exists only when attribute bit 1 is set."""
    return lambda s, o: get(o) if o.attr & 2 else None


def lifted(scope: Scope, get: Callable[[Any], Any]) -> Scope:
    """The same scope applied to ``get(obj)`` (for flat facts of an embedded object)."""

    def wrap(f: Any) -> Any:
        if isinstance(f, (One, Each)):
            return type(f)(lambda s, o, g=f.get: g(s, get(o)), f.scope)
        if isinstance(f, Keyed):
            return Keyed(lambda s, o, k, g=f.get: g(s, get(o), k), f.scope)
        return lambda s, o: f(s, get(o))

    return Scope({k: wrap(f) for k, f in scope.facts.items()}, dict(scope.unchecked))


# --------------------------------------------------------------------------------------
# Header facts (every message)


def _encryption(s: Seen, o: Any) -> str:
    return {0: "none", 0x400: "rsa"}.get(s.msg.encryption, hex(s.msg.encryption))


def _decode_mode(s: Seen, o: Any) -> str:
    return "JTT2013Force" if s.msg.version_flag_forced else f"JTT{s.msg.version}"


def _declared_len(s: Seen, o: Any) -> int:
    return struct.unpack_from(">H", s.content, 2)[0] & 0x3FF


HEADER: dict[str, Fn] = {
    "phone": lambda s, o: s.msg.phone,  # compared without leading zeros
    "phone_bcd": lambda s, o: s.msg.phone,
    "phone_raw_hex": lambda s, o: s.msg.phone,  # our phone is the field's hex digits, valid BCD or not
    "seq": lambda s, o: s.msg.seq,
    "protocol_version": lambda s, o: s.msg.protocol_version,
    "version_flag": lambda s, o: s.msg.version == jt808.V2019 or s.msg.version_flag_forced,
    "body_len": lambda s, o: len(s.body),
    "decodes_ok": lambda s, o: True,  # reaching the fact check means decoding succeeded
    "subpackaged": lambda s, o: s.msg.packet_total > 0,
    "packet_total": lambda s, o: s.msg.packet_total,
    "packet_no": lambda s, o: s.msg.packet_index,
    "encryption": _encryption,
    "decode_mode": _decode_mode,
}

#: The collector's ``derived_header`` of each full frame, checked the same way.
DERIVED_HEADER = Scope(
    {
        "msg_id": lambda s, o: s.msg.msg_id,
        "version_flag": HEADER["version_flag"],
        "subpackaged": HEADER["subpackaged"],
        "encryption_bits": lambda s, o: s.msg.encryption >> 10,
        "phone_bcd": lambda s, o: s.msg.phone,
        "seq": HEADER["seq"],
        "protocol_version": HEADER["protocol_version"],
        "body_len_declared": _declared_len,
        "body_len_actual": lambda s, o: len(s.body),
        "check_code_ok": lambda s, o: s.check_ok,
        "packet_total": HEADER["packet_total"],
        "packet_no": HEADER["packet_no"],
    },
    {"packets": "packet count of a sub-packaged set, checked as packet_total"},
)

#: Fact keys never checked, anywhere, and why.
UNCHECKED: dict[str, str] = {
    "expect_error": "the test asserts the typed error itself",
    "custom_decode": "a layout the source's test defines for a user-defined item; ours keeps the bytes (raw_hex)",
    "param_list_decoded": "state of the source library (no decoder registered), not a wire value",
    "rule": "prose describing the escape rule",
    "declared_body_len": "describes the broken input of an error vector",
    "actual_body_len": "describes the broken input of an error vector",
}


# --------------------------------------------------------------------------------------
# Additional items (0x0200 extras)


def _item_wire(s: Seen, v: Any, iid: int) -> bytes:
    return encode_item(iid, v, s.ctx)[2:]


def _bcd_asserted(s: Seen, o: Any) -> str:
    """The source prints an invalid BCD time as 'YYYY-MM-DD hh:mm:ss' of its digits."""
    return o.time if isinstance(o.time, str) else t(o.time)


def _norm_bcd_asserted(expected: str) -> str:
    return "".join(c for c in expected if c.isdigit())[2:]


IDENT = Scope(
    {
        "terminal_id": lambda s, o: o.terminal_id,
        "time_local": lambda s, o: t(o.time),
        "seq": lambda s, o: o.seq,
        "attachment_count": lambda s, o: o.attachment_count,
        "reserved": lambda s, o: int.from_bytes(o.reserved, "big"),
        "reserved1": lambda s, o: o.reserved[0],
        "reserved2": lambda s, o: o.reserved[1],
        "reserved_hex": lambda s, o: o.reserved.hex(),
    }
)

_SAFETY_COMMON: dict[str, Any] = {
    "alarm_id": lambda s, o: o.alarm_id,
    "flag_state": lambda s, o: o.flag,
    "speed_kmh": lambda s, o: o.speed_kmh,
    "altitude_m": lambda s, o: o.altitude_m,
    "lat_raw": lambda s, o: raw_coord(o.lat),
    "lon_raw": lambda s, o: raw_coord(o.lon),
    "time_local": lambda s, o: t(o.time),
    "time_bcd_as_asserted": _bcd_asserted,
    "vehicle_status": lambda s, o: o.vehicle_status,
    "alarm_identification": One(lambda s, o: o.identification, IDENT),
}

TYRE = Scope(
    {
        "tire_position": lambda s, o: o.position,
        "alarm_type": lambda s, o: o.events,
        "tire_pressure_kpa": lambda s, o: o.pressure_kpa,
        "tire_temp_c": lambda s, o: o.temperature_c,
        "battery_pct": lambda s, o: o.battery_pct,
    }
)

ITEM_FACTS: dict[int, dict[str, Any]] = {
    0x01: {"mileage_raw": lambda s, v: round(v * 10)},
    0x02: {"fuel_raw": lambda s, v: round(v * 10)},
    0x03: {"recorder_speed_raw": lambda s, v: round(v * 10)},
    0x04: {"alarm_event_id": lambda s, v: v},
    0x11: {"area_type": lambda s, v: v.location_type, "area_id": lambda s, v: v.area_id},
    0x12: {
        "area_type": lambda s, v: v.location_type,
        "area_id": lambda s, v: v.area_id,
        "direction": lambda s, v: v.direction,
    },
    0x13: {
        "route_id": lambda s, v: v.section_id,
        "drive_time_s": lambda s, v: v.drive_time_s,
        "result": lambda s, v: v.result,
    },
    0x14: {"video_alarm_flags": lambda s, v: v},
    0x15: {"video_signal_loss_channels": lambda s, v: v},
    0x16: {"video_occlusion_channels": lambda s, v: v},
    0x17: {"storage_fault_flags": lambda s, v: v},
    0x18: {"abnormal_driving_flags": lambda s, v: v.behaviour, "fatigue_level": lambda s, v: v.fatigue_level},
    0x25: {"vehicle_signal_status": lambda s, v: v},
    0x2A: {"io_status": lambda s, v: v},
    0x2B: {"analog": lambda s, v: v.ad1 << 16 | v.ad0},  # the DWORD: AD1 in the high word
    0x30: {"signal_strength": lambda s, v: v},
    0x31: {"gnss_satellites": lambda s, v: v},
    0x64: {
        **_SAFETY_COMMON,
        "alarm_type": lambda s, o: o.alarm_type,
        "alarm_level": lambda s, o: o.level,
        "front_vehicle_speed_kmh": lambda s, o: o.front_vehicle_speed_kmh,
        "front_distance_100ms": lambda s, o: o.front_headway_100ms,
        "deviate_type": lambda s, o: o.deviation_type,
        "road_sign_type": lambda s, o: o.road_sign_type,
        "road_sign_data": lambda s, o: o.road_sign_value,
    },
    0x65: {
        **_SAFETY_COMMON,
        "alarm_type": lambda s, o: o.alarm_type,
        "alarm_level": lambda s, o: o.level,
        "fatigue_level": lambda s, o: o.fatigue_level,
        "reserved_hex": lambda s, o: o.reserved.hex(),
    },
    0x66: {
        **_SAFETY_COMMON,
        "event_count": lambda s, o: len(o.events),
        "events": Each(lambda s, o: o.events, TYRE),
    },
    0x67: {**_SAFETY_COMMON, "alarm_type": lambda s, o: o.alarm_type},
}

#: Items our codec does not decode (not in JT/T 808, 1078, 苏标 or 粤标): the
#: source's own field names for them cannot be read from raw bytes.
_UNDECODED_ITEM = "item not defined by the standards this codec implements; kept raw (length/raw_hex checked)"


def _item_scope(key: str) -> Scope:
    iid = int(key, 16)

    def wire(s: Seen, v: Any) -> bytes:
        return _item_wire(s, v, iid)

    facts: dict[str, Any] = {
        "length": lambda s, v: len(wire(s, v)),
        "declared_length": lambda s, v: len(wire(s, v)),
        "raw_hex": lambda s, v: wire(s, v).hex(),
        "text": lambda s, v: wire(s, v).decode("latin-1"),
        **ITEM_FACTS.get(iid, {}),
    }
    return Scope(facts)


def _extra(s: Seen, o: Any, key: str) -> Any:
    return o.extras[int(key, 16)]


def _walk_tail(tail: bytes) -> tuple[int, int]:
    """(complete TLVs, overrunning TLVs) in an ExtraItems tail."""
    pos = complete = overrun = 0
    while pos < len(tail):
        if pos + 2 > len(tail) or pos + 2 + tail[pos + 1] > len(tail):
            overrun += 1
            break
        complete += 1
        pos += 2 + tail[pos + 1]
    return complete, overrun


_LOC: dict[str, Any] = {
    "alarm": lambda s, o: o.alarm,
    "status": lambda s, o: o.status,
    "lat_raw": lambda s, o: raw_coord(o.lat),
    "lon_raw": lambda s, o: raw_coord(o.lon),
    "altitude_m": lambda s, o: o.altitude_m,
    "speed_raw": lambda s, o: round(o.speed_kmh * 10),
    "heading_deg": lambda s, o: o.heading_deg,
    "time_local": lambda s, o: t(o.time),
}
LOCATION_BASIC = Scope(_LOC)
LOCATION_FACTS = Scope(
    {
        **_LOC,
        "extras": Keyed(_extra, _item_scope),
        # Counts of the source's item classes: decoded standard items, items kept raw,
        # and the overrunning item (kept in ``extras.tail``).
        "basic_extras_count": lambda s, o: sum(not isinstance(v, RawItem) for v in o.extras.values()),
        "unknown_extras_count": lambda s, o: sum(isinstance(v, RawItem) for v in o.extras.values()),
        # The source's "exception" items: ones that cannot be stored as items (a repeated
        # ID, an item overrunning the body); ours keeps both, as wire bytes, in ``tail``.
        "exception_extras_count": lambda s, o: sum(_walk_tail(o.extras.tail)),
    }
)

BATCH_ITEM = Scope(
    {
        **LOCATION_FACTS.facts,
        "length": lambda s, o: len(LOCATION.encode(o, s.ctx)),
    }
)


# --------------------------------------------------------------------------------------
# Other bodies

_STR = lambda name: lambda s, o: getattr(o, name)  # noqa: E731
_GBK_LEN = lambda name: lambda s, o: len(gbk_encode(getattr(o, name)))  # noqa: E731


def _param_wire(s: Seen, p: Any) -> bytes:
    return PARAM.encode(p, s.ctx)[5:]


def _param_fields(fmt: str, names: list[str]) -> dict[str, Fn]:
    """JT/T 1078 structured parameters kept as raw bytes: read them with the table's layout."""
    st = struct.Struct(fmt)
    return {n: (lambda s, p, i=i: st.unpack(_param_wire(s, p))[i]) for i, n in enumerate(names)}


def _can_setting(i: int) -> Fn:
    def get(s: Seen, p: Any) -> int:
        interval, word = struct.unpack(">II", _param_wire(s, p))
        return [interval, word >> 31 & 1, word >> 30 & 1, word >> 29 & 1, word & 0x1FFFFFFF][i]

    return get


PARAM_SUBFIELDS: dict[int, dict[str, Fn]] = {
    0x0075: _param_fields(
        ">BBHBIBBHBIHB",
        [
            "rt_encode_mode", "rt_resolution", "rt_keyframe_interval", "rt_target_fps", "rt_target_bitrate_kbps",
            "store_encode_mode", "store_resolution", "store_keyframe_interval", "store_target_fps",
            "store_target_bitrate_kbps", "osd_flags", "audio_output_enabled",
        ],
    ),
    0x0110: {
        n: _can_setting(i)
        for i, n in enumerate(["collect_interval_ms", "channel", "frame_type", "collect_mode", "can_bus_id"])
    },
}


def _param_scope(key: str) -> Scope:
    pid = int(key, 16)
    return Scope(
        {
            "length": lambda s, p: len(_param_wire(s, p)),
            "value": lambda s, p: p.value,
            "raw_hex": lambda s, p: _param_wire(s, p).hex(),
            **PARAM_SUBFIELDS.get(pid, {}),
        }
    )


def _param(s: Seen, o: Any, key: str) -> Any:
    pid = int(key, 16)
    found = [p for p in o.params if p.param_id == pid]
    if len(found) != 1:
        raise LookupError(f"parameter {key} appears {len(found)} times")
    return found[0]


PARAMS_FACTS: dict[str, Any] = {
    "param_count": lambda s, o: len(o.params),
    "params": Keyed(_param, _param_scope),
}

CIRCLE = Scope(
    {
        "area_id": lambda s, o: o.area_id,
        "area_attr": lambda s, o: o.attr,
        "center_lat_raw": lambda s, o: raw_coord(o.centre_lat),
        "center_lon_raw": lambda s, o: raw_coord(o.centre_lon),
        "radius_m": lambda s, o: o.radius_m,
        "start_time": timed(lambda o: o.start_time),
        "end_time": timed(lambda o: o.end_time),
        "max_speed_kmh": speed_limited(lambda o: o.max_speed_kmh),
        "overspeed_duration_s": speed_limited(lambda o: o.overspeed_duration_s),
        "night_max_speed_kmh": speed_limited(lambda o: o.night_max_speed_kmh),
        "area_name": lambda s, o: o.name,
    }
)
RECTANGLE = Scope(
    {
        **{k: v for k, v in CIRCLE.facts.items() if not k.startswith(("center", "radius"))},
        "upper_left_lat_raw": lambda s, o: raw_coord(o.top_left_lat),
        "upper_left_lon_raw": lambda s, o: raw_coord(o.top_left_lon),
        "lower_right_lat_raw": lambda s, o: raw_coord(o.bottom_right_lat),
        "lower_right_lon_raw": lambda s, o: raw_coord(o.bottom_right_lon),
    }
)
VERTEX = Scope({"lat_raw": lambda s, o: raw_coord(o.lat), "lon_raw": lambda s, o: raw_coord(o.lon)})
ROUTE_POINT = Scope(
    {
        "point_id": lambda s, o: o.point_id,
        "section_id": lambda s, o: o.segment_id,
        "lat_raw": lambda s, o: raw_coord(o.lat),
        "lon_raw": lambda s, o: raw_coord(o.lon),
        "width_m": lambda s, o: o.width_m,
        "section_attr": lambda s, o: o.attr,
        "long_drive_threshold_s": lambda s, o: o.too_long_s if o.attr & 1 else None,
        "short_drive_threshold_s": lambda s, o: o.too_short_s if o.attr & 1 else None,
        "max_speed_kmh": speed_limited(lambda o: o.max_speed_kmh),
        "overspeed_duration_s": speed_limited(lambda o: o.overspeed_duration_s),
        "night_max_speed_kmh": speed_limited(lambda o: o.night_max_speed_kmh),
    }
)
ATTACHMENT = Scope(
    {
        "file_name_length": _GBK_LEN("name"),
        "file_name": _STR("name"),
        "file_size": lambda s, o: o.size_bytes,
    }
)
DATA_RANGE = Scope({"offset": lambda s, o: o.offset, "length": lambda s, o: o.length})
FILE_FACTS: dict[str, Fn] = {
    "file_name_length": _GBK_LEN("name"),
    "file_name": _STR("name"),
    "file_type": lambda s, o: o.file_type,
    "file_size": lambda s, o: o.size_bytes,
}
MEDIA: dict[str, Fn] = {
    "media_id": lambda s, o: o.media_id,
    "media_type": lambda s, o: o.media_type,
    "media_format": lambda s, o: o.media_format,
    "event_code": lambda s, o: o.event,
    "channel_id": lambda s, o: o.channel,
}
REPLY: dict[str, Fn] = {
    "reply_seq": lambda s, o: o.reply_seq,
    "reply_msg_id": lambda s, o: o.reply_msg_id,
    "result": lambda s, o: o.result,
}
DRIVER: dict[str, Fn] = {
    "status": lambda s, o: o.state,
    "time_local": lambda s, o: t(o.time),
    "read_result": lambda s, o: o.read_result,
    "driver_name": _STR("name"),
    "qualification_code": _STR("certificate_no"),
    "issuing_org": _STR("issuer"),
    "cert_expiry": lambda s, o: t(o.expiry),
    "cert_expiry_raw_hex": lambda s, o: o.expiry if isinstance(o.expiry, str) else f"{o.expiry:%Y%m%d}",
    "driver_id_card": lambda s, o: o.id_card_2011 if s.msg.version == jt808.V2011 else o.id_card,
}
REGISTER: dict[str, Fn] = {
    "province_id": lambda s, o: o.province_id,
    "city_id": lambda s, o: o.city_id,
    "maker_id": _STR("maker_id"),
    "terminal_model": _STR("model"),
    "terminal_id": _STR("terminal_id"),
    "plate_color": lambda s, o: o.plate_colour,
    "plate_no": _STR("plate"),
    # The source compares ASCII-'0'-padded fields after TrimStart('0').
    "maker_id_trimmed": lambda s, o: o.maker_id.lstrip("0"),
    "terminal_model_trimmed": lambda s, o: o.model.lstrip("0"),
    "terminal_id_trimmed": lambda s, o: o.terminal_id.lstrip("0"),
    "plate_raw_hex": lambda s, o: _plate_field(s, o).hex(),
}


def _plate_field(s: Seen, o: Any) -> bytes:
    """Our plate padded with NULs to the width of the received plate field (the plate
    runs to the end of the body; trailing NULs are dropped on decoding)."""
    width = len(s.body) - _REGISTER_FIXED[s.msg.version]
    return gbk_encode(o.plate).ljust(width, b"\x00")


#: Bytes before the plate in 0x0100: ids 4 + maker + model + terminal ID + colour 1.
_REGISTER_FIXED = {jt808.V2011: 4 + 5 + 8 + 7 + 1, jt808.V2013: 4 + 5 + 20 + 7 + 1, jt808.V2019: 4 + 11 + 30 + 30 + 1}
AUTH: dict[str, Fn] = {
    "auth_code": _STR("auth_code"),
    "auth_code_length": _GBK_LEN("auth_code"),
    "imei": _STR("imei"),
    "software_version": _STR("software_version"),
}
ALARM_ATTACH_IDENT = One(lambda s, o: o.identification, IDENT)

_UNSUPPORTED = "message not supported by this codec (UnknownMessageId); only the header is checked"
_1205 = "JT/T 1078 resource list: not a declared message; the reassembled body's length and head are checked"


def _uniform(values: Any) -> Any:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else distinct


def _resources(s: Seen, o: bytes) -> int:
    return struct.unpack_from(">I", o, 2)[0]


FACTS: dict[str, Scope] = {
    "0x0001": Scope(dict(REPLY)),
    "0x8001": Scope(dict(REPLY)),
    "0x0002": Scope({}),
    "0x0003": Scope({}),
    "0x8104": Scope({}),
    "0x8201": Scope({}),
    "0x0005": Scope(
        {
            "original_seq": lambda s, o: o.original_seq,
            "packet_count": lambda s, o: len(o.packet_ids),
            "packet_ids": lambda s, o: o.packet_ids,
        }
    ),
    "0x0100": Scope(dict(REGISTER)),
    "0x0101": Scope({}),
    "0x0102": Scope(dict(AUTH)),
    "0x0104": Scope({"reply_seq": lambda s, o: o.reply_seq, **PARAMS_FACTS}),
    "0x8103": Scope(dict(PARAMS_FACTS)),
    "0x0107": Scope(
        {
            "terminal_type": lambda s, o: o.terminal_type,
            "maker_id": _STR("maker_id"),
            "terminal_model": _STR("model"),
            "terminal_id": _STR("terminal_id"),
            "iccid": _STR("iccid"),
            "hardware_version": _STR("hardware_version"),
            "firmware_version": _STR("firmware_version"),
            "gnss_module": lambda s, o: o.gnss,
            "comm_module": lambda s, o: o.comms,
        }
    ),
    "0x0200": LOCATION_FACTS,
    "0x0201": Scope(
        {"reply_seq": lambda s, o: o.reply_seq, **lifted(LOCATION_FACTS, lambda o: o.location).facts}
    ),
    "0x0302": Scope({}, {"reply_seq": _UNSUPPORTED, "answer_id": _UNSUPPORTED}),
    "0x8302": Scope({}, {k: _UNSUPPORTED for k in ("flag", "question_len", "question", "answers")}),
    "0x0702": Scope({**DRIVER, "face_match_value": lambda s, o: o.face_match, "uid": lambda s, o: o.card_uid}),
    "0x0704": Scope(
        {
            "count": lambda s, o: len(o.items),
            "location_type": lambda s, o: o.batch_type,
            "positions": Each(lambda s, o: o.items, BATCH_ITEM),
            "gnss_satellites_of_item": lambda s, o: o.items[0].extras[0x31],
            # Asserted once for every item: one value when all items agree.
            "item_length": lambda s, o: _uniform(len(LOCATION.encode(i, s.ctx)) for i in o.items),
            "timezone_text": lambda s, o: _uniform(bytes(i.extras[0xEB]).decode("ascii") for i in o.items),
        },
        {"error_remain_positions": "the frame is shorter than its header says: rejected before the body"},
    ),
    "0x0800": Scope(dict(MEDIA)),
    "0x0801": Scope(
        {
            **MEDIA,
            "position": One(lambda s, o: o.location, LOCATION_BASIC),
            "data_hex": lambda s, o: o.data.hex(),
        }
    ),
    "0x0900": Scope(
        {
            "passthrough_type": lambda s, o: o.msg_type,
            "content_text": lambda s, o: o.content.decode("gb18030"),
        }
    ),
    "0x8900": Scope(
        {
            "passthrough_type": lambda s, o: o.msg_type,
            "content_hex": lambda s, o: o.content.hex(),
        }
    ),
    "0x1005": Scope(
        {
            "start_time": lambda s, o: t(o.start_time),
            "end_time": lambda s, o: t(o.end_time),
            "boarding": lambda s, o: o.boarded,
            "alighting": lambda s, o: o.alighted,
        }
    ),
    # Sub-packaged JT/T 1078 resource lists: ``o`` is the reassembled body (bytes).
    "0x1205": Scope(
        {
            "packet_seqs": lambda s, o: [p.seq for p in s.packets],
            "packet_body_lens": lambda s, o: [len(p.body) for p in s.packets],
            "first_seq": lambda s, o: s.packets[0].seq,
            "last_seq": lambda s, o: s.packets[-1].seq,
            "reassembled_body_len": lambda s, o: len(o),
            "reply_seq": lambda s, o: struct.unpack_from(">H", o)[0],
            "resource_count": _resources,
            "item_len": lambda s, o: (len(o) - 6) // _resources(s, o),
        }
    ),
    "0x1210": Scope(
        {
            "terminal_id": _STR("terminal_id"),
            "alarm_identification": ALARM_ATTACH_IDENT,
            "alarm_no": _STR("alarm_number"),
            "info_type": lambda s, o: o.info_type,
            "attachment_count": lambda s, o: len(o.attachments),
            "attachments": Each(lambda s, o: o.attachments, ATTACHMENT),
        }
    ),
    "0x1211": Scope(dict(FILE_FACTS)),
    "0x1212": Scope(dict(FILE_FACTS)),
    "0x8003": Scope(
        {
            "original_seq": lambda s, o: o.original_seq,
            "packet_count": lambda s, o: len(o.packet_ids),
            "packet_ids": lambda s, o: o.packet_ids,
        }
    ),
    "0x8100": Scope(
        {
            "reply_seq": lambda s, o: o.reply_seq,
            "result": lambda s, o: o.result,
            "auth_code": lambda s, o: o.auth_code if o.result == 0 else None,
        }
    ),
    "0x8105": Scope(
        {
            "command": lambda s, o: o.command,
            "params_raw": _STR("params"),
        }
    ),
    "0x8106": Scope({"param_count": lambda s, o: len(o.param_ids), "param_ids": lambda s, o: o.param_ids}),
    "0x8202": Scope({"interval_s": lambda s, o: o.interval_s, "validity_s": lambda s, o: o.duration_s}),
    "0x8300": Scope(
        {
            "text_flag": lambda s, o: o.flag,
            "text_type": lambda s, o: o.text_type,
            "text": _STR("text"),
            "flag_bits": One(
                lambda s, o: o.flag,
                Scope(
                    {
                        "urgent": lambda s, f: bool(f & 1),
                        "display": lambda s, f: bool(f & 4),
                        "tts": lambda s, f: bool(f & 8),
                        "ad_screen": lambda s, f: bool(f & 16),
                        "info_category": lambda s, f: f >> 5 & 1,
                    }
                ),
            ),
        }
    ),
    "0x8600": Scope(
        {
            "setting_type": lambda s, o: o.mode,
            "area_count": lambda s, o: len(o.areas),
            "areas": Each(lambda s, o: o.areas, CIRCLE),
        }
    ),
    "0x8602": Scope(
        {
            "setting_type": lambda s, o: o.mode,
            "area_count": lambda s, o: len(o.areas),
            "areas": Each(lambda s, o: o.areas, RECTANGLE),
        }
    ),
    "0x8604": Scope(
        {
            "area_id": lambda s, o: o.area_id,
            "area_attr": lambda s, o: o.attr,
            "start_time": timed(lambda o: o.start_time),
            "end_time": timed(lambda o: o.end_time),
            "max_speed_kmh": speed_limited(lambda o: o.max_speed_kmh),
            "overspeed_duration_s": speed_limited(lambda o: o.overspeed_duration_s),
            "vertex_count": lambda s, o: len(o.vertices),
            "vertices": Each(lambda s, o: o.vertices, VERTEX),
        }
    ),
    "0x8606": Scope(
        {
            "route_id": lambda s, o: o.route_id,
            "route_attr": lambda s, o: o.attr,
            "start_time": timed(lambda o: o.start_time),
            "end_time": timed(lambda o: o.end_time),
            "point_count": lambda s, o: len(o.points),
            "points": Each(lambda s, o: o.points, ROUTE_POINT),
            "route_name": _STR("name"),
        }
    ),
    "0x8800": Scope(
        {
            "media_id": lambda s, o: o.media_id,
            "retransmit_count": lambda s, o: len(o.retransmit_ids),
            "retransmit_ids": lambda s, o: o.retransmit_ids,
        }
    ),
    "0x8801": Scope(
        {
            "channel_id": lambda s, o: o.channel,
            "shoot_command": lambda s, o: o.command,
            "record_time_s": lambda s, o: o.interval_s,
            "save_flag": lambda s, o: o.save,
            "resolution": lambda s, o: o.resolution,
            "quality": lambda s, o: o.quality,
            "brightness": lambda s, o: o.brightness,
            "contrast": lambda s, o: o.contrast,
            "saturation": lambda s, o: o.saturation,
            "chroma": lambda s, o: o.chroma,
        }
    ),
    "0x9208": Scope(
        {
            "server_ip_length": _GBK_LEN("server_ip"),
            "server_ip": _STR("server_ip"),
            "tcp_port": lambda s, o: o.tcp_port,
            "udp_port": lambda s, o: o.udp_port,
            "alarm_identification": ALARM_ATTACH_IDENT,
            "alarm_no": _STR("alarm_number"),
            "reserved_hex": lambda s, o: o.reserved.hex(),
        }
    ),
    "0x9212": Scope(
        {
            "file_name_length": _GBK_LEN("name"),
            "file_name": _STR("name"),
            "file_type": lambda s, o: o.file_type,
            "upload_result": lambda s, o: o.result,
            "retransmit_count": lambda s, o: len(o.missing),
            "retransmit_packets": Each(lambda s, o: o.missing, DATA_RANGE),
        }
    ),
}
FACTS["0x8601"] = FACTS["0x8603"] = FACTS["0x8605"] = Scope(
    {"area_count": lambda s, o: len(o.ids), "area_ids": lambda s, o: o.ids}
)
FACTS["0x8607"] = Scope({"route_count": lambda s, o: len(o.ids), "route_ids": lambda s, o: o.ids})


# --------------------------------------------------------------------------------------
# Comparison


def _norm(key: str, v: Any) -> Any:
    if isinstance(v, str):
        v = v.strip("\x00 ")
        if key in ("phone", "phone_bcd"):
            v = v.lstrip("0")
        if key == "time_bcd_as_asserted" and "-" in v:
            v = _norm_bcd_asserted(v)
    return v


def same(key: str, expected: Any, actual: Any) -> bool:
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(same(key, e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, str) and expected.startswith("0x") and isinstance(actual, int):
        return int(expected, 16) == actual
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or (isinstance(actual, bool) and expected == actual)
    if isinstance(expected, float) or isinstance(actual, float):
        return isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and abs(expected - actual) < 1e-9
    return bool(_norm(key, expected) == _norm(key, actual))


@dataclass
class Report:
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def check(
    expected: dict[str, Any],
    scope: Scope,
    seen: Seen,
    obj: Any,
    report: Report,
    path: str = "",
    skip: dict[str, str] | None = None,
    top: bool = False,
) -> Report:
    """Compare ``expected`` facts with what ``scope`` reads from ``obj``."""
    skip = skip or {}
    for key, exp in expected.items():
        p = f"{path}.{key}" if path else key
        if any(p == s or p.startswith(s + ".") for s in skip):
            report.skipped.append(p)
            continue
        f = scope.facts.get(key)
        if f is None and top:
            f = HEADER.get(key)
        if f is None:
            if key in scope.unchecked or key in UNCHECKED:
                report.skipped.append(p)
            else:
                report.unmapped.append(p)
            continue
        try:
            if isinstance(f, One):
                check(exp, f.scope, seen, f.get(seen, obj), report, p, skip)
            elif isinstance(f, Each):
                items = f.get(seen, obj)
                if len(items) != len(exp):
                    report.mismatches.append(f"{p}: {len(exp)} entries expected, got {len(items)}")
                    continue
                for i, (e, it) in enumerate(zip(exp, items, strict=True)):
                    check(e, f.scope, seen, it, report, f"{p}[{i}]", skip)
            elif isinstance(f, Keyed):
                for k, e in exp.items():
                    kp = f"{p}.{k}"
                    if any(kp == s or kp.startswith(s + ".") for s in skip):
                        report.skipped.append(kp)
                        continue
                    try:
                        sub = f.get(seen, obj, k)
                    except (KeyError, LookupError, IndexError) as err:
                        report.mismatches.append(f"{kp}: absent ({err!r})")
                        continue
                    check(e, f.scope(k), seen, sub, report, kp, skip)
            else:
                got = f(seen, obj)
                report.checked += 1
                if not same(key, exp, got):
                    report.mismatches.append(f"{p}: expected {exp!r}, got {got!r}")
        except Exception as err:  # a fact function failing is a mismatch, reported with the path
            report.mismatches.append(f"{p}: could not read ({type(err).__name__}: {err})")
    return report
