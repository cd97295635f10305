"""The raw-frames endpoint names each logged frame's message ID; the log keeps
frames as received (flags, escapes), which the detail panel shows operators."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from icvcloud.api.routes_devices import _msg_id
from icvcloud.protocols import jt808


def test_ids_of_frames_as_logged_and_of_bare_messages() -> None:
    frame = jt808.encode(0x0002, None, phone="13800009808", seq=1)
    assert frame[:1] == b"\x7e"
    assert _msg_id(frame) == "0x0002"
    assert _msg_id(bytes.fromhex("0200aa")) == "0x0200"  # header + body without flags, as before
    assert _msg_id(b"\x7e\x7d\x02\x01\x00") == "0x7E01"  # an escaped ID byte
    assert _msg_id(b"\x7e") is None
    assert _msg_id(b"") is None


@given(msg_id=st.integers(0, 0xFFFF), body=st.binary(max_size=64), seq=st.integers(0, 0xFFFF))
def test_fuzz_every_encoded_frame_gets_its_id(msg_id: int, body: bytes, seq: int) -> None:
    assert _msg_id(jt808.encode(msg_id, body, phone="13900000001", seq=seq)) == f"0x{msg_id:04X}"
