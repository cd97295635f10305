"""The attachment connection's stream codec: data frames and the splitter that
separates them from 0x7E frames. Property round trips and fuzzing with hypothesis."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import AttachmentInfo, FileInfo, FileUploadComplete
from icvcloud.protocols.jt808.attachment_stream import (
    HEADER_LEN,
    MAGIC,
    AttachmentStreamSplitter,
    DataFrame,
    Skipped,
    decode_data_frame,
    encode_data_frame,
    wire_name,
)
from icvcloud.protocols.jt808.wire import Ctx

from ..protocols.jt808.strategies import layout_strategy

NAME_ALPHABET = "ABCDEFGHJKabcxyz0123456789-_.危化运输报警"
CTX = Ctx(jt808.V2013, "jsatl")

names = st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=60)
# Data often holds the bytes that matter to the splitter.
payloads = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"\x7e", b"\x7d", MAGIC, b"\x30\x31", b"\x00", b"\xff"]), max_size=40).map(b"".join),
)
data_frames = st.builds(lambda n, o, d: DataFrame(wire_name(n), o, d), names, st.integers(0, 0xFFFF0000), payloads)


@st.composite
def jt_frames(draw: st.DrawFn) -> bytes:
    msg_id, cls = draw(st.sampled_from([(0x1210, AttachmentInfo), (0x1211, FileInfo), (0x1212, FileUploadComplete)]))
    body = draw(layout_strategy(cls, CTX))
    try:
        return jt808.encode(msg_id, body, phone="013900000001", seq=draw(st.integers(0, 0xFFFF)), ctx=CTX)
    except jt808.EncodeError:
        assume(False)
        raise


def _heartbeat(seq: int) -> bytes:
    return jt808.encode(0x0002, None, phone="013900000001", seq=seq)


units = st.one_of(jt_frames(), data_frames, st.integers(0, 0xFFFF).map(_heartbeat))


def _wire(u: bytes | DataFrame) -> bytes:
    return u if isinstance(u, bytes) else encode_data_frame(u.name, u.offset, u.data)


def _chunks(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _split(chunks: list[bytes], splitter: AttachmentStreamSplitter | None = None) -> list[Any]:
    sp = splitter or AttachmentStreamSplitter()
    out: list[Any] = []
    for c in chunks:
        out += sp.feed(c)
    return out


# ------------------------------------------------------------------ data frames


@given(names, st.integers(0, 0xFFFF0000), payloads)
def test_data_frame_round_trip(name: str, offset: int, data: bytes) -> None:
    raw = encode_data_frame(name, offset, data)
    assert raw[:4] == MAGIC and len(raw) == HEADER_LEN + len(data)
    assert decode_data_frame(raw) == DataFrame(wire_name(name), offset, data)


def test_data_frame_layout() -> None:
    raw = encode_data_frame("00_64_6401_0_abc.jpg", 65536, b"\x7e\x01")
    assert raw[:4] == b"01cd"
    assert raw[4:54] == b"00_64_6401_0_abc.jpg".ljust(50, b"\x00")
    assert raw[54:58] == (65536).to_bytes(4, "big") and raw[58:62] == (2).to_bytes(4, "big")
    assert raw[62:] == b"\x7e\x01"


def test_long_names_are_cut_on_a_character_boundary() -> None:
    name = "报" * 30  # 60 GBK bytes: 25 characters fit the 50-byte field
    assert wire_name(name) == "报" * 25
    assert wire_name("a" + "报" * 30) == "a" + "报" * 24  # 49 bytes: the 25th character would be split
    assert decode_data_frame(encode_data_frame(name, 0, b"x")).name == wire_name(name)


def test_data_frame_errors_are_typed() -> None:
    raw = encode_data_frame("a.jpg", 0, b"abcdef")
    with pytest.raises(jt808.TruncatedBody):
        decode_data_frame(raw[:-1])
    with pytest.raises(jt808.TruncatedBody):
        decode_data_frame(raw[:20])
    with pytest.raises(jt808.LengthMismatch):
        decode_data_frame(raw + b"\x00")
    with pytest.raises(jt808.BadField):
        decode_data_frame(b"\x30\x31\x63\x65" + raw[4:])
    with pytest.raises(jt808.EncodeError):
        encode_data_frame("a.jpg", 0xFFFFFFFF, b"ab")


# ------------------------------------------------------------------ splitter


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(units, max_size=8), st.data())
def test_interleaved_stream_round_trip(items: list[bytes | DataFrame], data: st.DataObject) -> None:
    stream = b"".join(_wire(u) for u in items)
    chunks = _chunks(data.draw, stream)
    sp = AttachmentStreamSplitter()
    assert _split(chunks, sp) == items
    assert sp.pending == 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=200), st.lists(units, min_size=1, max_size=5), st.data())
def test_garbage_before_units_is_skipped_and_counted(garbage: bytes, items: list[bytes | DataFrame],
                                                     data: st.DataObject) -> None:
    assume(b"\x7e" not in garbage and MAGIC not in garbage)
    stream = garbage + b"".join(_wire(u) for u in items)
    out = _split(_chunks(data.draw, stream))
    assert [u for u in out if not isinstance(u, Skipped)] == items
    skipped = [u for u in out if isinstance(u, Skipped)]
    assert {s.kind for s in skipped} == {"garbage"}
    assert sum(s.length for s in skipped) == len(garbage)


def test_stray_flag_in_garbage_does_not_swallow_the_data_frame_behind_it() -> None:
    df = DataFrame("a.jpg", 0, b"\x7e" * 10 + b"xyz")
    frame = _heartbeat(7)
    out = _split([b"junk\x7ejunk" + encode_data_frame(df.name, 0, df.data) + frame])
    assert [u for u in out if not isinstance(u, Skipped)] == [df, frame]


def test_stray_flag_in_garbage_does_not_swallow_the_frame_behind_it() -> None:
    frame = _heartbeat(3)
    out = _split([b"\x7e\x01\x02\x03" + frame])
    good = [u for u in out if isinstance(u, bytes) and u == frame]
    assert good == [frame]


def test_oversized_length_is_skipped_and_the_stream_resynchronises() -> None:
    bad = bytearray(encode_data_frame("a.jpg", 0, b""))
    bad[58:62] = (0xFFFFFFFF).to_bytes(4, "big")
    good = DataFrame("b.jpg", 5, b"hello")
    out = _split([bytes(bad) + encode_data_frame("b.jpg", 5, b"hello")])
    assert isinstance(out[0], Skipped) and out[0].kind == "data_too_long"
    assert out[-1] == good


def test_a_flag_with_no_end_is_dropped_once_too_long() -> None:
    sp = AttachmentStreamSplitter(max_frame_len=100)
    out = sp.feed(b"\x7e" + b"\x01" * 200)
    assert [s.kind for s in out if isinstance(s, Skipped)] == ["oversized"]
    assert sp.pending == 0
    assert sp.feed(_heartbeat(1)) == [_heartbeat(1)]


def test_partial_magic_waits_for_more() -> None:
    sp = AttachmentStreamSplitter()
    raw = encode_data_frame("a.jpg", 0, b"abc")
    assert sp.feed(raw[:2]) == []
    assert sp.feed(raw[2:]) == [DataFrame("a.jpg", 0, b"abc")]


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=120), max_size=6))
def test_random_bytes_never_raise_and_memory_stays_bounded(chunks: list[bytes]) -> None:
    sp = AttachmentStreamSplitter(max_frame_len=256, max_data_len=512)
    for c in chunks:
        for item in sp.feed(c):
            _decode_item(item)
        assert sp.pending <= max(256, HEADER_LEN + 512) + len(c)


def _decode_item(item: Any) -> None:
    """What a server does with each item: only typed errors may come out."""
    if isinstance(item, bytes):
        with contextlib.suppress(jt808.Jt808Error):
            jt808.decode(item)
    else:
        assert isinstance(item, (DataFrame, Skipped))


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    s = bytearray(b"".join(_wire(u) for u in draw(st.lists(units, min_size=1, max_size=4))))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(s) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        if op == "flip":
            s[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            s[i:i] = draw(st.sampled_from([b"\x7e", MAGIC, b"\x7d", b"\x00\x00\xff\xff"]))
        elif op == "delete":
            del s[i : i + draw(st.integers(1, 8))]
        else:
            s[i] = draw(st.sampled_from([0x7E, 0x7D, 0x30, 0x00, 0xFF]))
        if not s:
            break
    return bytes(s)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_streams(), st.data())
def test_mutated_streams_yield_only_typed_items(stream: bytes, data: st.DataObject) -> None:
    sp = AttachmentStreamSplitter(max_data_len=4096)
    for item in _split(_chunks(data.draw, stream), sp):
        _decode_item(item)
