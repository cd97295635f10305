"""Active-safety extension: T/JSATL 12-2017 (苏标) and the Guangdong T/GDRTA 002-2020 (粤标).

Alarms ride in 0x0200 as additional items 0x64 ADAS, 0x65 DSM, 0x66 TPMS and
0x67 BSD; evidence files are fetched through 0x9208 → (new connection) 0x1210,
0x1211, raw data packets, 0x1212 → 0x9212.

The two variants differ in the alarm identification (苏标: 7-byte terminal ID and
one reserved byte, 16 bytes; 粤标: 30-byte terminal ID and two reserved bytes,
40 bytes), the TPMS entry width (1- vs 2-byte tyre position) and some type names.
Nothing on the wire says which applies: :class:`wire.Ctx` ``variant`` selects it
(per terminal or enterprise); with ``"auto"`` an item's length decides, and for
messages the header version does (粤标 terminals use the 2019 header).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .errors import BadField
from .registry import message
from .wire import (
    U8,
    U16,
    U32,
    BcdTime,
    Bytes,
    Codec,
    Coord,
    Ctx,
    Enum,
    Flags,
    LenStr,
    ListOf,
    Str,
    Struct,
    by_variant,
    layout,
)
from .wire import f as fld

PERIPHERALS = {0x64: "adas", 0x65: "dsm", 0x66: "tpms", 0x67: "bsd"}

FLAG_STATE = Enum(U8, {0: "unavailable", 1: "start", 2: "end"})
ALARM_LEVEL = Enum(U8, {1: "level1", 2: "level2"})

ADAS_TYPES = {
    0x01: "forward_collision",  # 前向碰撞报警 FCW
    0x02: "lane_departure",  # 车道偏离报警 LDW
    0x03: "headway_too_close",  # 车距过近报警 HMW
    0x04: "pedestrian_collision",  # 行人碰撞报警 PCW
    0x05: "frequent_lane_change",  # 频繁变道报警
    0x06: "road_sign_over_limit",  # 道路标识超限报警
    0x07: "obstacle",  # 障碍物报警
    0x10: "road_sign_recognition",  # 道路标志识别事件
    0x11: "active_snapshot",  # 主动抓拍事件
}
ADAS_TYPES_GDRTA = {**ADAS_TYPES, 0x12: "solid_line_lane_change", 0x13: "aisle_pedestrian"}

DSM_TYPES = {
    0x01: "fatigue",  # 疲劳驾驶报警
    0x02: "phone_call",  # 接打电话报警
    0x03: "smoking",  # 抽烟报警
    0x04: "distracted",  # 分神驾驶报警
    0x05: "driver_abnormal",  # 驾驶员异常报警
    0x10: "auto_snapshot",  # 自动抓拍事件
    0x11: "driver_change",  # 驾驶员变更事件
}
DSM_TYPES_GDRTA = {
    0x01: "fatigue",
    0x02: "handheld_phone",  # 接打手持电话
    0x03: "smoking",
    0x04: "not_looking_ahead",  # 长时间不目视前方
    0x05: "driver_absent",  # 未检测到驾驶员
    0x06: "camera_blocked",  # 探头遮挡
    0x08: "overtime_driving",  # 超时驾驶
    0x0A: "no_seat_belt",  # 未系安全带
    0x0B: "ir_sunglasses",  # 红外阻断型墨镜失效
    0x0C: "hands_off_wheel",  # 双脱把
    0x0D: "playing_phone",  # 玩手机
    0x10: "auto_snapshot",
    0x11: "driver_change",
}
BSD_TYPES = {0x01: "rear_approach", 0x02: "left_rear_approach", 0x03: "right_rear_approach"}
ROAD_SIGN_TYPES = {1: "speed_limit", 2: "height_limit", 3: "weight_limit", 4: "no_entry", 5: "no_parking"}
DEVIATION_TYPES = {1: "left", 2: "right"}
TPMS_EVENT_BITS = {
    0: "pressure_report",
    1: "pressure_high",
    2: "pressure_low",
    3: "temperature_high",
    4: "sensor_fault",
    5: "pressure_imbalance",
    6: "slow_leak",
    7: "battery_low",
}
#: 车辆状态 of the items' vehicle block (苏标 table 4-16).
VEHICLE_STATUS_BITS = {
    0: "acc_on",
    1: "left_turn",
    2: "right_turn",
    3: "wiper",
    4: "braking",
    5: "card_inserted",
    10: "positioned",
}


class VariantEnum(Enum):
    """An alarm type whose names differ between variants. The item's own
    identification (its reserved width) tells which variant decoded it, so the name
    shown is that variant's (see ``_variant_names``)."""

    def __init__(self, jsatl: dict[int, str], gdrta: dict[int, str]) -> None:
        super().__init__(U8, {**gdrta, **jsatl})
        self.jsatl, self.gdrta = jsatl, gdrta


