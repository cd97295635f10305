"""Declarative wire layouts: a message is declared once, decode/encode/JSON derive from it.

A layout is a dataclass whose fields carry a *codec* (how the value sits on the wire)
and optionally a ``when`` condition (a Python expression over earlier fields and
``ctx``, e.g. ``"ctx.version == 2019"`` or ``"attr & 1"``) and a ``derive``
expression (the value the encoder writes, e.g. ``"len(items)"`` for a count).

From the declaration, :func:`layout` generates a decoder and an encoder as plain
Python source (the way ``dataclasses`` and ``attrs`` generate ``__init__``):
consecutive fixed-size fields are merged into one :class:`struct.Struct`, so the
hot messages (0x0200 and friends) cost one ``unpack_from`` for their fixed part.
We generate code rather than interpret the declaration per frame because the
gateway decodes every report on the hot path; no codec library on PyPI handles
JT/T 808's mix of BCD, GBK, TLVs and version-dependent widths.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar, dataclass_transform

from .errors import EncodeError, TruncatedBody

#: Beijing time, the zone of every JT/T 808 device time.
CST = timezone(timedelta(hours=8), "UTC+08:00")

V2011, V2013, V2019 = 2011, 2013, 2019

T = TypeVar("T")


@dataclass(slots=True)
class Ctx:
    """What a body's layout may depend on besides its own bytes."""

    #: 2011, 2013 or 2019. 2011 and 2013 share the header; bodies tell them apart.
    version: int = V2013
    #: Active-safety variant: ``"jsatl"`` (苏标, T/JSATL 12-2017), ``"gdrta"`` (粤标,
    #: T/GDRTA 002-2020) or ``"auto"`` (items by their length, messages by header version).
    variant: str = "auto"
    #: 0x8003/0x0005 re-send count width in 2019 frames: the standard text is
    #: unreadable and implementations disagree (BYTE vs WORD); BYTE by default.
    resend_count_word: bool = False

    def safety_variant(self) -> str:
        if self.variant != "auto":
            return self.variant
        return "gdrta" if self.version == V2019 else "jsatl"


# --------------------------------------------------------------------------------------
# Codecs


class Codec:
    """How one value sits on the wire.

    Fixed-size scalars set ``fmt`` (one :mod:`struct` item) and express their
    conversion as source snippets (``conv_in``/``conv_out``) so generated code can
    inline them; everything else implements ``decode``/``encode``.
    """

    fmt: str | None = None
    size: int | None = None

    def conv_in(self, raw: str, me: str) -> str:
        return raw

    def conv_out(self, val: str, me: str) -> str:
        return val

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        assert self.fmt is not None and self.size is not None
        nxt = pos + self.size
        if nxt > end:
            raise TruncatedBody(f"need {self.size} bytes at offset {pos}", buf[pos:end])
        (raw,) = struct.unpack_from(">" + self.fmt, buf, pos)
        return self.from_raw(raw), nxt

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        assert self.fmt is not None
        return struct.pack(">" + self.fmt, self.to_raw(value))

    def from_raw(self, raw: Any) -> Any:
        return raw

    def to_raw(self, value: Any) -> Any:
        return value

    def to_json(self, value: Any) -> Any:
        return value

    def from_json(self, j: Any) -> Any:
        return j

    def json_extra(self, name: str, value: Any) -> dict[str, Any] | None:
        """Derived keys shown beside the value (enum names, flag names)."""
        return None


class UInt(Codec):
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.size = struct.calcsize(">" + fmt)
        self.max = (1 << (8 * self.size)) - 1


U8, U16, U32, U64 = UInt("B"), UInt("H"), UInt("I"), UInt("Q")


class Scaled(Codec):
    """An unsigned integer in units of 1/``divisor``: raw 123 with divisor 10 is 12.3."""

    def __init__(self, base: UInt, divisor: int) -> None:
        self.base, self.divisor = base, divisor
        self.fmt, self.size = base.fmt, base.size

    def conv_in(self, raw: str, me: str) -> str:
        return f"{raw} / {self.divisor}"

    def conv_out(self, val: str, me: str) -> str:
        return f"round({val} * {self.divisor})"

    def from_raw(self, raw: int) -> float:
        return raw / self.divisor

    def to_raw(self, value: float) -> int:
        return round(value * self.divisor)


