"""Terminal parameters: 0x8103 set, 0x8104/0x8106 query, 0x0104 reply.

Every standard parameter ID (JT/T 808-2013 table 12, 2019 additions) has a name
with its unit and a type (DWORD/WORD/BYTE/STRING/BYTES). The declared length
always wins: a value whose length does not fit its type, or an ID we do not
know, is kept as raw bytes (real devices send both).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from .errors import TruncatedBody
from .registry import message
from .wire import U8, U16, U32, Codec, Ctx, ListOf, gbk_decode, gbk_encode
from .wire import f as fld

DWORD, WORD, BYTE, STRING, BYTES = "I", "H", "B", "s", "b"

#: ID → (name with unit, type). Names follow the standard's meaning.
PARAMS: dict[int, tuple[str, str]] = {
    0x0001: ("heartbeat_interval_s", DWORD),
    0x0002: ("tcp_reply_timeout_s", DWORD),
    0x0003: ("tcp_retransmissions", DWORD),
    0x0004: ("udp_reply_timeout_s", DWORD),
    0x0005: ("udp_retransmissions", DWORD),
    0x0006: ("sms_reply_timeout_s", DWORD),
    0x0007: ("sms_retransmissions", DWORD),
    0x0010: ("main_server_apn", STRING),
    0x0011: ("main_server_user", STRING),
    0x0012: ("main_server_password", STRING),
    0x0013: ("main_server_address", STRING),  # 2019: "host:port", several separated by ';'
    0x0014: ("backup_server_apn", STRING),
    0x0015: ("backup_server_user", STRING),
    0x0016: ("backup_server_password", STRING),
    0x0017: ("backup_server_address", STRING),
    0x0018: ("server_tcp_port", DWORD),  # removed in 2019
    0x0019: ("server_udp_port", DWORD),  # removed in 2019
    0x001A: ("ic_auth_main_server_address", STRING),
    0x001B: ("ic_auth_server_tcp_port", DWORD),
    0x001C: ("ic_auth_server_udp_port", DWORD),
    0x001D: ("ic_auth_backup_server_address", STRING),
    0x0020: ("report_strategy", DWORD),  # 0 time, 1 distance, 2 both
    0x0021: ("report_scheme", DWORD),  # 0 by ACC, 1 by login then ACC
    0x0022: ("report_interval_no_driver_s", DWORD),
    0x0023: ("slave_server_apn", STRING),  # 2019
    0x0024: ("slave_server_user", STRING),  # 2019
    0x0025: ("slave_server_password", STRING),  # 2019
    0x0026: ("slave_server_address", STRING),  # 2019
    0x0027: ("report_interval_sleep_s", DWORD),
    0x0028: ("report_interval_emergency_s", DWORD),
    0x0029: ("report_interval_default_s", DWORD),
    0x002C: ("report_distance_default_m", DWORD),
    0x002D: ("report_distance_no_driver_m", DWORD),
    0x002E: ("report_distance_sleep_m", DWORD),
    0x002F: ("report_distance_emergency_m", DWORD),
    0x0030: ("corner_resend_angle_deg", DWORD),
    0x0031: ("geofence_radius_m", WORD),  # illegal-displacement threshold
    0x0032: ("illegal_driving_period", BYTES),  # 2019: start hh mm, end hh mm
    0x0040: ("platform_phone", STRING),
    0x0041: ("reset_phone", STRING),
    0x0042: ("factory_reset_phone", STRING),
    0x0043: ("platform_sms_phone", STRING),
    0x0044: ("sms_alarm_phone", STRING),
    0x0045: ("answer_strategy", DWORD),
    0x0046: ("max_call_time_s", DWORD),
    0x0047: ("max_call_time_month_s", DWORD),
    0x0048: ("monitor_phone", STRING),
    0x0049: ("privileged_sms_phone", STRING),
    0x0050: ("alarm_mask", DWORD),
    0x0051: ("alarm_sms_switch", DWORD),
    0x0052: ("alarm_photo_switch", DWORD),
    0x0053: ("alarm_photo_store_flags", DWORD),
    0x0054: ("key_alarm_flags", DWORD),
    0x0055: ("max_speed_kmh", DWORD),
    0x0056: ("overspeed_duration_s", DWORD),
    0x0057: ("continuous_driving_limit_s", DWORD),
    0x0058: ("daily_driving_limit_s", DWORD),
    0x0059: ("min_rest_s", DWORD),
    0x005A: ("max_parking_s", DWORD),
    0x005B: ("overspeed_warning_margin_01kmh", WORD),  # 1/10 km/h
    0x005C: ("fatigue_warning_margin_s", WORD),
    0x005D: ("collision_alarm_setting", WORD),  # b7-0 time (4 ms), b15-8 acceleration (0.1 g)
    0x005E: ("rollover_angle_deg", WORD),
    0x0064: ("timed_photo_control", DWORD),
    0x0065: ("distance_photo_control", DWORD),
    0x0070: ("image_quality", DWORD),
    0x0071: ("brightness", DWORD),
    0x0072: ("contrast", DWORD),
    0x0073: ("saturation", DWORD),
    0x0074: ("chroma", DWORD),
    0x0075: ("av_parameters", BYTES),  # JT/T 1078
    0x0076: ("av_channels", BYTES),  # JT/T 1078
    0x0077: ("channel_av_parameters", BYTES),  # JT/T 1078
    0x0079: ("special_alarm_recording", BYTES),  # JT/T 1078
    0x007A: ("video_alarm_mask", DWORD),  # JT/T 1078
    0x007B: ("image_analysis_alarm", BYTES),  # JT/T 1078
    0x007C: ("wake_up", BYTES),  # JT/T 1078
    0x0080: ("odometer_01km", DWORD),  # 1/10 km
    0x0081: ("province_id", WORD),
    0x0082: ("city_id", WORD),
    0x0083: ("plate", STRING),
    0x0084: ("plate_colour", BYTE),
    0x0090: ("gnss_mode", BYTE),
    0x0091: ("gnss_baud_rate", BYTE),
    0x0092: ("gnss_output_rate", BYTE),
    0x0093: ("gnss_sampling_s", DWORD),
    0x0094: ("gnss_upload_mode", BYTE),
    0x0095: ("gnss_upload_setting", DWORD),
    0x0100: ("can1_collect_interval_ms", DWORD),
    0x0101: ("can1_upload_interval_s", WORD),
    0x0102: ("can2_collect_interval_ms", DWORD),
    0x0103: ("can2_upload_interval_s", WORD),
    0x0110: ("can_id_collect_setting", BYTES),
    0xF364: ("adas_parameters", BYTES),  # 苏标
    0xF365: ("dsm_parameters", BYTES),  # 苏标
    0xF366: ("tpms_parameters", BYTES),  # 苏标
    0xF367: ("bsd_parameters", BYTES),  # 苏标
    0xF370: ("smart_video_protocol_version", BYTE),  # 苏标
}
PARAM_IDS = {name: pid for pid, (name, _) in PARAMS.items()}
_SIZES = {DWORD: 4, WORD: 2, BYTE: 1}


@dataclass(slots=True)
class Param:
    """One parameter: ``value`` is an int, a str, or bytes (raw: unknown ID or a
    length that does not fit the type)."""

    param_id: int
    value: int | str | bytes

    @property
    def name(self) -> str | None:
        p = PARAMS.get(self.param_id)
        return p[0] if p else None


class ParamCodec(Codec):
    """ID DWORD | length BYTE | value."""

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        if pos + 5 > end:
            raise TruncatedBody(f"parameter header needs 5 bytes at offset {pos}", buf[pos:end])
        pid, n = struct.unpack_from(">IB", buf, pos)
        pos += 5
        nxt = pos + n
        if nxt > end:
            raise TruncatedBody(f"parameter {pid:#06x} declares {n} bytes, {end - pos} remain", buf[pos:end])
        raw = bytes(buf[pos:nxt])
        spec = PARAMS.get(pid)
        value: int | str | bytes = raw
        if spec is not None:
            kind = spec[1]
            if kind == STRING:
                value = gbk_decode(raw).rstrip("\x00")
            elif kind != BYTES and _SIZES[kind] == n:
                value = int.from_bytes(raw, "big")
        return Param(pid, value), nxt

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        p: Param = value
        v = p.value
        if isinstance(v, bytes):
            data = v
        elif isinstance(v, str):
            data = gbk_encode(v)
        else:
            spec = PARAMS.get(p.param_id)
            kind = spec[1] if spec else DWORD
            data = int(v).to_bytes(_SIZES.get(kind, 4), "big")
        if len(data) > 255:
            raise ValueError(f"parameter {p.param_id:#06x} value of {len(data)} bytes exceeds 255")
        return struct.pack(">IB", p.param_id, len(data)) + data

    def to_json(self, value: Any) -> Any:
        p: Param = value
        v = p.value
        out: dict[str, Any] = {"id": f"0x{p.param_id:04x}", "name": p.name}
        if isinstance(v, bytes):
            out["raw"] = v.hex()
        else:
            out["value"] = v
        return out

    def from_json(self, j: Any) -> Any:
        if "id" in j:
            pid = int(j["id"], 16) if isinstance(j["id"], str) else int(j["id"])
        else:
            pid = PARAM_IDS[j["name"]]
        return Param(pid, bytes.fromhex(j["raw"]) if "raw" in j else j["value"])


PARAM = ParamCodec()


@message(0x8103, "set_parameters")
class SetParameters:
    """0x8103 设置终端参数."""

    params: list[Param] = fld(ListOf(PARAM, count=U8), factory=list)


@message(0x8106, "query_parameters")
class QueryParameters:
    """0x8106 查询指定终端参数."""

    param_ids: list[int] = fld(ListOf(U32, count=U8), factory=list)


@message(0x0104, "parameters_reply")
class ParametersReply:
    """0x0104 查询终端参数应答 (answers 0x8104 and 0x8106; long replies come sub-packaged)."""

    reply_seq: int = fld(U16)
    params: list[Param] = fld(ListOf(PARAM, count=U8), factory=list)


__all__ = ["PARAMS", "U16", "Param", "ParametersReply", "QueryParameters", "SetParameters"]
