"""0x0200 additional items (附加信息): ID BYTE, length BYTE, value.

Each known item decodes to a value in the unit its name says (a number for
scalars, a small layout object for structured items); an unknown item, or a
known one with a length its definition does not allow, is kept as raw bytes —
never dropped. A trailing item that overruns the body is kept in ``tail`` and the
items before it stay decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import active_safety
from .framing import speedups as _speedups
from .wire import U8, U16, U32, Codec, Ctx, Enum, Flags, SignMagnitude16, Struct, layout, to_json
from .wire import f as fld

# --------------------------------------------------------------------------------------
# Structured items


AREA_TYPES = {0: "none", 1: "circle", 2: "rectangle", 3: "polygon", 4: "road_section"}


@layout
class OverspeedInfo:
    """0x11 超速报警附加信息."""

    location_type: int = fld(Enum(U8, AREA_TYPES))
    area_id: int = fld(U32, when="location_type != 0", default=0)


@layout
class AreaInOut:
    """0x12 进出区域/路线报警附加信息."""

    location_type: int = fld(Enum(U8, AREA_TYPES))
    area_id: int = fld(U32)
    direction: int = fld(Enum(U8, {0: "in", 1: "out"}))


@layout
class SectionTime:
    """0x13 路段行驶时间不足/过长报警附加信息."""

    section_id: int = fld(U32)
    drive_time_s: int = fld(U16)
    result: int = fld(Enum(U8, {0: "too_short", 1: "too_long"}))


VIDEO_ALARM_BITS = {
    0: "video_signal_loss",
    1: "video_signal_blocked",
    2: "storage_fault",
    3: "other_video_device_fault",
    4: "passenger_overload",  # 客车超员
    5: "abnormal_driving",
    6: "special_alarm_recording_full",
}
ABNORMAL_DRIVING_BITS = {0: "fatigue", 1: "phone_call", 2: "smoking"}


@layout
class AbnormalDriving:
    """0x18 异常驾驶行为报警详细描述 (JT/T 1078): the table says 2 bytes, its fields and
    real frames take 3."""

    behaviour: int = fld(Flags(U16, ABNORMAL_DRIVING_BITS))
    fatigue_level: int = fld(U8)


EXTENDED_SIGNAL_BITS = {
    0: "low_beam",
    1: "high_beam",
    2: "right_turn",
    3: "left_turn",
    4: "braking",
    5: "reverse",
    6: "fog_lamp",
    7: "clearance_lamp",
    8: "horn",
    9: "air_conditioning",
    10: "neutral",
    11: "retarder",
    12: "abs",
    13: "heater",
    14: "clutch",
}
IO_STATUS_BITS = {0: "deep_sleep", 1: "sleep"}


@layout
class Analog:
    """0x2B 模拟量: AD0 in bits 0–15, AD1 in bits 16–31."""

    ad1: int = fld(U16)
    ad0: int = fld(U16)


# --------------------------------------------------------------------------------------
# Item table


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """How one item ID decodes: ``name`` (with unit) and a decoder that accepts the
    item's bytes or returns ``None`` to keep them raw."""

    item_id: int
    name: str
    decode: Callable[[bytes, int, int, Ctx], Any]
    encode: Callable[[Any, Ctx], bytes]
    #: The codec behind structured items (for JSON), None for scalars.
    codec: Codec | None = None
    #: For scalars: struct code and divisor.
    fmt: str | None = None
    divisor: int = 1


_SCALAR_STRUCTS = {"B": struct.Struct(">B"), "H": struct.Struct(">H"), "I": struct.Struct(">I")}
NOT_DECODED = object()
_scan_items: Any = getattr(_speedups, "scan_items", None)