def _variant_names(obj: Any) -> dict[str, Any]:
    codec = next(s.codec for s in type(obj)._FIELDS if s.name == "alarm_type")
    names = codec.gdrta if len(obj.identification.reserved) == 2 else codec.jsatl
    return {"alarm_type_name": names.get(obj.alarm_type)}


@layout
class AlarmIdentification:
    """报警标识号: identifies one alarm's evidence across 0x0200, 0x9208 and 0x1210."""

    terminal_id: str = fld(by_variant(jsatl=Str(7), gdrta=Str(30)))
    time: datetime | str = fld(BcdTime())
    seq: int = fld(U8, doc="alarms in the same second, from 0")
    attachment_count: int = fld(U8)
    reserved: bytes = fld(by_variant(jsatl=Bytes(1), gdrta=Bytes(2)), default=b"\x00")


IDENT = Struct(AlarmIdentification)


@layout
class AdasAlarm:
    """0x64 高级驾驶辅助系统报警信息."""

    alarm_id: int = fld(U32)
    flag: int = fld(FLAG_STATE)
    alarm_type: int = fld(VariantEnum(ADAS_TYPES, ADAS_TYPES_GDRTA))
    level: int = fld(ALARM_LEVEL)
    front_vehicle_speed_kmh: int = fld(U8)
    front_headway_100ms: int = fld(U8, doc="time gap to the vehicle/pedestrian ahead, 100 ms units")
    deviation_type: int = fld(Enum(U8, DEVIATION_TYPES))
    road_sign_type: int = fld(Enum(U8, ROAD_SIGN_TYPES))
    road_sign_value: int = fld(U8)
    speed_kmh: int = fld(U8)
    altitude_m: int = fld(U16)
    lat: float = fld(Coord("False"))
    lon: float = fld(Coord("False"))
    time: datetime | str = fld(BcdTime())
    vehicle_status: int = fld(Flags(U16, VEHICLE_STATUS_BITS))
    identification: AlarmIdentification = fld(IDENT)

    _json_extra = _variant_names


@layout
class DsmAlarm:
    """0x65 驾驶员状态监测系统报警信息."""

    alarm_id: int = fld(U32)
    flag: int = fld(FLAG_STATE)
    alarm_type: int = fld(VariantEnum(DSM_TYPES, DSM_TYPES_GDRTA))
    level: int = fld(ALARM_LEVEL)
    fatigue_level: int = fld(U8, doc="1-10 (粤标 1-9), only for fatigue")
    reserved: bytes = fld(Bytes(4), default=b"\x00\x00\x00\x00")
    speed_kmh: int = fld(U8)
    altitude_m: int = fld(U16)
    lat: float = fld(Coord("False"))
    lon: float = fld(Coord("False"))
    time: datetime | str = fld(BcdTime())
    vehicle_status: int = fld(Flags(U16, VEHICLE_STATUS_BITS))
    identification: AlarmIdentification = fld(IDENT)

    _json_extra = _variant_names


@layout
class TyreEvent:
    position: int = fld(by_variant(jsatl=U8, gdrta=U16), doc="tyre number, from the front left, Z order")
    events: int = fld(Flags(U16, TPMS_EVENT_BITS))
    pressure_kpa: int = fld(U16)
    temperature_c: int = fld(U16)
    battery_pct: int = fld(U16)


