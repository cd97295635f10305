"""Sub-packaging: split on encode, reassemble on decode, detect missing packets, 0x8003."""

from __future__ import annotations

import random

import pytest

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.messages import MultimediaUpload

PHONE = "13912345678"


def _upload(size: int) -> MultimediaUpload:
    from .corpus import location

    loc = location()
    basic = jt808.LocationBasic(alarm=loc.alarm, status=loc.status, lat=loc.lat, lon=loc.lon,
                                altitude_m=loc.altitude_m, speed_kmh=loc.speed_kmh, heading_deg=loc.heading_deg,
                                time=loc.time)
    data = bytes(random.Random(size).getrandbits(8) for _ in range(size))
    return MultimediaUpload(media_id=42, media_type=0, media_format=0, event=1, channel=1, location=basic, data=data)


@pytest.mark.parametrize("version", [jt808.V2013, jt808.V2019])
def test_split_and_reassemble_out_of_order(version: int) -> None:
    body = _upload(5000)
    frames = jt808.encode_packets(0x0801, body, phone=PHONE, first_seq=0xFFFE, version=version)
    assert len(frames) == 5  # 36 + 5000 bytes in 1023-byte packets
    packets = [jt808.decode(f) for f in frames]
    assert [p.packet_index for p in packets] == [1, 2, 3, 4, 5]
    assert {p.packet_total for p in packets} == {5}
    # Serial numbers are consecutive and wrap.
    assert [p.seq for p in packets] == [0xFFFE, 0xFFFF, 0, 1, 2]
    reasm = jt808.Reassembler()
    order = [3, 0, 4, 2, 1]
    results = [reasm.add(packets[i], float(n)) for n, i in enumerate(order)]
    assert results[:-1] == [None] * 4
    whole = results[-1]
    assert whole is not None and whole.body == body and whole.seq == 0xFFFE
    assert len(reasm) == 0


def test_missing_packets_produce_a_resend_request() -> None:
    frames = jt808.encode_packets(0x0801, _upload(4000), phone=PHONE, first_seq=100)
    reasm = jt808.Reassembler(timeout_s=30, max_requests=2)
    for i in (0, 2):  # packets 2 and 4 lost
        assert reasm.add(jt808.decode(frames[i]), 0.0) is None
    assert reasm.expire(10.0) == []  # not yet timed out
    (inc,) = reasm.expire(31.0)
    assert (inc.first_seq, inc.total, inc.missing, inc.given_up) == (100, 4, [2, 4], False)
    req = inc.resend_request()
    frame = jt808.encode(0x8003, req, phone=PHONE, seq=1)
    back = jt808.decode(frame).body
    assert back.original_seq == 100 and back.packet_ids == [2, 4]
    # The terminal re-sends the two packets with their original serial numbers.
    assert reasm.add(jt808.decode(frames[1]), 40.0) is None
    whole = reasm.add(jt808.decode(frames[3]), 41.0)
    assert whole is not None and whole.body.data == _upload(4000).data


def test_gives_up_after_max_requests() -> None:
    frames = jt808.encode_packets(0x0801, _upload(3000), phone=PHONE, first_seq=7)
    reasm = jt808.Reassembler(timeout_s=5, max_requests=2)
    reasm.add(jt808.decode(frames[0]), 0.0)
    assert not reasm.expire(6.0)[0].given_up
    assert not reasm.expire(12.0)[0].given_up
    assert reasm.expire(18.0)[0].given_up
    assert len(reasm) == 0


def test_bounded_number_of_open_sets() -> None:
    reasm = jt808.Reassembler(max_sets=3)
    for s in range(10):
        fr = jt808.encode_packets(0x0801, _upload(2000), phone=PHONE, first_seq=s * 10)[0]
        reasm.add(jt808.decode(fr), float(s))
    assert len(reasm) == 3


def test_bad_packet_index_is_a_typed_error() -> None:
    fr = jt808.encode(0x0801, b"\x00" * 10, phone=PHONE, seq=1, packet=(2, 3))
    with pytest.raises(jt808.BadField):
        jt808.Reassembler().add(jt808.decode(fr), 0.0)


def test_2019_resend_count_width_is_configurable() -> None:
    req = jt808.ResendRequest(original_seq=5, packet_ids=[1, 3])
    byte_form = jt808.encode(0x8003, req, phone="1", seq=1, version=jt808.V2019)
    word_form = jt808.encode(0x8003, req, phone="1", seq=1, version=jt808.V2019,
                             ctx=jt808.Ctx(jt808.V2019, resend_count_word=True))
    assert len(word_form) == len(byte_form) + 1
    assert jt808.decode(word_form, jt808.Ctx(jt808.V2019, resend_count_word=True)).body == req
    assert jt808.decode(byte_form).body == req
