"""The ingest path's rows (built straight from decoded messages) are exactly what
storing the same messages as positions writes: on real devices' frames (the
public vectors), the corpus, and generated location messages of every kind."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from icvcloud.gateways.jt808.records import positions_from, rows_from
from icvcloud.model import position_of_row, position_row
from icvcloud.model.records import from_us
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.location import Location
from tests.protocols.jt808 import corpus
from tests.protocols.jt808.strategies import extras_strategy, layout_strategy
from tests.protocols.jt808.test_vectors import VECTORS, decode, frame_of

RECEIVED_US = 1_795_478_400_123_457  # not a whole millisecond: no float rounding may creep in


def _same(msg: jt808.Message, received_us: int = RECEIVED_US) -> list[Any]:
    rows = rows_from(msg, received_us)
    assert rows == [position_row(p) for p in positions_from(msg, from_us(received_us))]
    return rows


def _decodes(v: dict[str, Any]) -> bool:
    try:
        decode(v, frame_of(v))
    except jt808.Jt808Error:
        return False  # a vector of a malformed frame: refused, nothing is stored
    return True


LOCATION_VECTORS = [v for v in VECTORS if v["msg_id"] in ("0x0200", "0x0201", "0x0500", "0x0704") and _decodes(v)]


def test_there_are_real_location_vectors() -> None:
    assert len(LOCATION_VECTORS) >= 20


@pytest.mark.parametrize("v", LOCATION_VECTORS, ids=[v["name"] for v in LOCATION_VECTORS])
def test_real_devices_frames(v: dict[str, Any]) -> None:
    rows = _same(decode(v, frame_of(v)))
    assert rows, "a location message gives at least one row"


def test_the_corpus() -> None:
    n = 0
    for frame in corpus.frames():
        msg = jt808.decode(frame)
        n += len(_same(msg))
    assert n >= 12


def _generated() -> st.SearchStrategy[tuple[int, Location, Any]]:
    def of(version: int) -> st.SearchStrategy[tuple[int, Location, Any]]:
        ctx = jt808.Ctx(version)
        return st.tuples(st.just(version), layout_strategy(Location, ctx), extras_strategy(ctx))

    return st.sampled_from([jt808.V2013, jt808.V2019]).flatmap(of)


@settings(max_examples=300)
@given(_generated(), st.integers(0, 0xFFFF), st.integers(0, 2**52))
def test_generated_locations(generated: tuple[int, Location, Any], seq: int, received_us: int) -> None:
    version, loc, extras = generated
    loc.extras = extras
    try:
        frame = jt808.encode(0x0200, loc, phone="13900001111", seq=seq, version=version)
    except jt808.EncodeError:
        assume(False)  # a generated item the wire cannot carry
        return
    msg = jt808.decode(frame)
    (row,) = _same(msg, received_us)
    # The row reads back as the position.
    (p,) = positions_from(msg, from_us(received_us))
    assert position_of_row(row) == p
