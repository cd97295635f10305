"""Frames: header (2011/2013 and 2019 layouts) + body, decoded and encoded.

:func:`decode` turns one frame into a :class:`Message`; :func:`encode` turns a body
object (or raw bytes) into one frame, :func:`encode_packets` into as many
sub-packaged frames as the 1023-byte body limit requires.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    BadField,
    EncodeError,
    Jt808Error,
    LengthMismatch,
    TruncatedBody,
    UnknownMessageId,
)
from .framing import unwrap, wrap
from .registry import EMPTY_MESSAGES, MESSAGES, NAMES
from .wire import V2011, V2013, V2019, Ctx, from_json, to_json

MAX_BODY_LEN = 1023

_H13 = struct.Struct(">HH6sH")  # id, props, BCD[6] phone, seq
_H19 = struct.Struct(">HHB10sH")  # id, props, protocol version, BCD[10] phone, seq
_PKT = struct.Struct(">HH")  # packet total, packet index

PROPS_SUBPACKAGE = 0x2000
PROPS_VERSION_2019 = 0x4000
PROPS_ENCRYPTION_MASK = 0x1C00


@dataclass(slots=True)
class Message:
    """One decoded frame.

    ``body`` is the decoded body object, ``None`` for an empty-bodied message
    (heartbeat, 0x8104, …), or the raw body ``bytes`` for a packet of a
    sub-packaged message (reassemble with :class:`subpackage.Reassembler`) or an
    encrypted body.
    """

    msg_id: int
    phone: str
    seq: int
    body: Any = None
    version: int = V2013
    #: 2019 header's protocol-version byte (1 for the first 2019 revision).
    protocol_version: int = 1
    #: Body-properties bits 10–12 (0 = plain, bit 10 = RSA).
    encryption: int = 0
    packet_total: int = 0
    packet_index: int = 0
    #: A 2013 terminal that sets bit 14 anyway (the lengths show a 2013 header).
    version_flag_forced: bool = False
    raw_body: bytes = field(default=b"", repr=False)

    @property
    def is_packet(self) -> bool:
        return self.packet_total > 0

    @property
    def name(self) -> str:
        return NAMES.get(self.msg_id, "unknown")

    def ctx(self, base: Ctx | None = None) -> Ctx:
        b = base or _DEFAULT_CTX
        return Ctx(self.version, b.variant, b.resend_count_word)

    def to_json(self, ctx: Ctx | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "msg_id": f"0x{self.msg_id:04x}",
            "name": self.name,
            "version": str(self.version),
            "phone": self.phone,
            "seq": self.seq,
        }
        if self.version == V2019:
            out["protocol_version"] = self.protocol_version
        if self.encryption:
            out["encryption"] = self.encryption
        if self.packet_total:
            out["packet"] = {"total": self.packet_total, "index": self.packet_index}
        b = self.body
        if isinstance(b, (bytes, bytearray)):
            out["body_hex"] = bytes(b).hex()
        elif b is None:
            out["body"] = {}
        else:
            out["body"] = to_json(b, self.ctx(ctx))
        return out


_DEFAULT_CTX = Ctx()


def message_from_json(j: dict[str, Any]) -> Message:
    """Inverse of :meth:`Message.to_json` (derived keys are optional)."""
    try:
        msg_id = int(j["msg_id"], 16) if isinstance(j["msg_id"], str) else int(j["msg_id"])
        version = int(j.get("version", V2013))
        phone = str(j.get("phone", "0"))
        seq = int(j.get("seq", 0))
    except (KeyError, ValueError, TypeError) as e:
        raise EncodeError(f"bad message JSON: {e}") from e
    m = Message(msg_id, phone, seq, version=version, protocol_version=int(j.get("protocol_version", 1)))
    m.encryption = int(j.get("encryption", 0))
    pkt = j.get("packet")
    if pkt:
        m.packet_total, m.packet_index = int(pkt["total"]), int(pkt["index"])
    if "body_hex" in j:
        m.body = bytes.fromhex(j["body_hex"])
    elif msg_id in EMPTY_MESSAGES:
        m.body = None
    else:
        cls = MESSAGES.get(msg_id)
        if cls is None:
            raise EncodeError(f"message {msg_id:#06x} is not supported; give its body as body_hex")
        m.body = from_json(cls, j.get("body", {}))
    return m


# --------------------------------------------------------------------------------------
# Decoding


def decode(
    frame: bytes,
    ctx: Ctx | None = None,
    *,
    verify_check: bool = True,
    version_hint: int | None = None,
) -> Message:
    """Decode one frame (with or without its 0x7E flags).

    ``ctx.variant`` selects the active-safety variant; ``version_hint`` (2011 or
    2013, e.g. remembered per terminal) decides body layouts for a 2011/2013
    header; without it, bodies that differ between the two (0x0100) are told
    apart by their bytes. Raises only :class:`errors.Jt808Error`.
    """
    data = unwrap(frame, verify=verify_check)
    try:
        return _decode_content(data, ctx or _DEFAULT_CTX, version_hint)
    except Jt808Error:
        raise
    except (struct.error, IndexError) as e:
        raise TruncatedBody(f"body ends early ({e})", data) from None
    except (ValueError, TypeError, OverflowError, KeyError) as e:
        raise BadField(f"bad field value ({e})", data) from None


def same_without_hint(msg: Message, version_hint: int | None) -> bool:
    """Whether ``decode(frame)`` without a hint gives ``msg``, decoded from ``frame``
    with ``version_hint``: true unless the hint named 2011 (kept in ``version``) or
    skipped the detection of a body whose layout changed between 2011 and 2013."""
    if version_hint is None or msg.version == V2019:
        return True
    if version_hint == V2011:
        return False
    cls = MESSAGES.get(msg.msg_id)
    return cls is None or cls._DETECT is None


def _decode_content(data: bytes, ctx: Ctx, version_hint: int | None) -> Message:
    n = len(data)
    if n < 12:
        raise TruncatedBody(f"frame of {n} bytes is shorter than any header", data)
    msg_id, props, phone_b, seq = _H13.unpack_from(data)
    body_len = props & 0x3FF
    if not props & 0x6000:  # the common case: 2011/2013 header, not sub-packaged
        if 12 + body_len != n:
            raise LengthMismatch(f"header says body of {body_len} bytes, frame holds {n - 12}", data)
        msg = Message(msg_id, phone_b.hex(), seq, None, V2011 if version_hint == V2011 else V2013, 0,
                      props & PROPS_ENCRYPTION_MASK)
        if msg.encryption:
            msg.body = data[12:]
            return msg
        return _decode_body(msg, data, 12, ctx, version_hint is None)
    sub = 4 if props & PROPS_SUBPACKAGE else 0
    forced = False
    if props & PROPS_VERSION_2019:
        if 17 + sub + body_len == n:
            version = V2019
        elif 12 + sub + body_len == n:
            version, forced = V2013, True
        else:
            raise LengthMismatch(
                f"body length {body_len} fits neither a 2019 ({n - 17 - sub}) nor a 2013 ({n - 12 - sub}) header",
                data,
            )
    elif 12 + sub + body_len == n:
        version = V2013
    else:
        raise LengthMismatch(f"header says body of {body_len} bytes, frame holds {n - 12 - sub}", data)
    if version == V2019:
        _, _, proto, phone_b, seq = _H19.unpack_from(data)
        hlen = 17
    else:
        proto = 0
        hlen = 12
        if version_hint == V2011:
            version = V2011
    msg = Message(msg_id, phone_b.hex(), seq, None, version, proto, props & PROPS_ENCRYPTION_MASK)
    msg.version_flag_forced = forced
    if sub:
        msg.packet_total, msg.packet_index = _PKT.unpack_from(data, hlen)
        hlen += 4
    if sub or msg.encryption:
        msg.body = data[hlen:]
        return msg
    return _decode_body(msg, data, hlen, ctx, version_hint is None)


def decode_body(msg: Message, body: bytes, ctx: Ctx = _DEFAULT_CTX) -> Message:
    """Decode ``body`` into ``msg.body`` by ``msg.msg_id`` (used again after reassembly)."""
    return _decode_body(msg, body, 0, ctx, True)


def _decode_body(msg: Message, data: bytes, start: int, ctx: Ctx, detect_version: bool) -> Message:
    cls = MESSAGES.get(msg.msg_id)
    if cls is None:
        if msg.msg_id in EMPTY_MESSAGES:
            msg.raw_body = data[start:]
            return msg
        body = data[start:]
        raise UnknownMessageId(f"message ID {msg.msg_id:#06x} not supported", body, header=msg, body=body)
    detect = cls._DETECT
    if detect is not None and detect_version and msg.version != V2019:
        msg.version = detect(data[start:], msg.version)
    c = ctx if ctx.version == msg.version else Ctx(msg.version, ctx.variant, ctx.resend_count_word)
    n = len(data)
    try:
        obj, end = cls._decode(data, start, n, c)
    except Jt808Error as e:
        e.header = msg
        raise
    except (struct.error, IndexError) as e:
        raise TruncatedBody(f"{cls.NAME}: body ends early ({e})", data[start:], header=msg) from None
    except (ValueError, TypeError, OverflowError, KeyError) as e:
        raise BadField(f"{cls.NAME}: bad field value ({e})", data[start:], header=msg) from None
    if end != n:
        raise LengthMismatch(f"{cls.NAME}: {n - end} bytes left after the body", data[start:], header=msg)
    msg.body = obj
    return msg


# --------------------------------------------------------------------------------------
# Encoding


def encode_body(msg_id: int, body: Any, ctx: Ctx = _DEFAULT_CTX) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    try:
        return body._encode(body, ctx)  # type: ignore[no-any-return]
    except EncodeError:
        raise
    except (struct.error, OverflowError, ValueError, TypeError, AttributeError, KeyError) as e:
        raise EncodeError(f"{type(body).__name__}: {e}") from e


def _header(
    msg_id: int,
    phone: str,
    seq: int,
    body_len: int,
    version: int,
    protocol_version: int,
    encryption: int,
    packet: tuple[int, int] | None,
) -> bytes:
    if body_len > MAX_BODY_LEN:
        raise EncodeError(f"body of {body_len} bytes exceeds {MAX_BODY_LEN}; use encode_packets")
    props = body_len | (encryption & PROPS_ENCRYPTION_MASK)
    if packet:
        props |= PROPS_SUBPACKAGE
    try:
        if version == V2019:
            h = _H19.pack(msg_id, props | PROPS_VERSION_2019, protocol_version, _bcd(phone, 10), seq & 0xFFFF)
        else:
            h = _H13.pack(msg_id, props, _bcd(phone, 6), seq & 0xFFFF)
        if packet:
            h += _PKT.pack(*packet)
    except struct.error as e:
        raise EncodeError(f"header value out of range: {e}") from e
    return h


def _bcd(phone: str, n: int) -> bytes:
    digits = str(phone)
    if len(digits) > 2 * n:
        raise EncodeError(f"phone {digits!r} does not fit BCD[{n}]")
    try:
        return bytes.fromhex(digits.rjust(2 * n, "0"))
    except ValueError as e:
        raise EncodeError(f"phone {digits!r} is not BCD digits") from e


def encode(
    msg_id: int,
    body: Any,
    *,
    phone: str,
    seq: int,
    version: int = V2013,
    protocol_version: int = 1,
    ctx: Ctx | None = None,
    encryption: int = 0,
    packet: tuple[int, int] | None = None,
) -> bytes:
    """One complete frame (escaped, with check code and flags)."""
    c = ctx or Ctx(version)
    if c.version != version:
        c = Ctx(version, c.variant, c.resend_count_word)
    b = encode_body(msg_id, body, c)
    return wrap(_header(msg_id, phone, seq, len(b), version, protocol_version, encryption, packet) + b)


def encode_message(msg: Message, ctx: Ctx | None = None) -> bytes:
    """Re-encode a :class:`Message` (the inverse of :func:`decode`)."""
    packet = (msg.packet_total, msg.packet_index) if msg.packet_total else None
    return encode(
        msg.msg_id,
        msg.body,
        phone=msg.phone,
        seq=msg.seq,
        version=msg.version,
        protocol_version=msg.protocol_version,
        ctx=msg.ctx(ctx),
        encryption=msg.encryption,
        packet=packet,
    )


def encode_packets(
    msg_id: int,
    body: Any,
    *,
    phone: str,
    first_seq: int,
    version: int = V2013,
    protocol_version: int = 1,
    ctx: Ctx | None = None,
    max_body: int = MAX_BODY_LEN,
) -> list[bytes]:
    """Frames for ``body``: one plain frame if it fits, else sub-packages with
    consecutive serial numbers starting at ``first_seq`` and indexes from 1."""
    c = ctx or Ctx(version)
    b = encode_body(msg_id, body, c)
    if len(b) <= max_body:
        return [encode(msg_id, b, phone=phone, seq=first_seq, version=version, protocol_version=protocol_version)]
    chunks = [b[i : i + max_body] for i in range(0, len(b), max_body)]
    total = len(chunks)
    if total > 0xFFFF:
        raise EncodeError(f"body of {len(b)} bytes needs {total} packets, at most 65535")
    return [
        encode(
            msg_id,
            chunk,
            phone=phone,
            seq=(first_seq + i) & 0xFFFF,
            version=version,
            protocol_version=protocol_version,
            packet=(total, i + 1),
        )
        for i, chunk in enumerate(chunks)
    ]


__all__ = [
    "V2011",
    "Message",
    "decode",
    "decode_body",
    "encode",
    "encode_message",
    "encode_packets",
    "message_from_json",
]
