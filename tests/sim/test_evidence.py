"""The simulator's evidence pictures: real JPEGs of exactly the asked size, whose
padding decoders skip (the console shows them; the uploads test sizes exactly)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from icvcloud.sim.attachments import _picture, jpeg_like


def segments_before_scan(b: bytes) -> list[int]:
    """The markers from SOI up to the start of scan, walked by their lengths as a decoder does."""
    assert b[:2] == b"\xff\xd8"
    i, markers = 2, []
    while b[i:i + 2] != b"\xff\xda":
        assert b[i] == 0xFF, f"no marker at {i}"
        markers.append(b[i + 1])
        i += 2 + int.from_bytes(b[i + 2:i + 4], "big")
    return markers


@settings(max_examples=200)
@given(st.integers(0, 200_000), st.integers(0, 10))
def test_a_picture_of_any_size_from_the_frame_up(extra: int, seed: int) -> None:
    pic = _picture()
    size = len(pic) + extra
    b = jpeg_like(seed, size)
    assert len(b) == size and b[-2:] == b"\xff\xd9"
    if extra == 0 or extra >= 4:
        # The frame's own segments follow the comments unchanged: it decodes as the frame.
        assert b.endswith(pic[2:])
        markers = segments_before_scan(b)
        assert markers == [0xFE] * (len(markers) - len(segments_before_scan(pic))) + segments_before_scan(pic)


def test_padding_is_random_and_seeded() -> None:
    a, b = jpeg_like(1, 50_000), jpeg_like(2, 50_000)
    assert a != b and a == jpeg_like(1, 50_000)
    assert 0x7E in a[4:-len(_picture())]  # the frame escape byte occurs, as in real images
