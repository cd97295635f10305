"""JT/T 808 message bodies other than location reports (see ``location.py``),
parameters (``params.py``), areas (``areas.py``) and active safety
(``active_safety.py``). Layouts follow JT/T 808-2013 §8 with the 2011 and 2019
differences noted where they apply."""

from __future__ import annotations

from datetime import date, datetime

from .bits import ALARM_BITS
from .location import LocationBasic
from .registry import empty_message, message
from .wire import (
    U8,
    U16,
    U32,
    V2011,
    V2019,
    Bcd,
    BcdDate,
    BcdTime,
    Enum,
    Flags,
    LenPrefixed,
    LenStr,
    ListOf,
    RestBytes,
    RestStr,
    Str,
    Struct,
    Switch,
    by_version,
    layout,
)
from .wire import f as fld

# --------------------------------------------------------------------------------------
# General replies, heartbeat, registration, authentication

REPLY_RESULTS = {0: "success", 1: "failure", 2: "message_error", 3: "not_supported"}
PLATFORM_REPLY_RESULTS = {**REPLY_RESULTS, 4: "alarm_confirmed"}


@message(0x0001, "terminal_general_reply")
class TerminalReply:
    """0x0001 终端通用应答."""

    reply_seq: int = fld(U16)
    reply_msg_id: int = fld(U16)
    result: int = fld(Enum(U8, REPLY_RESULTS))


@message(0x8001, "platform_general_reply")
class PlatformReply:
    """0x8001 平台通用应答 (result 4: alarm handling confirmed)."""

    reply_seq: int = fld(U16)
    reply_msg_id: int = fld(U16)
    result: int = fld(Enum(U8, PLATFORM_REPLY_RESULTS))


empty_message(0x0002, "heartbeat")
empty_message(0x0003, "deregister")
empty_message(0x0004, "query_server_time")  # 2019
empty_message(0x8104, "query_all_parameters")
empty_message(0x8107, "query_attributes")
empty_message(0x8201, "query_location")
empty_message(0x8702, "request_driver_identity")
empty_message(0x8204, "link_check")  # 2019

PLATE_COLOURS = {
    0: "unplated",  # the plate field then holds the VIN
    1: "blue",
    2: "yellow",
    3: "black",
    4: "white",
    5: "green",
    9: "other",
    91: "agricultural_yellow",
    92: "agricultural_green",
    93: "yellow_green",
    94: "gradient_green",
}


@message(0x0100, "register")
class Register:
    """0x0100 终端注册. Widths differ by edition: 2011 model 8 bytes; 2013 maker 5,
    model 20, terminal ID 7; 2019 maker 11, model 30, terminal ID 30."""

    province_id: int = fld(U16)
    city_id: int = fld(U16)
    maker_id: str = fld(by_version(default=Str(5), v2019=Str(11)))
    model: str = fld(by_version(default=Str(20), v2011=Str(8), v2019=Str(30)))
    terminal_id: str = fld(by_version(default=Str(7), v2019=Str(30)))
    plate_colour: int = fld(Enum(U8, PLATE_COLOURS))
    plate: str = fld(RestStr(), doc="plate number, or the VIN when plate_colour is 0")

    @staticmethod
    def detect_version(body: bytes, header_version: int) -> int:
        """2011 and 2013 share the header; the body's length and where a plausible
        plate colour sits tell them apart (2011: 25 + plate, 2013: 37 + plate)."""
        if len(body) < 37:
            return V2011
        if body[36] not in PLATE_COLOURS and body[24] in PLATE_COLOURS:
            return V2011
        return header_version


REGISTER_RESULTS = {
    0: "success",
    1: "vehicle_already_registered",
    2: "no_such_vehicle",
    3: "terminal_already_registered",
    4: "no_such_terminal",
}


@message(0x8100, "register_reply")
class RegisterReply:
    """0x8100 终端注册应答: the auth code follows only on success."""

    reply_seq: int = fld(U16)
    result: int = fld(Enum(U8, REGISTER_RESULTS))
    auth_code: str = fld(RestStr(), when="result == 0", default="")


