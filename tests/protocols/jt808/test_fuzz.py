"""Fuzzing in the suite: random and mutated frames through splitter and decoder
raise nothing but the typed errors. (fuzz/jt808_atheris.py runs the same target
for millions of inputs.)"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.protocols import jt808

from .corpus import frames

SEEDS = frames()


def decode_everything(data: bytes) -> int:
    """The fuzz target: split, decode, reassemble; returns frames decoded."""
    sp = jt808.FrameSplitter()
    reasm = jt808.Reassembler(max_sets=8)
    n = 0
    for fr in sp.feed(data):
        try:
            msg = jt808.decode(fr)
            if msg.is_packet:
                reasm.add(msg, 0.0)
            else:
                msg.to_json()
            n += 1
        except jt808.Jt808Error:
            pass
    reasm.expire(1e9)
    return n


def test_seeds_decode() -> None:
    assert decode_everything(b"".join(SEEDS)) == len(SEEDS)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    decode_everything(data)
    decode_everything(b"\x7e" + data + b"\x7e")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    fr = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        i = draw(st.integers(0, max(len(fr) - 1, 0)))
        if op == "flip" and fr:
            fr[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            fr[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and fr:
            del fr[i : i + draw(st.integers(1, 4))]
        elif fr:
            fr[i] = draw(st.sampled_from([0x00, 0x7D, 0x7E, 0xFF, 0x01, 0x02]))
    return bytes(fr)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_frames(data: bytes) -> None:
    decode_everything(data)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_frames_with_fixed_check_code(data: bytes) -> None:
    """Mutations that keep a valid check code reach the body decoders."""
    from icvcloud.protocols.jt808 import framing

    inner = data[1:-1] if data[:1] == b"\x7e" and data[-1:] == b"\x7e" else data
    try:
        content = framing.unescape(inner.replace(b"\x7e", b""))[:-1]
    except jt808.Jt808Error:
        return
    decode_everything(framing.py_wrap(content))
