"""The simulator's hand-written 0x0200/0x8001 paths against the general codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from icvcloud.protocols import jt808
from icvcloud.sim.fastframes import Fix, ReportEncoder, as_location, general_reply

phones = st.integers(0, 10**11 - 1).map(lambda n: f"{n:012d}")
times = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30),
                     timezones=st.sampled_from([UTC, jt808.CST]))


@st.composite
def locations(draw: st.DrawFn) -> jt808.Location:
    return jt808.Location(
        alarm=draw(st.integers(0, 2**32 - 1)), status=draw(st.integers(0, 2**32 - 1).map(lambda s: s & ~0xC)),
        lat=round(draw(st.floats(0, 90)), 6), lon=round(draw(st.floats(0, 180)), 6),
        altitude_m=draw(st.integers(0, 65535)), speed_kmh=round(draw(st.floats(0, 6553.5)), 1),
        heading_deg=draw(st.integers(0, 359)), time=draw(times).replace(microsecond=0),
        extras=jt808.ExtraItems({0x01: round(draw(st.floats(0, 429496729.5)), 1),
                                 0x02: round(draw(st.floats(0, 6553.5)), 1),
                                 0x30: draw(st.integers(0, 255)), 0x31: draw(st.integers(0, 255))}))


@given(phones, st.integers(0, 0xFFFF), locations(), st.sampled_from([jt808.V2013, jt808.V2019]))
def test_report_frames_are_the_codecs(phone: str, seq: int, loc: jt808.Location, version: int) -> None:
    wire = phone.rjust(20 if version == jt808.V2019 else 12, "0")
    assert ReportEncoder(wire, version).encode(loc, seq) == jt808.encode(0x0200, loc, phone=wire, seq=seq,
                                                                         version=version)


def test_other_shapes_fall_back_to_the_codec() -> None:
    loc = jt808.Location(alarm=0, status=2, lat=36.8, lon=118.0, altitude_m=1, speed_kmh=1.0, heading_deg=1,
                         time=datetime(2026, 11, 24, 8, 0, tzinfo=jt808.CST),
                         extras=jt808.ExtraItems({0x01: 1.0, 0x25: 3}))
    enc = ReportEncoder("013900001111", jt808.V2013)
    assert enc.encode(loc, 7) == jt808.encode(0x0200, loc, phone="013900001111", seq=7)
    naive = jt808.Location(alarm=0, status=2, lat=36.8, lon=118.0, altitude_m=1, speed_kmh=1.0, heading_deg=1,
                           time=datetime(2026, 11, 24, 8, 0), extras=jt808.ExtraItems({0x01: 1.0, 0x02: 2.0,
                                                                                        0x30: 1, 0x31: 2}))
    assert enc.encode(naive, 7) == jt808.encode(0x0200, naive, phone="013900001111", seq=7)


@given(phones, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 255),
       st.sampled_from([jt808.V2013, jt808.V2019]))
def test_general_reply_reads_what_the_codec_writes(phone: str, seq: int, reply_seq: int, result: int,
                                                   version: int) -> None:
    body = jt808.PlatformReply(reply_seq=reply_seq, reply_msg_id=0x0200, result=result)
    frame = jt808.encode(0x8001, body, phone=phone.rjust(20 if version == jt808.V2019 else 12, "0"), seq=seq,
                         version=version)
    assert general_reply(frame) == jt808.decode(frame).body


@given(st.binary(max_size=40))
def test_general_reply_declines_anything_else(data: bytes) -> None:
    got = general_reply(b"\x7e" + data + b"\x7e")
    if got is not None:  # only when the bytes really are a 0x8001 frame
        assert jt808.decode(b"\x7e" + data + b"\x7e").body == got


def test_time_cache_follows_the_clock() -> None:
    enc = ReportEncoder("013900001111", jt808.V2013)
    t0 = datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC)
    for dt in (0, 0, 1, 86400):
        t = t0 + timedelta(seconds=dt)
        loc = jt808.Location(alarm=0, status=2, lat=36.8, lon=118.0, altitude_m=1, speed_kmh=1.0, heading_deg=1,
                             time=t, extras=jt808.ExtraItems({0x01: 1.0, 0x02: 2.0, 0x30: 1, 0x31: 2}))
        assert jt808.decode(enc.encode(loc, 1)).body.time == t


fixes = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1).map(lambda s: s & ~0xC),
                  st.integers(0, 90_000_000), st.integers(0, 180_000_000), st.integers(0, 65535),
                  st.integers(0, 65535), st.integers(0, 359),
                  st.integers(946_656_000, 4_102_415_999), st.integers(0, 2**32 - 1), st.integers(0, 65535),
                  st.integers(0, 255), st.integers(0, 255))


@given(phones, st.integers(0, 0xFFFF), fixes, st.sampled_from([jt808.V2013, jt808.V2019]))
def test_fix_frames_are_the_codecs(phone: str, seq: int, fix: Fix, version: int) -> None:
    wire = phone.rjust(20 if version == jt808.V2019 else 12, "0")
    loc = as_location(fix)
    frame = ReportEncoder(wire, version).encode_fix(fix, seq)
    assert frame == jt808.encode(0x0200, loc, phone=wire, seq=seq, version=version)
    # …and what the platform reads back is the fix.
    got = jt808.decode(frame).body
    assert (got.alarm, got.status, got.altitude_m, got.heading_deg) == fix[0:2] + fix[4:5] + fix[6:7]
    assert (round(got.lat * 1e6), round(got.lon * 1e6), round(got.speed_kmh * 10)) == (fix[2], fix[3], fix[5])
    assert (got.extras[0x30], got.extras[0x31]) == (fix[10], fix[11])
