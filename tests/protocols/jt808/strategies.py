"""Hypothesis strategies derived from the layout declarations.

Every message class gets a strategy by walking its fields' codecs, so a new
message is property-tested the day it is declared. Values are generated in their
wire-representable form (scaled integers, BCD-able times, GBK-encodable text).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from icvcloud.protocols.jt808 import active_safety, extras, params, wire
from icvcloud.protocols.jt808.wire import CST, Ctx

# Text that survives a GBK round trip: ASCII plus characters plates and names use.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcxyz0123456789-_.:/鲁淄博张店临淄川山危化运输公司驾驶员"
TEXT = st.text(alphabet=_ALPHABET, max_size=12)


def _fixed_text(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_ALPHABET, max_size=n).filter(lambda s: len(s.encode("gbk")) <= n)


def _bcd_time() -> st.SearchStrategy[Any]:
    valid = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
        lambda d: d.replace(microsecond=0, tzinfo=CST)
    )
    invalid = st.sampled_from(["000000000000", "240231101010", "991301000000", "000000083000"])
    return st.one_of(valid, valid, valid, invalid)


def codec_strategy(codec: wire.Codec, ctx: Ctx) -> st.SearchStrategy[Any]:
    if isinstance(codec, wire.Switch):
        return codec_strategy(codec.pick(ctx), ctx)
    if isinstance(codec, wire.Scaled):
        return st.integers(0, codec.base.max).map(lambda r, d=codec.divisor: r / d)
    if isinstance(codec, wire.Coord):
        return st.integers(0, 0xFFFFFFFF).map(lambda r: r / 1000000)
    if isinstance(codec, (wire.Enum, wire.Flags)):
        return codec_strategy(codec.base, ctx)
    if isinstance(codec, wire.UInt):
        return st.integers(0, codec.max)
    if isinstance(codec, wire.SignMagnitude16):
        return st.integers(-0x7FFF, 0x7FFF)
    if isinstance(codec, wire.BcdTime):
        return _bcd_time()
    if isinstance(codec, wire.BcdDate):
        return st.one_of(st.dates(min_value=date(1000, 1, 1)), st.just("00000000"))
    if isinstance(codec, wire.Bcd):
        assert codec.size is not None
        return st.text(alphabet="0123456789", min_size=2 * codec.size, max_size=2 * codec.size)
    if isinstance(codec, wire.Str):
        assert codec.size is not None
        return _fixed_text(codec.size)
    if isinstance(codec, wire.Bytes):
        assert codec.size is not None
        return st.binary(min_size=codec.size, max_size=codec.size)
    if isinstance(codec, wire.RestBytes):
        return st.binary(max_size=40)
    if isinstance(codec, wire.RestStr):
        return TEXT
    if isinstance(codec, wire.LenPrefixed):
        inner = codec_strategy(codec.inner, ctx)
        return inner
    if isinstance(codec, wire.ListOf):
        return st.lists(codec_strategy(codec.item, ctx), max_size=4)
    if isinstance(codec, wire.Struct):
        return layout_strategy(codec.cls, ctx)
    if isinstance(codec, extras.Extras):
        return extras_strategy(ctx)
    if isinstance(codec, params.ParamCodec):
        return param_strategy()
    raise NotImplementedError(f"no strategy for {codec!r}")


def _fix(obj: Any, ctx: Ctx) -> Any:
    """Make a generated object wire-consistent: fields whose ``when`` is false take
    their default, derived fields their derived value, hemisphere signs follow the
    status bits."""
    cls = type(obj)
    for s in cls._FIELDS:
        w = cls._WHENS.get(s.name)
        if w is not None and not w(obj, ctx):
            d = s.default
            setattr(obj, s.name, d() if callable(d) else d)
    for s in cls._FIELDS:
        if s.derive:
            ns = {t.name: getattr(obj, t.name) for t in cls._FIELDS}
            setattr(obj, s.name, eval(s.derive, {}, ns))
        if isinstance(s.codec, wire.Coord) and s.codec.sign != "False":
            ns = {t.name: getattr(obj, t.name) for t in cls._FIELDS}
            v = abs(getattr(obj, s.name))
            setattr(obj, s.name, -v if eval(s.codec.sign, {}, ns) and v else v)
    return obj


def layout_strategy(cls: type, ctx: Ctx) -> st.SearchStrategy[Any]:
    fields = {s.name: codec_strategy(s.codec, ctx) for s in cls._FIELDS}  # type: ignore[attr-defined]
    return st.fixed_dictionaries(fields).map(lambda kw: _fix(cls(**kw), ctx))


def _item_value(iid: int, ctx: Ctx) -> st.SearchStrategy[Any]:
    spec = extras.ITEMS[iid]
    if iid == 0x05:
        return st.lists(st.integers(0, 255), min_size=30, max_size=30)
    if spec.fmt is not None and spec.codec is None:
        size = {"B": 1, "H": 2, "I": 4}[spec.fmt]
        ints = st.integers(0, (1 << (8 * size)) - 1)
        return ints if spec.divisor == 1 else ints.map(lambda r, d=spec.divisor: r / d)
    if iid in active_safety.ITEM_CLASSES:
        return layout_strategy(active_safety.ITEM_CLASSES[iid], ctx)
    assert spec.codec is not None
    return codec_strategy(spec.codec, ctx)


def extras_strategy(ctx: Ctx) -> st.SearchStrategy[Any]:
    known = st.sampled_from(sorted(extras.ITEMS)).flatmap(lambda i: st.tuples(st.just(i), _item_value(i, ctx)))
    unknown_ids = st.integers(0, 255).filter(lambda i: i not in extras.ITEMS)
    unknown = st.tuples(unknown_ids, st.binary(max_size=12).map(extras.RawItem))

    def build(pairs: list[tuple[int, Any]]) -> extras.ExtraItems:
        items = extras.ExtraItems()
        for iid, v in pairs:
            items.setdefault(iid, v)
        return items

    return st.lists(st.one_of(known, unknown), max_size=6).map(build)


def param_strategy() -> st.SearchStrategy[params.Param]:
    def typed(pid: int) -> st.SearchStrategy[Any]:
        kind = params.PARAMS[pid][1]
        if kind == params.STRING:
            return TEXT
        if kind == params.BYTES:
            return st.binary(max_size=16)
        return st.integers(0, (1 << (8 * params._SIZES[kind])) - 1)

    known = st.sampled_from(sorted(params.PARAMS)).flatmap(lambda p: typed(p).map(lambda v: params.Param(p, v)))
    unknown = st.builds(params.Param, st.integers(0, 0xFFFFFFFF).filter(lambda p: p not in params.PARAMS),
                        st.binary(max_size=8))
    return st.one_of(known, unknown)


def times_near(base: datetime, spread_s: int) -> st.SearchStrategy[datetime]:
    return st.integers(0, spread_s).map(lambda s: (base + timedelta(seconds=s)).replace(tzinfo=CST))


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]