@message(0x0102, "authenticate")
class Authenticate:
    """0x0102 终端鉴权: 2011/2013 the code is the whole body; 2019 adds IMEI and
    software version after a length-prefixed code."""

    auth_code: str = fld(by_version(default=RestStr(), v2019=LenStr(U8)))
    imei: str = fld(Str(15), when="ctx.version == 2019", default="")
    software_version: str = fld(Str(20), when="ctx.version == 2019", default="")


@message(0x8004, "server_time_reply")
class ServerTimeReply:
    """0x8004 查询服务器时间应答 (2019): the time is UTC, unlike every other time."""

    utc_time: str = fld(Bcd(6), doc="YYMMDDhhmmss in UTC")


@message(0x8003, "resend_request")
class ResendRequest:
    """0x8003 补传分包请求: the first packet's serial number and the missing indexes."""

    original_seq: int = fld(U16)
    packet_ids: list[int] = fld(
        Switch(
            lambda ctx: ctx.version == V2019 and ctx.resend_count_word,
            {True: ListOf(U16, count=U16), None: ListOf(U16, count=U8)},
        ),
        factory=list,
    )


@message(0x0005, "terminal_resend_request")
class TerminalResendRequest:
    """0x0005 终端补传分包请求 (2019), same layout as 0x8003."""

    original_seq: int = fld(U16)
    packet_ids: list[int] = fld(
        Switch(
            lambda ctx: ctx.resend_count_word,
            {True: ListOf(U16, count=U16), None: ListOf(U16, count=U8)},
        ),
        factory=list,
    )


# --------------------------------------------------------------------------------------
# Terminal control and attributes

TERMINAL_CONTROL_COMMANDS = {
    1: "wireless_upgrade",
    2: "connect_to_server",  # emergency supervision: connect to a given platform
    3: "power_off",
    4: "reset",
    5: "factory_reset",
    6: "close_data_link",
    7: "close_all_wireless",
}


@message(0x8105, "terminal_control")
class TerminalControl:
    """0x8105 终端控制: a command and its ';'-separated parameters."""

    command: int = fld(Enum(U8, TERMINAL_CONTROL_COMMANDS))
    params: str = fld(RestStr(), default="")

    @property
    def param_list(self) -> list[str]:
        return self.params.split(";") if self.params else []


TERMINAL_TYPE_BITS = {
    0: "passenger",
    1: "hazmat",
    2: "freight",
    3: "taxi",
    6: "hdd_video",
    7: "split_unit",
}
GNSS_BITS = {0: "gps", 1: "beidou", 2: "glonass", 3: "galileo"}
COMMS_BITS = {0: "gprs", 1: "cdma", 2: "td_scdma", 3: "wcdma", 4: "cdma2000", 5: "td_lte", 7: "other"}


@message(0x0107, "attributes_reply")
class AttributesReply:
    """0x0107 查询终端属性应答."""

    terminal_type: int = fld(Flags(U16, TERMINAL_TYPE_BITS))
    maker_id: str = fld(Str(5))
    model: str = fld(by_version(default=Str(20), v2019=Str(30)))
    terminal_id: str = fld(by_version(default=Str(7), v2019=Str(30)))
    iccid: str = fld(Bcd(10))
    hardware_version: str = fld(LenStr(U8))
    firmware_version: str = fld(LenStr(U8))
    gnss: int = fld(Flags(U8, GNSS_BITS))
    comms: int = fld(Flags(U8, COMMS_BITS))


@message(0x8202, "temporary_tracking")
class TemporaryTracking:
    """0x8202 临时位置跟踪控制: interval 0 stops tracking."""

    interval_s: int = fld(U16)
    duration_s: int = fld(U32)


@message(0x8203, "manual_alarm_confirm")
class ManualAlarmConfirm:
    """0x8203 人工确认报警消息."""

    alarm_seq: int = fld(U16, doc="0 confirms every alarm of the given types")
    alarm_types: int = fld(Flags(U32, {b: ALARM_BITS[b] for b in (0, 3, 20, 21, 22, 27, 28)}))


