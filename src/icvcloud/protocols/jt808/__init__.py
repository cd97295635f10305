"""JT/T 808 (2011/2013/2019) codec with the 苏标/粤标 active-safety and JT/T 1078 items.

Pure: bytes in, typed objects out, and back. No sockets, no asyncio, no database.

>>> from icvcloud.protocols import jt808
>>> msg = jt808.decode(bytes.fromhex("7e000200000123456789010001" "0e" "7e"))  # doctest: +SKIP
"""

from __future__ import annotations

from . import active_safety, areas, codec, location, messages, params  # noqa: F401  (registers layouts)
from .active_safety import (
    AdasAlarm,
    AlarmIdentification,
    AttachmentInfo,
    AttachmentUploadRequest,
    BsdAlarm,
    DsmAlarm,
    FileInfo,
    FileUploadComplete,
    FileUploadCompleteReply,
    TpmsAlarm,
)
from .bits import ALARM_BITS, STATUS_BITS
from .codec import (
    Message,
    decode,
    decode_body,
    encode,
    encode_message,
    encode_packets,
    message_from_json,
    same_without_hint,
)
from .errors import (
    BadCheckCode,
    BadEscape,
    BadField,
    EncodeError,
    Jt808Error,
    LengthMismatch,
    TruncatedBody,
    UnknownMessageId,
)
from .extras import ExtraItems, RawItem
from .framing import FrameSplitter, check_code, escape, unescape, unwrap, wrap
from .location import BatchLocation, Location, LocationBasic, LocationQueryReply
from .messages import (
    Authenticate,
    DriverIdentity,
    PassengerFlow,
    PlatformReply,
    Register,
    RegisterReply,
    ResendRequest,
    TerminalReply,
    Text,
)
from .params import Param, SetParameters
from .registry import EMPTY_MESSAGES, MESSAGES, NAMES
from .subpackage import Reassembler
from .wire import CST, V2011, V2013, V2019, Ctx, from_json, to_json

__all__ = [
    "ALARM_BITS",
    "CST",
    "EMPTY_MESSAGES",
    "MESSAGES",
    "NAMES",
    "STATUS_BITS",
    "V2011",
    "V2013",
    "V2019",
    "AdasAlarm",
    "AlarmIdentification",
    "AttachmentInfo",
    "AttachmentUploadRequest",
    "Authenticate",
    "BadCheckCode",
    "BadEscape",
    "BadField",
    "BatchLocation",
    "BsdAlarm",
    "Ctx",
    "DriverIdentity",
    "DsmAlarm",
    "EncodeError",
    "ExtraItems",
    "FileInfo",
    "FileUploadComplete",
    "FileUploadCompleteReply",
    "FrameSplitter",
    "Jt808Error",
    "LengthMismatch",
    "Location",
    "LocationBasic",
    "LocationQueryReply",
    "Message",
    "Param",
    "PassengerFlow",
    "PlatformReply",
    "RawItem",
    "Reassembler",
    "Register",
    "RegisterReply",
    "ResendRequest",
    "SetParameters",
    "TerminalReply",
    "Text",
    "TpmsAlarm",
    "TruncatedBody",
    "UnknownMessageId",
    "check_code",
    "decode",
    "decode_body",
    "encode",
    "encode_message",
    "encode_packets",
    "escape",
    "from_json",
    "message_from_json",
    "same_without_hint",
    "to_json",
    "unescape",
    "unwrap",
    "wrap",
]