class Enum(Codec):
    """An integer code with names; the value stays an ``int`` (unknown codes are kept)."""

    def __init__(self, base: UInt, names: Mapping[int, str]) -> None:
        self.base, self.names = base, dict(names)
        self.fmt, self.size = base.fmt, base.size
        self.codes = {v: k for k, v in self.names.items()}

    def json_extra(self, name: str, value: Any) -> dict[str, Any]:
        return {f"{name}_name": self.names.get(value)}

    def from_json(self, j: Any) -> Any:
        return self.codes[j] if isinstance(j, str) else j


class Flags(Codec):
    """A bit field. ``bits`` names single bits; ``groups`` names multi-bit values
    (``{(first_bit, width): {value: name}}``). The value stays the raw ``int``."""

    def __init__(
        self,
        base: UInt,
        bits: Mapping[int, str],
        groups: Mapping[tuple[int, int], Mapping[int, str]] | None = None,
    ) -> None:
        self.base, self.bits, self.groups = base, dict(bits), dict(groups or {})
        self.fmt, self.size = base.fmt, base.size
        self.by_name = {v: 1 << k for k, v in self.bits.items()}
        for (first, _w), names in self.groups.items():
            for value, gname in names.items():
                self.by_name[gname] = value << first

    def names_of(self, value: int) -> list[str]:
        out = [n for b, n in self.bits.items() if value >> b & 1]
        for (first, width), names in self.groups.items():
            g = (value >> first) & ((1 << width) - 1)
            if g in names:
                out.append(names[g])
        return out

    def value_of(self, names: Iterable[str]) -> int:
        v = 0
        for n in names:
            v |= self.by_name[n]
        return v

    def json_extra(self, name: str, value: Any) -> dict[str, Any]:
        return {f"{name}_flags": self.names_of(value)}

    def from_json(self, j: Any) -> Any:
        return self.value_of(j) if isinstance(j, list) else j


class Coord(Codec):
    """Latitude or longitude: DWORD of 1e-6 degrees, hemisphere from a status bit.

    ``sign`` is an expression over earlier fields that is true for south/west.
    The standard's coordinates are unsigned; a negative value is written as its
    magnitude (the status bit carries the sign).
    """

    fmt, size = "I", 4

    def __init__(self, sign: str) -> None:
        self.sign = sign

    def conv_in(self, raw: str, me: str) -> str:
        return f"(-{raw} / 1000000 if {self.sign} else {raw} / 1000000)"

    def conv_out(self, val: str, me: str) -> str:
        return f"round(abs({val}) * 1000000)"

    def from_raw(self, raw: int) -> float:
        return raw / 1000000

    def to_raw(self, value: float) -> int:
        return round(abs(value) * 1000000)


class SignMagnitude16(Codec):
    """WORD whose top bit is the sign (0x8005 = -5); used by 0x06 compartment temperature."""

    fmt, size = "H", 2

    def from_raw(self, raw: int) -> int:
        return -(raw & 0x7FFF) if raw & 0x8000 else raw

    def to_raw(self, value: int) -> int:
        return (0x8000 | -value) if value < 0 else value

    def conv_in(self, raw: str, me: str) -> str:
        return f"{me}.from_raw({raw})"

    def conv_out(self, val: str, me: str) -> str:
        return f"{me}.to_raw({val})"


class Bcd(Codec):
    """BCD[n] as a string of 2n digits, kept whole (leading zeros included)."""

    def __init__(self, n: int) -> None:
        self.size, self.fmt = n, f"{n}s"

    def conv_in(self, raw: str, me: str) -> str:
        return f"{raw}.hex()"

    def conv_out(self, val: str, me: str) -> str:
        return f"{me}.to_raw({val})"

    def from_raw(self, raw: bytes) -> str:
        return raw.hex()

    def to_raw(self, value: str) -> bytes:
        assert self.size is not None
        digits = str(value)
        if len(digits) > 2 * self.size:
            raise EncodeError(f"BCD[{self.size}] holds {2 * self.size} digits, got {digits!r}")
        return bytes.fromhex(digits.rjust(2 * self.size, "0"))


