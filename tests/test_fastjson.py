"""JSON on the ingest path (orjson): what the stores keep must read back the same
as before, and what orjson refuses must still be written."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from icvcloud import fastjson

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def test_additional_items_as_before() -> None:
    extras = {"0x02": {"fuel_l": 12.5}, "0x30": {"signal": 25}, "0x2a": {"io": [1, 0]},
              "0xe1": {"text": "鲁C·危险品"}, "tail": "ff00"}
    std = json.dumps(extras, ensure_ascii=False, separators=(",", ":"))
    assert fastjson.dumps(extras) == std


@given(_json)
def test_round_trip(value: object) -> None:
    text = fastjson.dumps(value)
    assert json.loads(text) == value
    assert fastjson.loads(text) == value


def test_what_orjson_refuses_goes_through_the_standard_library() -> None:
    # Integer keys (the standard library writes them as strings) and integers beyond 64 bits.
    assert fastjson.dumps({1: 2**70}) == '{"1":1180591620717411303424}'
    assert fastjson.loads("[1.5e300]")[0] == 1.5e300 and not math.isinf(fastjson.loads("[1.5e300]")[0])


def test_text_the_standard_library_wrote_still_reads() -> None:
    # Rows stored before orjson may hold the standard library's NaN/Infinity tokens.
    got = fastjson.loads('{"0x02":{"fuel_l":NaN},"x":Infinity}')
    assert math.isnan(got["0x02"]["fuel_l"]) and got["x"] == math.inf
    try:
        fastjson.loads("{not json")
    except ValueError:
        pass
    else:
        raise AssertionError("invalid JSON read")
    assert fastjson.dumps({"v": math.nan}) == '{"v":null}'
