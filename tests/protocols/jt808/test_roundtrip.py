"""Property tests: for every declared message, in every version, encode then decode
is the identity, through the full frame (header, check code, escaping)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808 import codec
from icvcloud.protocols.jt808.wire import V2011, V2013, V2019, Ctx

from .corpus import location
from .strategies import layout_strategy

VERSIONS = [V2011, V2013, V2019]
PHONE = {V2011: "013912345678", V2013: "013912345678", V2019: "00000000013912345678"}
ALL = sorted(jt808.MESSAGES)


def _ctx(version: int, variant: str) -> Ctx:
    return Ctx(version, variant)


@pytest.mark.parametrize("msg_id", ALL, ids=[f"0x{m:04x}" for m in ALL])
@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), seq=st.integers(0, 0xFFFF), variant=st.sampled_from(["jsatl", "gdrta"]))
def test_encode_then_decode_is_identity(msg_id: int, version: int, data: st.DataObject, seq: int,
                                        variant: str) -> None:
    ctx = _ctx(version, variant)
    cls = jt808.MESSAGES[msg_id]
    body = data.draw(layout_strategy(cls, ctx))
    raw = codec.encode_body(msg_id, body, ctx)
    frames = codec.encode_packets(msg_id, raw, phone=PHONE[version], first_seq=seq, version=version)
    if len(frames) == 1:
        msg = jt808.decode(frames[0], ctx, version_hint=None if version == V2019 else version)
    else:
        reasm = jt808.Reassembler()
        out = None
        for fr in frames:
            pkt = jt808.decode(fr, ctx, version_hint=None if version == V2019 else version)
            assert pkt.is_packet and isinstance(pkt.body, bytes)
            out = reasm.add(pkt, 0.0, ctx)
        assert out is not None
        msg = out
    assert msg.msg_id == msg_id
    assert msg.phone == PHONE[version]
    assert msg.version == version
    assert msg.body == body
    # And back: the decoded message re-encodes to the same bytes.
    assert codec.encode_body(msg_id, msg.body, ctx) == raw


@pytest.mark.parametrize("msg_id", ALL, ids=[f"0x{m:04x}" for m in ALL])
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), version=st.sampled_from(VERSIONS), variant=st.sampled_from(["jsatl", "gdrta"]))
def test_json_round_trip(msg_id: int, data: st.DataObject, version: int, variant: str) -> None:
    """to_json / message_from_json are inverses (what `icv decode` / `icv encode` rely on)."""
    ctx = _ctx(version, variant)
    body = data.draw(layout_strategy(jt808.MESSAGES[msg_id], ctx))
    msg = jt808.Message(msg_id, PHONE[version], 7, body, version=version)
    j = msg.to_json(ctx)
    back = jt808.message_from_json(j)
    assert jt808.encode_message(back, ctx) == jt808.encode_message(msg, ctx)


@pytest.mark.parametrize("msg_id", sorted(jt808.EMPTY_MESSAGES))
@pytest.mark.parametrize("version", VERSIONS)
def test_empty_bodies(msg_id: int, version: int) -> None:
    fr = jt808.encode(msg_id, None, phone=PHONE[version], seq=1, version=version)
    msg = jt808.decode(fr, version_hint=None if version == V2019 else version)
    assert (msg.msg_id, msg.body, msg.version) == (msg_id, None, version)
    assert msg.to_json()["body"] == {}


def test_every_message_of_the_issue_is_declared() -> None:
    wanted = {
        0x0001, 0x8001, 0x0002, 0x0003, 0x0100, 0x8100, 0x0102, 0x8103, 0x8104, 0x0104, 0x8106, 0x8105,
        0x8107, 0x0107, 0x0200, 0x8201, 0x0201, 0x8202, 0x0704, 0x8300, 0x8600, 0x8601, 0x8602, 0x8603,
        0x8604, 0x8605, 0x8606, 0x8607, 0x0702, 0x0800, 0x0801, 0x8801, 0x0900, 0x8900, 0x8003, 0x9208,
        0x1210, 0x1211, 0x1212, 0x9212, 0x1005,
    }
    declared = set(jt808.MESSAGES) | set(jt808.EMPTY_MESSAGES)
    assert wanted <= declared, sorted(hex(m) for m in wanted - declared)


def test_v2013_header_is_default() -> None:
    assert Ctx().version == V2013


@pytest.mark.parametrize("msg_id", ALL, ids=[f"0x{m:04x}" for m in ALL])
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), version=st.sampled_from(VERSIONS), hint=st.sampled_from([None, V2011, V2013]))
def test_same_without_hint_means_the_same_message(msg_id: int, data: st.DataObject, version: int,
                                                  hint: int | None) -> None:
    """The gateway decodes with what it knows of the terminal's version and hands that
    to the log's consumers, which would decode without: only where
    ``same_without_hint`` says the two agree."""
    ctx = _ctx(version, "jsatl")
    body = data.draw(layout_strategy(jt808.MESSAGES[msg_id], ctx))
    raw = codec.encode_body(msg_id, body, ctx)
    frames = codec.encode_packets(msg_id, raw, phone=PHONE[version], first_seq=1, version=version)
    try:
        hinted = jt808.decode(frames[0], version_hint=hint)
    except jt808.Jt808Error:
        return
    if jt808.same_without_hint(hinted, hint):
        assert jt808.decode(frames[0]) == hinted


def test_a_hint_that_changes_the_message_is_known() -> None:
    # A VIN for a plate: long enough for the 2011 body to read as a 2013 one.
    reg = jt808.Register(province_id=37, city_id=300, maker_id="ICV01", model="M1", terminal_id="T01",
                         plate_colour=0, plate="LFV2A21K6C3011234")
    fr11 = jt808.encode(0x0100, reg, phone=PHONE[V2011], seq=1, version=V2011)
    # A 2011 registration read as 2013 (the hint skips the detection): not what a
    # plain decode gives.
    as13 = jt808.decode(fr11, version_hint=V2013)
    assert as13 != jt808.decode(fr11) and not jt808.same_without_hint(as13, V2013)
    # A 2011 hint shows in the version of every message.
    loc = jt808.encode(0x0200, location(), phone=PHONE[V2011], seq=2)
    assert not jt808.same_without_hint(jt808.decode(loc, version_hint=V2011), V2011)
    # Reports read the same with a 2013 hint or none.
    assert jt808.same_without_hint(jt808.decode(loc, version_hint=V2013), V2013)
    assert jt808.decode(loc, version_hint=V2013) == jt808.decode(loc)