# One lookup per byte turns packed BCD into its value; an impossible nibble maps
# to 99 so the date constructor rejects it.
_BCD = [((b >> 4) * 10 + (b & 15)) if (b >> 4) < 10 and (b & 15) < 10 else 99 for b in range(256)]


# Reports from a fleet arrive with device times clustered around "now", so many
# frames share a timestamp; a small memo of recent BCD times saves building the
# same datetime again (datetimes are immutable, sharing them is safe).
_TIME_MEMO: dict[bytes, datetime | str] = {}
_TIME_MEMO_MAX = 4096


def bcd_datetime(raw: bytes) -> datetime | str:
    """BCD[6] ``YYMMDDhhmmss`` (UTC+8) → aware datetime, or the raw digits if invalid."""
    v = _TIME_MEMO.get(raw)
    if v is not None:
        return v
    t = _BCD
    try:
        v = datetime(2000 + t[raw[0]], t[raw[1]], t[raw[2]], t[raw[3]], t[raw[4]], t[raw[5]], tzinfo=CST)
    except ValueError:
        return raw.hex()
    if len(_TIME_MEMO) >= _TIME_MEMO_MAX:
        _TIME_MEMO.clear()
    _TIME_MEMO[bytes(raw)] = v
    return v


def datetime_bcd(value: datetime | str) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.rjust(12, "0"))
    if value.tzinfo is not None:
        value = value.astimezone(CST)
    if not 2000 <= value.year <= 2099:
        raise EncodeError(f"BCD time holds years 2000-2099, got {value.year}")
    return bytes.fromhex(f"{value.year - 2000:02d}{value:%m%d%H%M%S}")


class BcdTime(Codec):
    """BCD[6] device time in UTC+8 → aware :class:`datetime`.

    An invalid time (zeros, a month of 0x20, …) is kept as its 12 raw digits
    rather than failing the frame: real terminals send such times and the rest of
    the report is still worth having.
    """

    size, fmt = 6, "6s"

    def conv_in(self, raw: str, me: str) -> str:
        return f"_bcd_datetime({raw})"

    def conv_out(self, val: str, me: str) -> str:
        return f"_datetime_bcd({val})"

    def from_raw(self, raw: bytes) -> datetime | str:
        return bcd_datetime(raw)

    def to_raw(self, value: datetime | str) -> bytes:
        return datetime_bcd(value)

    def to_json(self, value: datetime | str) -> str:
        return value if isinstance(value, str) else value.isoformat()

    def from_json(self, j: str) -> datetime | str:
        return j if j.isdigit() else datetime.fromisoformat(j)


class BcdDate(Codec):
    """BCD[4] ``YYYYMMDD`` → :class:`date`, or the raw digits if invalid."""

    size, fmt = 4, "4s"

    def conv_in(self, raw: str, me: str) -> str:
        return f"{me}.from_raw({raw})"

    def conv_out(self, val: str, me: str) -> str:
        return f"{me}.to_raw({val})"

    def from_raw(self, raw: bytes) -> date | str:
        t = _BCD
        try:
            return date(t[raw[0]] * 100 + t[raw[1]], t[raw[2]], t[raw[3]])
        except ValueError:
            return raw.hex()

    def to_raw(self, value: date | str) -> bytes:
        if isinstance(value, str):
            return bytes.fromhex(value.rjust(8, "0"))
        return bytes.fromhex(f"{value:%Y%m%d}")

    def to_json(self, value: date | str) -> str:
        return value if isinstance(value, str) else value.isoformat()

    def from_json(self, j: str) -> date | str:
        return j if j.isdigit() else date.fromisoformat(j)


ENCODING = "gbk"
_STRIP = "\x00 "