@layout
class TpmsAlarm:
    """0x66 轮胎气压监测系统报警信息."""

    alarm_id: int = fld(U32)
    flag: int = fld(FLAG_STATE)
    speed_kmh: int = fld(U8)
    altitude_m: int = fld(U16)
    lat: float = fld(Coord("False"))
    lon: float = fld(Coord("False"))
    time: datetime | str = fld(BcdTime())
    vehicle_status: int = fld(Flags(U16, VEHICLE_STATUS_BITS))
    identification: AlarmIdentification = fld(IDENT)
    events: list[TyreEvent] = fld(ListOf(Struct(TyreEvent), count=U8), factory=list)


@layout
class BsdAlarm:
    """0x67 盲区监测系统报警信息."""

    alarm_id: int = fld(U32)
    flag: int = fld(FLAG_STATE)
    alarm_type: int = fld(Enum(U8, BSD_TYPES))
    speed_kmh: int = fld(U8)
    altitude_m: int = fld(U16)
    lat: float = fld(Coord("False"))
    lon: float = fld(Coord("False"))
    time: datetime | str = fld(BcdTime())
    vehicle_status: int = fld(Flags(U16, VEHICLE_STATUS_BITS))
    identification: AlarmIdentification = fld(IDENT)


#: Item lengths per variant: (苏标, 粤标). TPMS: fixed part only.
ITEM_LENGTHS = {0x64: (47, 71), 0x65: (47, 71), 0x66: (41, 65), 0x67: (41, 65)}
ITEM_CLASSES: dict[int, type] = {0x64: AdasAlarm, 0x65: DsmAlarm, 0x66: TpmsAlarm, 0x67: BsdAlarm}


def item_variant(item_id: int, length: int, ctx: Ctx, body: bytes = b"") -> str:
    """The variant to decode an active-safety item with: the configured one, or by length."""
    if ctx.variant != "auto":
        return ctx.variant
    js, gd = ITEM_LENGTHS[item_id]
    if item_id == 0x66 and length >= js:
        # 苏标: count at offset 40 and 9-byte entries; 粤标: count at 64, 10-byte entries.
        if len(body) > 40 and length == js + body[40] * 9:
            return "jsatl"
        if len(body) > 64 and length == gd + body[64] * 10:
            return "gdrta"
        return "jsatl"
    return "gdrta" if length == gd else "jsatl"


