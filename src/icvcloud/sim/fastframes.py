"""The two frames a virtual terminal handles most — its 0x0200 report and the
platform's 0x8001 reply — without the general codec.

Why by hand: a fleet of 10,000 terminals is the load generator of ``icv bench
ingest``, on the same two cores as the platform it measures; the general codec's
encode (declared layouts, additional items one by one) cost the fleet about as
much CPU per report as the platform spends storing it. These paths cover exactly
the shapes the simulator produces and fall back to the codec for anything else;
``tests/sim/test_fastframes.py`` checks them byte for byte against the codec.
"""

from __future__ import annotations

import struct
from datetime import datetime

from icvcloud.protocols import jt808

# 0x0200 basic block (JT/T 808-2013 table 23) + the simulator's four items:
# 0x01 mileage DWORD 1/10 km, 0x02 fuel WORD 1/10 L, 0x30 signal BYTE, 0x31 satellites BYTE.
_BODY = struct.Struct(">IIIIHHH6sBBIBBHBBBBBB")
_BODY_LEN = _BODY.size
_H13 = struct.Struct(">HH6sH")
_H19 = struct.Struct(">HHB10sH")
_STANDARD_ITEMS = (0x01, 0x02, 0x30, 0x31)


class ReportEncoder:
    """0x0200 frames for one terminal (phone and header edition fixed)."""

    __slots__ = ("_bcd_cache", "_phone_bcd", "version")

    def __init__(self, wire_phone: str, version: int) -> None:
        self.version = version
        self._phone_bcd = bytes.fromhex(wire_phone)
        self._bcd_cache: tuple[int, bytes] = (-1, b"")

    def _time_bcd(self, t: datetime) -> bytes:
        # Reports of one terminal come seconds apart: cache the last conversion.
        key = int(t.timestamp())
        if self._bcd_cache[0] == key:
            return self._bcd_cache[1]
        local = t.astimezone(jt808.CST)
        bcd = bytes.fromhex(local.strftime("%y%m%d%H%M%S"))
        self._bcd_cache = (key, bcd)
        return bcd

    def encode(self, loc: jt808.Location, seq: int) -> bytes:
        """The wrapped frame, or the general codec's when ``loc`` is not the simulator's shape."""
        ex = loc.extras
        t = loc.time
        if (tuple(ex) != _STANDARD_ITEMS or ex.tail or not isinstance(t, datetime) or t.tzinfo is None
                or not 2000 <= t.year <= 2099 or loc.lat < 0 or loc.lon < 0
                or any(isinstance(v, bytes) for v in ex.values())):
            return jt808.encode(0x0200, loc, phone=self._phone_bcd.hex(), seq=seq, version=self.version)
        body = _BODY.pack(
            loc.alarm, loc.status, round(loc.lat * 1000000), round(loc.lon * 1000000), loc.altitude_m,
            round(loc.speed_kmh * 10), loc.heading_deg, self._time_bcd(t),
            0x01, 4, round(ex[0x01] * 10), 0x02, 2, round(ex[0x02] * 10), 0x30, 1, ex[0x30], 0x31, 1, ex[0x31])
        if self.version == jt808.V2019:
            head = _H19.pack(0x0200, _BODY_LEN | 0x4000, 1, self._phone_bcd, seq & 0xFFFF)
        else:
            head = _H13.pack(0x0200, _BODY_LEN, self._phone_bcd, seq & 0xFFFF)
        return jt808.wrap(head + body)


_REPLY = struct.Struct(">HHB")  # 0x8001 body: reply seq, reply msg ID, result


def general_reply(frame: bytes) -> jt808.PlatformReply | None:
    """The body of a 0x8001 frame of either header edition, or None for any other
    frame (which then goes through the general codec)."""
    n = len(frame)
    if n < 20 or frame[1] != 0x80 or frame[2] != 0x01:
        return None
    try:
        data = jt808.unwrap(frame)
    except jt808.Jt808Error:
        return None
    props = data[2] << 8 | data[3]
    start = 17 if props & 0x4000 else 12
    if props & 0x2000 or props & 0x3FF != 5 or len(data) != start + 5:
        return None
    reply_seq, reply_msg_id, result = _REPLY.unpack_from(data, start)
    return jt808.PlatformReply(reply_seq=reply_seq, reply_msg_id=reply_msg_id, result=result)
