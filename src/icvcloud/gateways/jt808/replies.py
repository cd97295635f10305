"""Fast encoders for the replies a gateway sends on every frame.

0x8001 goes out once per report, so it is built from a per-terminal header
prefix and one ``struct.pack`` instead of the generic layout encoder. A test
checks it byte for byte against :func:`jt808.encode`.
"""

from __future__ import annotations

import struct

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.framing import wrap

_REPLY = struct.Struct(">HHHB")  # seq out, reply seq, reply msg id, result
_H13 = struct.Struct(">HH")
_H19 = struct.Struct(">HHB")


class ReplyEncoder:
    """Replies to one terminal (its phone and header version)."""

    __slots__ = ("_prefix", "phone", "protocol_version", "seq", "version")

    def __init__(self, phone: str, version: int, protocol_version: int = 1) -> None:
        self.phone = phone
        self.version = version
        self.protocol_version = protocol_version
        if version == jt808.V2019:
            self._prefix = _H19.pack(0x8001, 5 | 0x4000, protocol_version) + bytes.fromhex(phone.rjust(20, "0"))
        else:
            self._prefix = _H13.pack(0x8001, 5) + bytes.fromhex(phone.rjust(12, "0"))
        #: The platform's own serial number towards this terminal.
        self.seq = 0

    def next_seq(self) -> int:
        s = self.seq
        self.seq = (s + 1) & 0xFFFF
        return s

    def general(self, reply_seq: int, reply_msg_id: int, result: int = 0) -> bytes:
        """0x8001 平台通用应答."""
        s = self.seq
        self.seq = (s + 1) & 0xFFFF
        return wrap(self._prefix + _REPLY.pack(s, reply_seq, reply_msg_id, result))

    def message(self, msg_id: int, body: object) -> bytes:
        """Any other downlink message, through the generic encoder."""
        return jt808.encode(msg_id, body, phone=self.phone, seq=self.next_seq(), version=self.version,
                            protocol_version=self.protocol_version)