# --------------------------------------------------------------------------------------
# Text

TEXT_FLAG_BITS = {
    0: "urgent",
    2: "display",
    3: "tts",
    4: "advertising_screen",
    5: "can_fault_code",  # 0: navigation information, 1: CAN fault code
}
TEXT_TYPES = {1: "notice", 2: "service"}


@message(0x8300, "text")
class Text:
    """0x8300 文本信息下发. 2019 adds a text-type byte after the flag."""

    flag: int = fld(Flags(U8, TEXT_FLAG_BITS))
    text_type: int = fld(Enum(U8, TEXT_TYPES), when="ctx.version == 2019", default=1)
    text: str = fld(RestStr())


# --------------------------------------------------------------------------------------
# Driver identity

CARD_STATES = {1: "inserted", 2: "removed"}  # inserted = on duty, removed = off duty
CARD_READ_RESULTS = {0: "ok", 1: "auth_failed", 2: "card_locked", 3: "card_pulled", 4: "checksum_error"}
_CARD_READ = "ctx.version != 2011 and state == 1 and read_result == 0"
_DETAILS = "ctx.version == 2011 or (state == 1 and read_result == 0)"


@message(0x0702, "driver_identity")
class DriverIdentity:
    """0x0702 驾驶员身份信息采集上报 (IC card). 2013/2019: state, time, and when a
    card was read, the driver's details (2019 adds the ID-card number). 2011:
    name, ID number, qualification certificate (40 bytes), issuer."""

    # Conditions, by edition: a card read without error carries the driver's details.
    state: int = fld(Enum(U8, CARD_STATES), when="ctx.version != 2011", default=1)
    time: datetime | str = fld(BcdTime(), when="ctx.version != 2011", default="000000000000")
    read_result: int = fld(Enum(U8, CARD_READ_RESULTS), when="ctx.version != 2011 and state == 1", default=0)
    name: str = fld(LenStr(U8), when=_DETAILS, default="")
    id_card_2011: str = fld(Str(20), when="ctx.version == 2011", default="")
    certificate_no: str = fld(
        by_version(default=Str(20), v2011=Str(40)),
        when=_DETAILS,
        default="",
    )
    issuer: str = fld(LenStr(U8), when=_DETAILS, default="")
    expiry: date | str = fld(BcdDate(), when=_CARD_READ, default="00000000")
    id_card: str = fld(Str(20), when=_CARD_READ + " and ctx.version == 2019", default="")
    #: Bytes after the 2019 body: 粤标 adds a face-match value and the card UID.
    extension: bytes = fld(RestBytes(), when=_CARD_READ + " and ctx.version == 2019", default=b"")

    @property
    def face_match(self) -> int | None:
        """粤标 face-match value (0-100), if the terminal sent it."""
        return self.extension[0] if len(self.extension) == 21 else None

    @property
    def card_uid(self) -> str | None:
        """粤标 IC card UID, if the terminal sent it."""
        return self.extension[1:].decode("gb18030", "replace").strip("\x00 ") if len(self.extension) == 21 else None


# --------------------------------------------------------------------------------------
# Multimedia

MEDIA_TYPES = {0: "image", 1: "audio", 2: "video"}
MEDIA_FORMATS = {0: "jpeg", 1: "tif", 2: "mp3", 3: "wav", 4: "wmv"}
MEDIA_EVENTS = {
    0: "platform_command",
    1: "timer",
    2: "robbery_alarm",
    3: "collision_rollover",
    4: "door_open",
    5: "door_close",
    6: "door_closed_speed_over_20kmh",
    7: "distance",
}


@message(0x0800, "multimedia_event")
class MultimediaEvent:
    """0x0800 多媒体事件信息上传."""

    media_id: int = fld(U32)
    media_type: int = fld(Enum(U8, MEDIA_TYPES))
    media_format: int = fld(Enum(U8, MEDIA_FORMATS))
    event: int = fld(Enum(U8, MEDIA_EVENTS))
    channel: int = fld(U8)