def gbk_decode(raw: bytes) -> str:
    # GB 18030 is a superset of GBK: it decodes what GBK terminals send and more.
    return raw.decode("gb18030", errors="replace")


def gbk_encode(text: str) -> bytes:
    try:
        return text.encode("gb18030")
    except UnicodeEncodeError as e:  # lone surrogates and the like
        raise EncodeError(f"text not encodable in GB 18030: {text!r}") from e


class Str(Codec):
    """Fixed-width GBK string. Decoding strips NUL and space padding on both sides
    (real devices pad on either side); encoding pads with NUL on the right."""

    def __init__(self, n: int) -> None:
        self.size, self.fmt = n, f"{n}s"

    def conv_in(self, raw: str, me: str) -> str:
        return f"_gbk_decode({raw}).strip({_STRIP!r})"

    def conv_out(self, val: str, me: str) -> str:
        return f"{me}.to_raw({val})"

    def from_raw(self, raw: bytes) -> str:
        return gbk_decode(raw).strip(_STRIP)

    def to_raw(self, value: str) -> bytes:
        assert self.size is not None
        b = gbk_encode(value)
        if len(b) > self.size:
            raise EncodeError(f"string field holds {self.size} bytes, {value!r} needs {len(b)}")
        return b.ljust(self.size, b"\x00")


class Bytes(Codec):
    """Fixed-width raw bytes."""

    def __init__(self, n: int) -> None:
        self.size, self.fmt = n, f"{n}s"

    def to_raw(self, value: bytes) -> bytes:
        assert self.size is not None
        if len(value) != self.size:
            raise EncodeError(f"field holds exactly {self.size} bytes, got {len(value)}")
        return bytes(value)

    def conv_out(self, val: str, me: str) -> str:
        return f"{me}.to_raw({val})"

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, j: str) -> bytes:
        return bytes.fromhex(j)


class RestBytes(Codec):
    """Everything up to the end of the enclosing body."""

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        return bytes(buf[pos:end]), end

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        return bytes(value)

    def to_json(self, value: bytes) -> str:
        return value.hex()

    def from_json(self, j: str) -> bytes:
        return bytes.fromhex(j)


class RestStr(Codec):
    """GBK text up to the end of the body (trailing NULs dropped)."""

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        return gbk_decode(buf[pos:end]).rstrip("\x00"), end

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        return gbk_encode(value)


class LenPrefixed(Codec):
    """A length prefix (BYTE/WORD/DWORD) followed by that many bytes of ``inner``
    (:class:`RestStr`, :class:`RestBytes` or a :class:`Struct`)."""

    def __init__(self, prefix: UInt, inner: Codec) -> None:
        self.prefix, self.inner = prefix, inner

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        n, pos = self.prefix.decode(buf, pos, end, ctx)
        nxt = pos + n
        if nxt > end:
            raise TruncatedBody(f"length prefix says {n} bytes, {end - pos} remain", buf[pos:end])
        value, _ = self.inner.decode(buf, pos, nxt, ctx)
        return value, nxt

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        b = self.inner.encode(value, ctx)
        assert isinstance(self.prefix, UInt)
        if len(b) > self.prefix.max:
            raise EncodeError(f"{len(b)} bytes do not fit a {self.prefix.size}-byte length prefix")
        return self.prefix.encode(len(b), ctx) + b

    def to_json(self, value: Any) -> Any:
        return self.inner.to_json(value)

    def from_json(self, j: Any) -> Any:
        return self.inner.from_json(j)


def LenStr(prefix: UInt = U8) -> LenPrefixed:  # noqa: N802 - reads as a type in declarations
    return LenPrefixed(prefix, RestStr())


