"""Decoder behaviour the standard and real devices call for, case by case."""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808 import framing
from icvcloud.protocols.jt808.extras import ExtraItems, RawItem, encode_item
from icvcloud.protocols.jt808.wire import CST

from .corpus import adas_item, location

PHONE = "13912345678"


def _loc_frame(extras_bytes: bytes, version: int = jt808.V2013) -> bytes:
    fixed = jt808.codec.encode_body(0x0200, location())[:28]
    return jt808.encode(0x0200, fixed + extras_bytes, phone=PHONE, seq=1, version=version)


def test_location_values_and_units() -> None:
    m = jt808.decode(jt808.encode(0x0200, location(), phone=PHONE, seq=9))
    b = m.body
    assert (b.lat, b.lon, b.speed_kmh, b.altitude_m) == (36.8, 118.05, 52.3, 60)
    assert b.time == datetime(2026, 11, 24, 9, 30, 0, tzinfo=CST)
    assert b.time.utcoffset().total_seconds() == 8 * 3600
    assert b.mileage_km == 12345.6 and b.fuel_l == 80.5
    j = m.to_json()["body"]
    assert j["time"] == "2026-11-24T09:30:00+08:00"
    assert j["status_flags"] == ["acc_on", "positioned", "gps_used", "beidou_used"]
    assert j["extras"]["0x01"] == {"mileage_km": 12345.6}


def test_south_and_west_hemispheres_from_status_bits() -> None:
    loc = location()
    loc.status |= 0b1100
    loc.lat, loc.lon = -33.86, -70.65
    raw = jt808.codec.encode_body(0x0200, loc)
    assert struct.unpack_from(">II", raw, 8) == (33860000, 70650000)  # magnitudes on the wire
    back = jt808.decode(jt808.encode(0x0200, loc, phone=PHONE, seq=1)).body
    assert (back.lat, back.lon) == (-33.86, -70.65)


def test_unknown_items_are_kept_raw_and_re_encoded() -> None:
    fr = _loc_frame(bytes.fromhex("010400000064" "eb03aabbcc" "0000"))
    b = jt808.decode(fr).body
    assert b.extras[0x01] == 10.0
    assert b.extras[0xEB] == RawItem(b"\xaa\xbb\xcc")
    assert b.extras[0x00] == RawItem(b"")  # zero-length item
    assert jt808.encode(0x0200, b, phone=PHONE, seq=1) == fr


def test_known_item_with_odd_length_is_kept_raw() -> None:
    # A real device sends 0x2B (analog) with 8 bytes instead of 4.
    fr = _loc_frame(bytes.fromhex("2b080001000200030004"))
    b = jt808.decode(fr).body
    assert isinstance(b.extras[0x2B], RawItem) and len(b.extras[0x2B]) == 8
    assert b.extra(0x2B) is None
    assert jt808.decode(fr).to_json()["body"]["extras"]["0x2b"]["raw"] == "0001000200030004"
    assert jt808.encode(0x0200, b, phone=PHONE, seq=1) == fr


def test_overrunning_last_item_keeps_earlier_items() -> None:
    fr = _loc_frame(bytes.fromhex("30011f" "f604aabb"))  # 0xF6 declares 4 bytes, 2 remain
    b = jt808.decode(fr).body
    assert b.extras[0x30] == 31
    assert b.extras.tail == bytes.fromhex("f604aabb")
    assert jt808.encode(0x0200, b, phone=PHONE, seq=1) == fr


def test_abnormal_driving_item_three_bytes() -> None:
    fr = _loc_frame(bytes.fromhex("1803000709"))
    item = jt808.decode(fr).body.extras[0x18]
    assert (item.behaviour, item.fatigue_level) == (7, 9)


def test_invalid_bcd_time_is_kept_not_fatal() -> None:
    loc = location()
    loc.time = "000000000000"
    b = jt808.decode(jt808.encode(0x0200, loc, phone=PHONE, seq=1)).body
    assert b.time == "000000000000"
    assert jt808.decode(jt808.encode(0x0200, loc, phone=PHONE, seq=1)).to_json()["body"]["time"] == "000000000000"