def _scalar(item_id: int, name: str, fmt: str, divisor: int = 1) -> ItemSpec:
    st = _SCALAR_STRUCTS[fmt]
    size = st.size
    unpack_from, pack = st.unpack_from, st.pack
    if divisor == 1:

        def dec(buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
            return unpack_from(buf, pos)[0] if end - pos == size else NOT_DECODED

        def enc(v: Any, ctx: Ctx) -> bytes:
            return pack(v)

    else:

        def dec(buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
            return unpack_from(buf, pos)[0] / divisor if end - pos == size else NOT_DECODED

        def enc(v: Any, ctx: Ctx) -> bytes:
            return pack(round(v * divisor))

    return ItemSpec(item_id, name, dec, enc, None, fmt, divisor)


def _struct(item_id: int, name: str, cls: type, sizes: tuple[int, ...] | None = None) -> ItemSpec:
    codec = Struct(cls)
    decode_ = cls._decode  # type: ignore[attr-defined]

    def dec(buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
        if sizes is not None and end - pos not in sizes:
            return NOT_DECODED
        obj, nxt = decode_(buf, pos, end, ctx)
        return obj if nxt == end else NOT_DECODED

    return ItemSpec(item_id, name, dec, codec.encode, codec)


def _codec(item_id: int, name: str, codec: Codec, size: int) -> ItemSpec:
    def dec(buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
        if end - pos != size:
            return NOT_DECODED
        v, _ = codec.decode(buf, pos, end, ctx)
        return v

    # Flag words decode to their plain integer: the fast item loop may take them.
    fmt = codec.fmt if isinstance(codec, Flags) else None
    return ItemSpec(item_id, name, dec, codec.encode, codec, fmt)


def _tyre_pressure(buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
    return list(buf[pos:end]) if end - pos == 30 else NOT_DECODED


def _safety(item_id: int, name: str) -> ItemSpec:
    item = active_safety.SafetyItem(item_id)
    codec = Struct(item.cls)

    def dec(buf: bytes, pos: int, end: int, ctx: Ctx) -> Any:
        try:
            return item.decode_item(buf, pos, end, ctx)
        except (ValueError, struct.error, IndexError):
            return NOT_DECODED

    return ItemSpec(item_id, name, dec, item.encode_item, codec)


class _ByteList(Codec):
    def encode(self, value: Any, ctx: Ctx) -> bytes:
        return bytes(value)


ITEMS: dict[int, ItemSpec] = {
    s.item_id: s
    for s in [
        _scalar(0x01, "mileage_km", "I", 10),
        _scalar(0x02, "fuel_l", "H", 10),
        _scalar(0x03, "tachograph_speed_kmh", "H", 10),
        _scalar(0x04, "manual_alarm_event_id", "H"),
        ItemSpec(0x05, "tyre_pressure", _tyre_pressure, _ByteList().encode, _ByteList()),
        _codec(0x06, "compartment_temperature_c", SignMagnitude16(), 2),
        _struct(0x11, "overspeed", OverspeedInfo, (1, 5)),
        _struct(0x12, "area_in_out", AreaInOut, (6,)),
        _struct(0x13, "section_time", SectionTime, (7,)),
        _codec(0x14, "video_alarms", Flags(U32, VIDEO_ALARM_BITS), 4),
        _scalar(0x15, "video_loss_channels", "I"),
        _scalar(0x16, "video_blocked_channels", "I"),
        _scalar(0x17, "storage_faults", "H"),
        _struct(0x18, "abnormal_driving", AbnormalDriving, (3,)),
        _codec(0x25, "extended_signals", Flags(U32, EXTENDED_SIGNAL_BITS), 4),
        _codec(0x2A, "io_status", Flags(U16, IO_STATUS_BITS), 2),
        _struct(0x2B, "analog", Analog, (4,)),
        _scalar(0x30, "signal_strength", "B"),
        _scalar(0x31, "satellites", "B"),
        _safety(0x64, "adas_alarm"),
        _safety(0x65, "dsm_alarm"),
        _safety(0x66, "tpms_alarm"),
        _safety(0x67, "bsd_alarm"),
    ]
}


class RawItem(bytes):
    """An additional item kept as its bytes: unknown ID, or a length its definition rejects."""

    __slots__ = ()


class ExtraItems(dict[int, Any]):
    """Additional items by ID, in wire order. ``tail`` holds bytes that could not be
    read as items (an overrunning last item, or a repeated ID in wire form), so
    nothing received is lost and re-encoding gives the same bytes."""

    # A class-level default keeps construction at C speed (no __init__ of ours):
    # the instance attribute is only set when there is a tail.
    tail: bytes = b""

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self, other) is True and getattr(other, "tail", b"") == self.tail

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ExtraItems({dict.__repr__(self)}" + (f", tail={self.tail!r})" if self.tail else ")")


def _scalar_table() -> dict[int, tuple[Any, int]]:
    """Scalar items decoded inline by the item loop, keyed by ID << 8 | length (so a
    wrong length misses the table): → (unpack_from, divisor)."""
    out = {}
    for iid, spec in ITEMS.items():
        if spec.fmt is not None:
            st = _SCALAR_STRUCTS[spec.fmt]
            out[iid << 8 | st.size] = (st.unpack_from, spec.divisor)
    return out


def _c_table() -> tuple[Any, ...]:
    """The scalar table for the C item scanner: index ID → (size, divisor) or None."""
    t: list[Any] = [None] * 256
    for iid, spec in ITEMS.items():
        if spec.fmt is not None:
            t[iid] = (_SCALAR_STRUCTS[spec.fmt].size, spec.divisor)
    return tuple(t)


class Extras(Codec):
    """The additional-item list of a location body, to the end of the body."""

    def __init__(self) -> None:
        self.scalars = _scalar_table()
        self.c_table = _c_table()
        self.decode = self.decode_c if _scan_items is not None else self.decode_py  # type: ignore[method-assign]

    def decode_c(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        items = ExtraItems()
        others, tail = _scan_items(buf, pos, end, self.c_table, items)
        for iid, start, nxt in others:
            spec = ITEMS.get(iid)
            v = NOT_DECODED if spec is None else spec.decode(buf, start, nxt, ctx)
            items[iid] = RawItem(buf[start:nxt]) if v is NOT_DECODED else v
        if tail:
            items.tail = tail
        return items, end

    def decode(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        return self.decode_py(buf, pos, end, ctx)

    def decode_py(self, buf: bytes, pos: int, end: int, ctx: Ctx) -> tuple[Any, int]:
        items = ExtraItems()
        scalars = self.scalars
        specs = ITEMS
        nd = NOT_DECODED
        tail = b""
        while pos < end:
            if pos + 2 > end:
                tail += buf[pos:end]
                break
            iid = buf[pos]
            start = pos + 2
            nxt = start + buf[pos + 1]
            if nxt > end:
                tail += buf[pos:end]
                break
            sc = scalars.get(iid << 8 | (nxt - start))
            if iid in items:
                tail += buf[pos:nxt]
            elif sc is not None:
                v = sc[0](buf, start)[0]
                items[iid] = v if sc[1] == 1 else v / sc[1]
            else:
                spec = specs.get(iid)
                if spec is None:
                    items[iid] = RawItem(buf[start:nxt])
                else:
                    v = spec.decode(buf, start, nxt, ctx)
                    items[iid] = RawItem(buf[start:nxt]) if v is nd else v
            pos = nxt
        if tail:
            items.tail = tail
        return items, end

    def encode(self, value: Any, ctx: Ctx) -> bytes:
        return encode_items(value, ctx) + getattr(value, "tail", b"")

    def to_json(self, value: Any) -> Any:
        out: dict[str, Any] = {f"0x{iid:02x}": item_to_json(iid, v) for iid, v in value.items()}
        tail = getattr(value, "tail", b"")
        if tail:
            out["tail"] = tail.hex()
        return out

    def from_json(self, j: Any) -> Any:
        items = ExtraItems()
        for k, v in j.items():
            if k != "tail":
                items[int(k, 16)] = item_from_json(int(k, 16), v)
        if j.get("tail"):
            items.tail = bytes.fromhex(j["tail"])
        return items


def encode_item(iid: int, value: Any, ctx: Ctx) -> bytes:
    if isinstance(value, bytes):
        data = bytes(value)
    else:
        spec = ITEMS.get(iid)
        if spec is None:
            raise TypeError(f"item {iid:#04x} has no decoder, give its value as bytes")
        data = spec.encode(value, ctx)
    if len(data) > 255:
        raise ValueError(f"item {iid:#04x} is {len(data)} bytes, at most 255 fit")
    return bytes((iid, len(data))) + data


def encode_items(items: dict[int, Any], ctx: Ctx) -> bytes:
    return b"".join(encode_item(iid, v, ctx) for iid, v in items.items())


def item_to_json(iid: int, value: Any, ctx: Ctx | None = None) -> dict[str, Any]:
    spec = ITEMS.get(iid)
    if isinstance(value, bytes):
        out: dict[str, Any] = {"raw": value.hex()}
        if spec is not None:
            out["error"] = f"length {len(value)} not valid for {spec.name}"
        return out
    assert spec is not None
    if spec.codec is None:
        return {spec.name: value}
    if isinstance(spec.codec, Struct):
        return {spec.name: to_json(value, ctx)}
    j: dict[str, Any] = {spec.name: spec.codec.to_json(value)}
    extra = spec.codec.json_extra(spec.name, value)
    if extra:
        j.update(extra)
    return j


def item_from_json(iid: int, j: dict[str, Any]) -> Any:
    if "raw" in j:
        return RawItem(bytes.fromhex(j["raw"]))
    spec = ITEMS.get(iid)
    if spec is None:
        raise ValueError(f"item {iid:#04x} has no decoder: give it as {{'raw': hex}}")
    if spec.name not in j:
        raise ValueError(f"item {iid:#04x} needs key {spec.name!r}")
    v = j[spec.name]
    if spec.codec is None:
        return v
    return spec.codec.from_json(v)