class SafetyItem(Codec):
    """Codec of one active-safety additional item (used by the 0x0200 extras table)."""

    def __init__(self, item_id: int) -> None:
        self.item_id = item_id
        self.cls = ITEM_CLASSES[item_id]

    def decode_item(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
        variant = item_variant(self.item_id, end - pos, ctx, buf[pos:end])
        sub = ctx if variant == ctx.variant else Ctx(ctx.version, variant, ctx.resend_count_word)
        obj, nxt = self.cls._decode(buf, pos, end, sub)  # type: ignore[attr-defined]
        if nxt != end:
            raise ValueError("length mismatch")
        return obj

    def encode_item(self, value: Any, ctx: Ctx) -> bytes:
        return self.cls._encode(value, ctx)  # type: ignore[attr-defined, no-any-return]


# --------------------------------------------------------------------------------------
# Attachment messages


@message(0x9208, "attachment_upload_request")
class AttachmentUploadRequest:
    """0x9208 报警附件上传指令: where to upload the evidence of one alarm."""

    server_ip: str = fld(LenStr(U8))
    tcp_port: int = fld(U16)
    udp_port: int = fld(U16)
    identification: AlarmIdentification = fld(IDENT)
    alarm_number: str = fld(Str(32), doc="报警编号, platform-assigned unique ID")
    reserved: bytes = fld(Bytes(16), default=bytes(16))


@layout
class AttachmentEntry:
    name: str = fld(LenStr(U8))
    size_bytes: int = fld(U32)


ATTACHMENT_INFO_TYPES = {0: "normal", 1: "re_upload"}


@message(0x1210, "attachment_info")
class AttachmentInfo:
    """0x1210 报警附件信息消息 (on the attachment-server connection)."""

    terminal_id: str = fld(by_variant(jsatl=Str(7), gdrta=Str(30)))
    identification: AlarmIdentification = fld(IDENT)
    alarm_number: str = fld(Str(32))
    info_type: int = fld(Enum(U8, ATTACHMENT_INFO_TYPES))
    attachments: list[AttachmentEntry] = fld(ListOf(Struct(AttachmentEntry), count=U8), factory=list)


FILE_TYPES = {0: "picture", 1: "audio", 2: "video", 3: "text", 4: "other"}
FILE_TYPES_GDRTA = {0: "panoramic_picture", 1: "audio", 2: "video", 3: "text", 4: "face_picture", 5: "other"}


@message(0x1211, "file_info")
class FileInfo:
    """0x1211 文件信息上传: one file about to be streamed."""

    name: str = fld(LenStr(U8))
    file_type: int = fld(Enum(U8, FILE_TYPES))
    size_bytes: int = fld(U32)


@message(0x1212, "file_upload_complete")
class FileUploadComplete:
    """0x1212 文件上传完成消息."""

    name: str = fld(LenStr(U8))
    file_type: int = fld(Enum(U8, FILE_TYPES))
    size_bytes: int = fld(U32)


@layout
class DataRange:
    offset: int = fld(U32)
    length: int = fld(U32)


@message(0x9212, "file_upload_complete_reply")
class FileUploadCompleteReply:
    """0x9212 文件上传完成消息应答: complete, or the ranges to send again."""

    name: str = fld(LenStr(U8))
    file_type: int = fld(Enum(U8, FILE_TYPES))
    result: int = fld(Enum(U8, {0: "complete", 1: "re_upload"}))
    missing: list[DataRange] = fld(ListOf(Struct(DataRange), count=U8), factory=list)


# --------------------------------------------------------------------------------------
# The raw file-data packets (not 0x7E-framed) on the attachment connection.

ATTACHMENT_DATA_MAGIC = b"\x30\x31\x63\x64"


@layout
class AttachmentDataHeader:
    """Head of one file-data packet: ``30 31 63 64`` | name BYTE[50] | offset | length;
    ``length`` bytes of file data follow."""

    magic: bytes = fld(Bytes(4), default=ATTACHMENT_DATA_MAGIC)
    name: str = fld(Str(50))
    offset: int = fld(U32)
    length: int = fld(U32)


ATTACHMENT_DATA_HEADER_LEN = 62


def decode_attachment_data(buf: bytes) -> tuple[AttachmentDataHeader, bytes, int] | None:
    """Parse one data packet at the start of ``buf``: (header, data, bytes used), or
    None while incomplete. Raises :class:`errors.BadField` on a wrong magic."""
    if len(buf) < ATTACHMENT_DATA_HEADER_LEN:
        return None
    if buf[:4] != ATTACHMENT_DATA_MAGIC:
        raise BadField("attachment data packet must start with 30 31 63 64", buf[:ATTACHMENT_DATA_HEADER_LEN])
    head, _ = AttachmentDataHeader._decode(buf, 0, ATTACHMENT_DATA_HEADER_LEN, Ctx())  # type: ignore[attr-defined]
    total = ATTACHMENT_DATA_HEADER_LEN + head.length
    if len(buf) < total:
        return None
    return head, bytes(buf[ATTACHMENT_DATA_HEADER_LEN:total]), total


def encode_attachment_data(name: str, offset: int, data: bytes) -> bytes:
    hdr = AttachmentDataHeader(name=name, offset=offset, length=len(data))
    return AttachmentDataHeader._encode(hdr, Ctx()) + data  # type: ignore[attr-defined, no-any-return]


__all__ = [
    "AdasAlarm",
    "AlarmIdentification",
    "AttachmentDataHeader",
    "AttachmentInfo",
    "AttachmentUploadRequest",
    "BsdAlarm",
    "DsmAlarm",
    "FileInfo",
    "FileUploadComplete",
    "FileUploadCompleteReply",
    "SafetyItem",
    "TpmsAlarm",
]