@pytest.mark.parametrize("variant,length", [("jsatl", 47), ("gdrta", 71)])
def test_adas_variant_found_by_item_length(variant: str, length: int) -> None:
    item = adas_item(variant)
    ctx = jt808.Ctx(variant=variant)
    assert encode_item(0x64, item, ctx)[:2] == bytes((0x64, length))
    raw = jt808.codec.encode_body(0x0200, location(x64=item), ctx)
    fr = jt808.encode(0x0200, raw, phone=PHONE, seq=1)
    got = jt808.decode(fr).body.extras[0x64]  # variant "auto"
    assert got == item
    j = jt808.decode(fr).to_json()["body"]["extras"]["0x64"]["adas_alarm"]
    assert j["alarm_type_name"] == "forward_collision" and j["flag_name"] == "start"
    assert j["identification"]["attachment_count"] == 2


def test_2013_terminal_setting_bit14_is_read_as_2013() -> None:
    fr = jt808.encode(0x0002, None, phone=PHONE, seq=3)
    content = bytearray(framing.unwrap(fr))
    content[2] |= 0x40
    m = jt808.decode(framing.wrap(bytes(content)))
    assert (m.version, m.version_flag_forced, m.seq) == (jt808.V2013, True, 3)


def test_register_2011_detected_from_body() -> None:
    reg = jt808.Register(province_id=37, city_id=300, maker_id="ICV01", model="M1", terminal_id="T01",
                         plate_colour=2, plate="鲁C12345")
    fr = jt808.encode(0x0100, reg, phone=PHONE, seq=1, version=jt808.V2011)
    m = jt808.decode(fr)
    assert m.version == jt808.V2011 and m.body == reg
    assert jt808.decode(jt808.encode(0x0100, reg, phone=PHONE, seq=1)).version == jt808.V2013


def test_register_reply_failure_has_no_auth_code() -> None:
    fr = jt808.encode(0x8100, jt808.RegisterReply(reply_seq=1, result=4), phone=PHONE, seq=1)
    assert jt808.codec.encode_body(0x8100, jt808.RegisterReply(reply_seq=1, result=4)) == b"\x00\x01\x04"
    assert jt808.decode(fr).to_json()["body"] == {"reply_seq": 1, "result": 4, "result_name": "no_such_terminal"}


def test_typed_errors_carry_offending_bytes_and_header() -> None:
    with pytest.raises(jt808.UnknownMessageId) as e:
        jt808.decode(jt808.encode(0x0F01, b"\x01\x02", phone=PHONE, seq=4))
    assert e.value.header.seq == 4 and e.value.body == b"\x01\x02"
    with pytest.raises(jt808.LengthMismatch):
        jt808.decode(framing.wrap(bytes.fromhex("0002000501391234567800010000")))
    with pytest.raises(jt808.TruncatedBody):
        jt808.decode(jt808.encode(0x0001, b"\x00\x01\x02", phone=PHONE, seq=1))
    with pytest.raises(jt808.LengthMismatch):
        jt808.decode(jt808.encode(0x0001, b"\x00\x01\x02\x00\x00\x00", phone=PHONE, seq=1))


def test_text_2019_has_type_byte() -> None:
    t = jt808.Text(flag=0b1000, text_type=2, text="前方学校 减速慢行")
    b13 = jt808.codec.encode_body(0x8300, jt808.Text(flag=0b1000, text="x"), jt808.Ctx(jt808.V2013))
    b19 = jt808.codec.encode_body(0x8300, t, jt808.Ctx(jt808.V2019))
    assert b13 == b"\x08x" and b19[:2] == b"\x08\x02"
    assert b19[2:] == "前方学校 减速慢行".encode("gbk")


def test_extras_equality_includes_tail() -> None:
    a, b = ExtraItems({1: 2.0}), ExtraItems({1: 2.0})
    b.tail = b"\x01"
    assert a != b
