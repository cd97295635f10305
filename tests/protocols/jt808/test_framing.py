"""Framing: escaping, check code, the stream splitter, the C/Python equivalence."""

from __future__ import annotations

import functools
import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808 import framing
from icvcloud.protocols.jt808.errors import BadCheckCode, BadEscape

# JT/T 808-2013 §4.4 example: content 30 7E 08 7D 55 is sent as 7E 30 7D 02 08 7D 01 55 7E.
STD_CONTENT = bytes.fromhex("307e087d55")
STD_ESCAPED = bytes.fromhex("307d02087d0155")


def test_standard_escape_example() -> None:
    assert framing.escape(STD_CONTENT) == STD_ESCAPED
    assert framing.unescape(STD_ESCAPED) == STD_CONTENT


@pytest.mark.parametrize("impl", ["c", "py"])
def test_check_code_that_needs_escaping(impl: str) -> None:
    # A heartbeat whose XOR check code is 0x7E: the check byte itself is escaped.
    wrap, unwrap = _impl(impl)
    for seq in range(0x10000):
        content = bytes.fromhex("00020000013912345678") + seq.to_bytes(2, "big")
        if framing.check_code(content) == 0x7E:
            break
    fr = wrap(content)
    assert fr.endswith(b"\x7d\x02\x7e")
    assert unwrap(fr) == content
    assert jt808.decode(fr).seq == seq


def _impl(name: str):  # type: ignore[no-untyped-def]
    if name == "py":
        return framing.py_wrap, framing.py_unwrap
    if not framing.SPEEDUPS:
        pytest.skip("C speedups not built")
    return framing.wrap, framing.unwrap


@pytest.mark.parametrize("impl", ["c", "py"])
def test_bad_escape_and_check_are_typed(impl: str) -> None:
    _, unwrap = _impl(impl)
    with pytest.raises(BadEscape) as e:
        unwrap(bytes.fromhex("7e00027d0300017e"))
    assert e.value.data
    with pytest.raises(BadCheckCode):
        unwrap(bytes.fromhex("7e000200000139123456780001ff7e"))


def test_unescaped_7d_check_byte_is_accepted() -> None:
    # Some terminals leave a 0x7D check code unescaped before the closing flag.
    for seq in range(0x10000):
        content = bytes.fromhex("00020000013912345678") + seq.to_bytes(2, "big")
        if framing.check_code(content) == 0x7D:
            break
    lone = b"\x7e" + framing.escape(content) + b"\x7d\x7e"
    assert framing.py_unwrap(lone) == content
    assert framing.unwrap(lone) == content


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=300))
def test_c_and_python_framing_agree(content: bytes) -> None:
    if not framing.SPEEDUPS:
        pytest.skip("C speedups not built")
    assert framing.wrap(content) == framing.py_wrap(content)
    fr = framing.py_wrap(content)
    assert framing.unwrap(fr) == framing.py_unwrap(fr) == content


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_c_and_python_unwrap_agree_on_garbage(data: bytes) -> None:
    try:
        expected: bytes | type = framing.py_unwrap(data)
    except jt808.Jt808Error as e:
        expected = type(e)
    try:
        got: bytes | type = framing.unwrap(data)
    except jt808.Jt808Error as e:
        got = type(e)
    assert got == expected


def test_check_code_is_xor_of_content() -> None:
    data = bytes(range(256))
    assert framing.check_code(data) == functools.reduce(operator.xor, data)


# ------------------------------------------------------------------ splitter

HB = jt808.encode(0x0002, None, phone="13912345678", seq=1)
HB2 = jt808.encode(0x0002, None, phone="13912345678", seq=2)


def test_splitter_several_frames_partial_and_garbage() -> None:
    sp = jt808.FrameSplitter()
    frames = sp.feed(b"\x01\x02" + HB + HB2 + b"\xff" + HB[:5])
    # Both frames come out; the garbage byte between the last flag and the next
    # frame's flag shows as one span that fails decoding; the partial frame waits.
    assert [f for f in frames if _ok(f)] == [HB, HB2]
    assert frames == [HB, HB2, b"\x7e\xff\x7e"]
    assert sp.garbage_bytes == 2
    assert sp.pending == 5
    assert sp.feed(HB[5:]) == [HB]


def _ok(fr: bytes) -> bool:
    try:
        jt808.decode(fr)
        return True
    except jt808.Jt808Error:
        return False


def test_splitter_recovers_a_frame_after_garbage_holding_a_flag() -> None:
    sp = jt808.FrameSplitter()
    frames = sp.feed(b"\xaa\x7e\xbb\xcc" + HB)
    good = [f for f in frames if _ok(f)]
    assert good == [HB]


def test_splitter_drops_oversized_spans() -> None:
    sp = jt808.FrameSplitter(max_frame_len=64)
    assert sp.feed(b"\x7e" + b"\x01" * 200) == []
    assert sp.oversized == 1
    assert sp.feed(HB) == [HB]


def test_splitter_double_flag_between_frames() -> None:
    sp = jt808.FrameSplitter()
    assert [f for f in sp.feed(HB + b"\x7e\x7e" + HB2) if _ok(f)] == [HB, HB2]


@settings(max_examples=300)
@given(
    frames=st.lists(st.sampled_from([HB, HB2]), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=20),
)
def test_splitter_same_frames_however_chopped(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frames)
    points = sorted({c % len(stream) for c in cuts} - {0})
    chunks, last = [], 0
    for p in points:
        chunks.append(stream[last:p])
        last = p
    chunks.append(stream[last:])
    sp = jt808.FrameSplitter()
    got = [f for c in chunks for f in sp.feed(c)]
    assert [f for f in got if _ok(f)] == frames