class ListOf(Codec):
    """A sequence of ``item``. ``count`` is a prefix codec (BYTE/WORD), the name of an
    earlier field holding the count, or ``None`` for "items until the body ends"."""

    def __init__(self, item: Codec, count: UInt | str | None = None) -> None:
        self.item, self.count = item, count

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx, n: int | None = None) -> tuple[Any, int]:
        if isinstance(self.count, UInt):
            n, pos = self.count.decode(buf, pos, end, ctx)
        out = []
        dec = self.item.decode
        if n is None:
            while pos < end:
                v, pos = dec(buf, pos, end, ctx)
                out.append(v)
        else:
            for _ in range(n):
                v, pos = dec(buf, pos, end, ctx)
                out.append(v)
        return out, pos

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        enc = self.item.encode
        body = b"".join(enc(v, ctx) for v in value)
        if isinstance(self.count, UInt):
            if len(value) > self.count.max:
                raise EncodeError(f"{len(value)} items do not fit a {self.count.size}-byte count")
            return self.count.encode(len(value), ctx) + body
        return body

    def to_json(self, value: Any) -> Any:
        return [self.item.to_json(v) for v in value]

    def from_json(self, j: Any) -> Any:
        return [self.item.from_json(v) for v in j]


class Struct(Codec):
    """A nested layout."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.size = getattr(cls, "_SIZE", None)

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        return self.cls._decode(buf, pos, end, ctx)  # type: ignore[attr-defined, no-any-return]

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        return self.cls._encode(value, ctx)  # type: ignore[attr-defined, no-any-return]

    def to_json(self, value: Any) -> Any:
        return to_json(value)

    def from_json(self, j: Any) -> Any:
        return from_json(self.cls, j)


class Switch(Codec):
    """Picks a codec by a key computed from the context: versions, variants."""

    def __init__(self, key: Callable[[Ctx], Any], options: Mapping[Any, Codec]) -> None:
        self.key, self.options = key, dict(options)
        first = next(iter(self.options.values()))
        self.json_codec = first

    def pick(self, ctx: Ctx) -> Codec:
        k = self.key(ctx)
        return self.options[k] if k in self.options else self.options[None]

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        return self.pick(ctx).decode(buf, pos, end, ctx)

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        return self.pick(ctx).encode(value, ctx)

    def to_json(self, value: Any) -> Any:
        return self.json_codec.to_json(value)

    def from_json(self, j: Any) -> Any:
        return self.json_codec.from_json(j)

    def json_extra(self, name: str, value: Any) -> dict[str, Any] | None:
        return self.json_codec.json_extra(name, value)


def by_version(*, default: Codec, **versions: Codec) -> Switch:
    """``by_version(default=Str(20), v2011=Str(8), v2019=Str(30))``."""
    opts: dict[Any, Codec] = {int(k[1:]): c for k, c in versions.items()}
    opts[None] = default
    return Switch(lambda ctx: ctx.version, opts)


def by_variant(*, jsatl: Codec, gdrta: Codec) -> Switch:
    return Switch(Ctx.safety_variant, {"jsatl": jsatl, "gdrta": gdrta, None: jsatl})


# --------------------------------------------------------------------------------------
# Layout declarations


def f(
    codec: Codec,
    *,
    default: Any = dataclasses.MISSING,
    factory: Any = dataclasses.MISSING,
    when: str | None = None,
    derive: str | None = None,
    doc: str = "",
) -> Any:
    """Declare a field: its codec, an optional ``when`` condition and ``derive`` expression."""
    md = {"codec": codec, "when": when, "derive": derive, "doc": doc}
    return dataclasses.field(default=default, default_factory=factory, metadata=md)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    codec: Codec
    when: str | None
    derive: str | None
    default: Any


def _specs(cls: type) -> list[FieldSpec]:
    out = []
    for fld in dataclasses.fields(cls):
        md = fld.metadata
        if "codec" not in md:
            continue
        if fld.default is not dataclasses.MISSING:
            default = fld.default
        elif fld.default_factory is not dataclasses.MISSING:
            default = fld.default_factory
        else:
            default = dataclasses.MISSING
        out.append(FieldSpec(fld.name, md["codec"], md["when"], md["derive"], default))
    return out


_NS_BASE: dict[str, Any] = {
    "TruncatedBody": TruncatedBody,
    "_bcd_datetime": bcd_datetime,
    "_datetime_bcd": datetime_bcd,
    "_gbk_decode": gbk_decode,
}


def _compile(cls: type, specs: list[FieldSpec]) -> None:
    """Generate ``cls._decode(buf, pos, end, ctx)`` and ``cls._encode(obj, ctx)``."""
    ns: dict[str, Any] = dict(_NS_BASE)
    ns["_cls"] = cls
    ns["_new"] = object.__new__
    ns["_missing"] = dataclasses.MISSING
    dec = ["def _decode(buf, pos, end, ctx):"]
    enc = ["def _encode(o, ctx):"]
    enc += [f"    {s.name} = o.{s.name}" for s in specs]
    for s in specs:
        if s.derive:
            enc.append(f"    {s.name} = {s.derive}")
    enc.append("    parts = []")
    group: list[tuple[int, FieldSpec]] = []
    fixed_size = 0
    is_fixed = True

    def cname(i: int) -> str:
        return f"_c{i}"

    def flush() -> None:
        if not group:
            return
        fmt = ">" + "".join(specs[i].codec.fmt or "" for i, _ in group)
        st = struct.Struct(fmt)
        sname = f"_S{group[0][0]}"
        ns[sname] = st
        raws = [f"_r{i}" for i, _ in group]
        dec.append(f"    if pos + {st.size} > end:")
        dec.append(f"        raise TruncatedBody('{cls.__name__}: need {st.size} bytes at offset %d' % pos,")
        dec.append("                            buf[pos:end])")
        dec.append(f"    {', '.join(raws)}{',' if len(raws) == 1 else ''} = {sname}.unpack_from(buf, pos)")
        dec.append(f"    pos += {st.size}")
        for (i, s), r in zip(group, raws, strict=True):
            dec.append(f"    {s.name} = {s.codec.conv_in(r, cname(i))}")
        outs = ", ".join(s.codec.conv_out(s.name, cname(i)) for i, s in group)
        enc.append(f"    parts.append({sname}.pack({outs}))")
        group.clear()

    for i, s in enumerate(specs):
        ns[cname(i)] = s.codec
        if s.codec.fmt is not None and s.when is None:
            group.append((i, s))
            fixed_size += s.codec.size or 0
            continue
        flush()
        is_fixed = False
        count_arg = ""
        if isinstance(s.codec, ListOf) and isinstance(s.codec.count, str):
            count_arg = f", {s.codec.count}"
        call = f"{cname(i)}.decode(buf, pos, end, ctx{count_arg})"
        if s.when is None:
            dec.append(f"    {s.name}, pos = {call}")
            enc.append(f"    parts.append({cname(i)}.encode({s.name}, ctx))")
        else:
            ns[f"_d{i}"] = s.default
            dflt = f"_d{i}() if callable(_d{i}) else _d{i}"
            dec.append(f"    if {s.when}:")
            dec.append(f"        {s.name}, pos = {call}")
            dec.append("    else:")
            dec.append(f"        {s.name} = {dflt}")
            enc.append(f"    if {s.when}:")
            enc.append(f"        parts.append({cname(i)}.encode({s.name}, ctx))")
    flush()
    # Build the object without __init__: a keyword call to a dataclass __init__
    # costs several times more than setting the slots, and decoding is the hot path.
    dec.append("    o = _new(_cls)")
    dec += [f"    o.{s.name} = {s.name}" for s in specs]
    dec.append("    return o, pos")
    enc.append("    return b''.join(parts)")
    src = "\n".join(dec) + "\n\n" + "\n".join(enc) + "\n"
    exec(compile(src, f"<layout {cls.__module__}.{cls.__qualname__}>", "exec"), ns)  # noqa: S102
    cls._decode = staticmethod(ns["_decode"])  # type: ignore[attr-defined]
    cls._encode = staticmethod(ns["_encode"])  # type: ignore[attr-defined]
    cls._SOURCE = src  # type: ignore[attr-defined]
    cls._SIZE = fixed_size if is_fixed else None  # type: ignore[attr-defined]
    # ``when`` conditions evaluated on a finished object (for JSON output).
    whens = {}
    for s in specs:
        if s.when:
            binds = "; ".join(f"{t.name} = o.{t.name}" for t in specs)
            fsrc = f"def _w(o, ctx):\n    {binds}\n    return bool({s.when})\n"
            wns: dict[str, Any] = {}
            exec(compile(fsrc, "<when>", "exec"), wns)  # noqa: S102
            whens[s.name] = wns["_w"]
    cls._WHENS = whens  # type: ignore[attr-defined]


@dataclass_transform(kw_only_default=True, field_specifiers=(f,))
def layout(cls: type[T]) -> type[T]:
    """Turn a class of ``f(...)`` fields into a slotted, keyword-only dataclass with a
    generated wire decoder and encoder."""
    dc = dataclass(slots=True, kw_only=True)(cls)
    specs = _specs(dc)
    dc._FIELDS = specs  # type: ignore[attr-defined]
    _compile(dc, specs)
    return dc


def decode(cls: type[T], data: bytes, ctx: Ctx | None = None) -> T:
    """Decode ``data`` (exactly one instance of the layout) into ``cls``."""
    obj, _ = cls._decode(data, 0, len(data), ctx or Ctx())  # type: ignore[attr-defined]
    return obj  # type: ignore[no-any-return]


def encode(obj: Any, ctx: Ctx | None = None) -> bytes:
    try:
        return obj._encode(obj, ctx or Ctx())  # type: ignore[no-any-return]
    except struct.error as e:
        raise EncodeError(f"{type(obj).__name__}: value out of range ({e})") from e
    except AttributeError as e:
        raise EncodeError(f"{type(obj).__name__}: {e}") from e


# --------------------------------------------------------------------------------------
# JSON


# The context of the outermost to_json call, seen by nested layouts (whose codecs'
# to_json take no context) so their version-dependent fields show correctly.
_JSON_CTX: ContextVar[Ctx | None] = ContextVar("jt808_json_ctx", default=None)


def to_json(obj: Any, ctx: Ctx | None = None) -> dict[str, Any]:
    """A layout object as JSON-ready data: values in their units, enums and flags
    with their names beside the raw integer, bytes as hex."""
    if ctx is None:
        ctx = _JSON_CTX.get() or Ctx()
        return _to_json(obj, ctx)
    token = _JSON_CTX.set(ctx)
    try:
        return _to_json(obj, ctx)
    finally:
        _JSON_CTX.reset(token)


def _to_json(obj: Any, ctx: Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    whens = type(obj)._WHENS
    for s in type(obj)._FIELDS:
        w = whens.get(s.name)
        if w is not None and not w(obj, ctx):
            continue
        v = getattr(obj, s.name)
        out[s.name] = s.codec.to_json(v)
        extra = s.codec.json_extra(s.name, v)
        if extra:
            out.update(extra)
    extra_fn = getattr(obj, "_json_extra", None)
    if extra_fn is not None:
        out.update(extra_fn())
    return out


def from_json(cls: type[T], j: Mapping[str, Any]) -> T:
    """Inverse of :func:`to_json`: derived keys (``*_name``, ``*_flags``) are used
    only where the raw value is missing."""
    if not isinstance(j, Mapping):
        raise EncodeError(f"{cls.__name__}: expected a JSON object, got {type(j).__name__}")
    kw: dict[str, Any] = {}
    for s in cls._FIELDS:  # type: ignore[attr-defined]
        if s.name in j:
            kw[s.name] = s.codec.from_json(j[s.name])
        elif f"{s.name}_flags" in j:
            kw[s.name] = s.codec.from_json(j[f"{s.name}_flags"])
        elif f"{s.name}_name" in j:
            kw[s.name] = s.codec.from_json(j[f"{s.name}_name"])
        elif s.default is dataclasses.MISSING and s.derive is None:
            raise EncodeError(f"{cls.__name__}: missing field {s.name!r}")
        elif s.derive is not None and s.default is dataclasses.MISSING:
            kw[s.name] = 0
    try:
        return cls(**kw)
    except TypeError as e:
        raise EncodeError(f"{cls.__name__}: {e}") from e