@message(0x0801, "multimedia_upload")
class MultimediaUpload:
    """0x0801 多媒体数据上传 (usually sub-packaged; this is the reassembled body).
    2013/2019 embed the 28-byte location block; 2011 does not."""

    media_id: int = fld(U32)
    media_type: int = fld(Enum(U8, MEDIA_TYPES))
    media_format: int = fld(Enum(U8, MEDIA_FORMATS))
    event: int = fld(Enum(U8, MEDIA_EVENTS))
    channel: int = fld(U8)
    location: LocationBasic | None = fld(Struct(LocationBasic), when="ctx.version != 2011", default=None)
    data: bytes = fld(RestBytes(), default=b"")


@message(0x8800, "multimedia_upload_reply")
class MultimediaUploadReply:
    """0x8800 多媒体数据上传应答: no packet IDs = everything received."""

    media_id: int = fld(U32)
    retransmit_ids: list[int] = fld(ListOf(U16, count=U8), factory=list)


@message(0x8801, "snapshot")
class Snapshot:
    """0x8801 摄像头立即拍摄命令."""

    channel: int = fld(U8)
    command: int = fld(U16, doc="0 stop, 0xFFFF record video, n = number of photos")
    interval_s: int = fld(U16, doc="photo interval or recording time, 0 = shortest/continuous")
    save: int = fld(Enum(U8, {0: "upload", 1: "save"}))
    resolution: int = fld(
        Enum(U8, {1: "320x240", 2: "640x480", 3: "800x600", 4: "1024x768", 5: "176x144", 6: "352x288", 7: "704x288",
                  8: "704x576"})
    )
    quality: int = fld(U8, doc="1 best … 10 most compressed")
    brightness: int = fld(U8)
    contrast: int = fld(U8)
    saturation: int = fld(U8)
    chroma: int = fld(U8)


@message(0x0805, "snapshot_reply")
class SnapshotReply:
    """0x0805 摄像头立即拍摄命令应答."""

    reply_seq: int = fld(U16)
    result: int = fld(Enum(U8, {0: "success", 1: "failure", 2: "channel_not_supported"}))
    media_ids: list[int] = fld(ListOf(U32, count=U16), when="result == 0", factory=list)


# --------------------------------------------------------------------------------------
# Pass-through

TRANSPARENT_TYPES = {
    0x00: "gnss_detail",
    0x0B: "ic_card",
    0x41: "serial1",
    0x42: "serial2",
    0xF7: "peripheral_status",  # 苏标
    0xF8: "peripheral_info",  # 苏标
}


@message(0x0900, "uplink_transparent")
class UplinkTransparent:
    """0x0900 数据上行透传."""

    msg_type: int = fld(Enum(U8, TRANSPARENT_TYPES))
    content: bytes = fld(RestBytes(), default=b"")


@message(0x8900, "downlink_transparent")
class DownlinkTransparent:
    """0x8900 数据下行透传."""

    msg_type: int = fld(Enum(U8, TRANSPARENT_TYPES))
    content: bytes = fld(RestBytes(), default=b"")


@message(0x0701, "waybill_report")
class WaybillReport:
    """0x0701 电子运单上报: opaque content, JT/T 808 defines no inner format."""

    content: bytes = fld(LenPrefixed(U32, RestBytes()))


# --------------------------------------------------------------------------------------
# JT/T 1078 over JT/T 808


@message(0x1005, "passenger_flow")
class PassengerFlow:
    """0x1005 终端上传乘客流量 (JT/T 1078): boardings and alightings in a period."""

    start_time: datetime | str = fld(BcdTime())
    end_time: datetime | str = fld(BcdTime())
    boarded: int = fld(U16)
    alighted: int = fld(U16)


__all__ = [
    "Authenticate",
    "DriverIdentity",
    "PlatformReply",
    "Register",
    "RegisterReply",
    "TerminalReply",
    "layout",
]
