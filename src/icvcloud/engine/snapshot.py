"""The engine's snapshot as bytes: compact, cheap to write, checked when read.

A snapshot is :data:`MAGIC` followed by one record per vehicle, each
``u32 length · u32 CRC-32 · body`` (little-endian), the body zlib-compressed. A
body is ``u32 n`` (reports in the window), ``u32 j`` (length of the JSON part),
the JSON part — the vehicle's small, irregular values (context, states, what was
told, the extras of the few reports that have any) — and the window's reports as
columns of fixed-size numbers: device times as differences from the previous
report (the window is sorted by them), receive times as differences from the
device time, then seq, item, heading, alarm bits, status bits, the bad-time flags,
latitudes, longitudes and speeds (float64: exact, NaN kept).

Numbers a column cannot hold (a seq beyond 64 bits from a hand-made report) put
the whole window into the JSON part instead (``n`` = ``0xFFFFFFFF``).

Why not JSON throughout (format 1, still read): a window of 50 reports as JSON
costs ~150 float reprs and ~600 Python-level conversions per vehicle per
snapshot; as columns it is a few C calls, and the result is several times smaller.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator, Sequence
from itertools import accumulate, pairwise
from typing import Any

from .sample import Row

MAGIC = b"ICVENGINE2\n"
_FRAME = struct.Struct("<II")
_COUNTS = struct.Struct("<II")
_AS_JSON = 0xFFFFFFFF
#: zlib level 1: most of the gain at a fraction of the cost of the default level.
_LEVEL = 1


class SnapshotError(ValueError):
    """A snapshot that cannot be read (truncated, corrupted, or not a snapshot)."""


def _layout(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}q{n}q{n}q{n}q{n}q{n}I{n}I{n}B{n}d{n}d{n}d")


def row(r: Any) -> Row:
    """A window row from its JSON form (a list), checked."""
    return (int(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]), float(r[5]), float(r[6]), int(r[7]), int(r[8]),
            int(r[9]), bool(r[10]), _extras(r[11]))


def encode_vehicle(small: list[Any], rows: Sequence[Row]) -> bytes:
    """One vehicle's record: ``small`` (JSON values) and its window."""
    n = len(rows)
    extras = {str(i): r[11] for i, r in enumerate(rows) if r[11] is not None}
    cols: bytes = b""
    if n:
        t, seq, item, recv, lat, lon, speed, heading, alarm, status, bad, _ = zip(*rows, strict=True)
        dt = [t[0], *(b - a for a, b in pairwise(t))]
        try:
            cols = _layout(n).pack(*dt, *(r - d for r, d in zip(recv, t, strict=True)), *seq, *item, *heading,
                                   *alarm, *status, *bad, *lat, *lon, *speed)
        except struct.error:
            cols = b""
            small = [*small, [list(r) for r in rows]]
            n = _AS_JSON
    if n != _AS_JSON:
        small = [*small, extras]
    j = json.dumps(small, separators=(",", ":")).encode()
    body = zlib.compress(_COUNTS.pack(n, len(j)) + j + cols, _LEVEL)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def records(blob: bytes | bytearray | memoryview) -> Iterator[tuple[list[Any], list[Row], bytes]]:
    """The vehicles of a snapshot: (the JSON part without the window, the window, the record)."""
    view = memoryview(blob)
    if bytes(view[:len(MAGIC)]) != MAGIC:
        raise SnapshotError("not an engine snapshot (wrong header)")
    pos = len(MAGIC)
    end = len(view)
    while pos < end:
        if end - pos < _FRAME.size:
            raise SnapshotError(f"engine snapshot truncated at byte {pos}")
        size, crc = _FRAME.unpack_from(view, pos)
        pos += _FRAME.size
        body = view[pos:pos + size]
        if len(body) != size or zlib.crc32(body) != crc:
            raise SnapshotError(f"engine snapshot corrupted at byte {pos}")
        record = bytes(view[pos - _FRAME.size:pos + size])
        pos += size
        small, samples = _decode(body)
        yield small, samples, record


def _decode(body: memoryview) -> tuple[list[Any], list[Row]]:
    try:
        raw = zlib.decompress(body)
        n, jlen = _COUNTS.unpack_from(raw, 0)
        small = json.loads(raw[_COUNTS.size:_COUNTS.size + jlen])
        if not isinstance(small, list) or not small:
            raise SnapshotError("engine snapshot: a vehicle record is not a list")
        tail = small.pop()
        if n == _AS_JSON:
            return small, [row(r) for r in tail]
        cols = _layout(n).unpack_from(raw, _COUNTS.size + jlen)
        if len(raw) != _COUNTS.size + jlen + _layout(n).size:
            raise SnapshotError("engine snapshot: a window's length does not match its count")
    except (zlib.error, struct.error, ValueError, TypeError, IndexError) as e:
        raise SnapshotError(f"engine snapshot: unreadable vehicle record ({e})") from None
    t = list(accumulate(cols[0:n]))
    recv = [a + b for a, b in zip(t, cols[n:2 * n], strict=True)]
    if not isinstance(tail, dict):
        raise SnapshotError("engine snapshot: a window's extras are not an object")
    c = cols
    extras: list[dict[str, Any] | None] = [None] * n
    for k, v in tail.items():
        if not k.isdigit() or int(k) >= n:
            raise SnapshotError("engine snapshot: extras for a report the window does not have")
        extras[int(k)] = _extras(v)
    rows = list(zip(t, c[2 * n:3 * n], c[3 * n:4 * n], recv, c[8 * n:9 * n], c[9 * n:10 * n], c[10 * n:11 * n],
                    c[4 * n:5 * n], c[5 * n:6 * n], c[6 * n:7 * n], map(bool, c[7 * n:8 * n]), extras, strict=True))
    return small, rows


def _extras(v: Any) -> dict[str, Any] | None:
    if v is None or isinstance(v, dict):
        return v
    raise SnapshotError("engine snapshot: a report's extras are not an object")
