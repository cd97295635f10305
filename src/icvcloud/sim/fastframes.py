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


#: A report as the simulator takes it, in wire units (a tuple: ~5x cheaper to make
#: than a Location with its items and datetime, and most are never needed as one):
#: (alarm, status, lat 1e-6°, lon 1e-6°, altitude m, speed 0.1 km/h, heading °,
#: device time Unix s, mileage 0.1 km, fuel 0.1 L, signal, satellites).
Fix = tuple[int, int, int, int, int, int, int, int, int, int, int, int]

# 2000-01-01 and 2100-01-01 in Beijing time: the years a BCD[6] time can carry.
_BCD_FROM_S, _BCD_UNTIL_S = 946_656_000, 4_102_416_000
_BCD_BY_SECOND: dict[int, bytes] = {}


def _time_bcd_s(t_s: int) -> bytes:
    """BCD[6] Beijing time of Unix second ``t_s``: a fleet's terminals report in the
    same few seconds, so one conversion serves all of them."""
    bcd = _BCD_BY_SECOND.get(t_s)
    if bcd is None:
        if len(_BCD_BY_SECOND) > 256:
            _BCD_BY_SECOND.clear()
        bcd = _BCD_BY_SECOND[t_s] = bytes.fromhex(datetime.fromtimestamp(t_s, jt808.CST).strftime("%y%m%d%H%M%S"))
    return bcd


def as_location(report: jt808.Location | Fix) -> jt808.Location:
    """A report as a Location (for 0x0704 back-fill and the general codec)."""
    if isinstance(report, jt808.Location):
        return report
    alarm, status, lat, lon, alt, speed, heading, t_s, mileage, fuel, signal, sats = report
    return jt808.Location(alarm=alarm, status=status, lat=lat / 1e6, lon=lon / 1e6, altitude_m=alt,
                          speed_kmh=speed / 10, heading_deg=heading, time=datetime.fromtimestamp(t_s, jt808.CST),
                          extras=jt808.ExtraItems({0x01: mileage / 10, 0x02: fuel / 10, 0x30: signal, 0x31: sats}))


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

    def encode_fix(self, fix: Fix, seq: int) -> bytes:
        """The wrapped frame of a :data:`Fix` (the codec's for what BCD or unsigned
        coordinates cannot carry)."""
        t_s = fix[7]
        if not _BCD_FROM_S <= t_s < _BCD_UNTIL_S or fix[2] < 0 or fix[3] < 0 or fix[8] > 0xFFFFFFFF:
            return self.encode(as_location(fix), seq)
        alarm, status, lat, lon, alt, speed, heading, _, mileage, fuel, signal, sats = fix
        body = _BODY.pack(alarm, status, lat, lon, alt, speed, heading, _time_bcd_s(t_s),
                          0x01, 4, mileage, 0x02, 2, fuel, 0x30, 1, signal, 0x31, 1, sats)
        if self.version == jt808.V2019:
            head = _H19.pack(0x0200, _BODY_LEN | 0x4000, 1, self._phone_bcd, seq & 0xFFFF)
        else:
            head = _H13.pack(0x0200, _BODY_LEN, self._phone_bcd, seq & 0xFFFF)
        return jt808.wrap(head + body)

    def encode(self, loc: jt808.Location | Fix, seq: int) -> bytes:
        """The wrapped frame, or the general codec's when ``loc`` is not the simulator's shape."""
        if not isinstance(loc, jt808.Location):
            return self.encode_fix(loc, seq)
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
