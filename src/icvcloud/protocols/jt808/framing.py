"""0x7E framing, 0x7D escaping, the XOR check code and the TCP stream splitter.

Order (JT/T 808 §4.4): on sending, build header+body, append the XOR check code,
then escape everything between the two 0x7E; on receiving, un-escape, verify the
check code, then parse. The check byte itself is often 0x7E or 0x7D and is escaped
like any other byte.
"""

from __future__ import annotations

import functools
import operator
import os
from collections.abc import Iterator

from .errors import BadCheckCode, BadEscape

FLAG = 0x7E
ESC = 0x7D
_FLAG_B = b"\x7e"

#: Longest escaped frame a conforming terminal can send: a 2019 sub-packaged header
#: (21 bytes) + a 1023-byte body + check, every byte escaped, plus both flags.
MAX_FRAME_LEN = 2 * (21 + 1023 + 1) + 2

_xor = operator.xor
_reduce = functools.reduce


def check_code(data: bytes) -> int:
    """XOR of every byte (header through body)."""
    return _reduce(_xor, data, 0)


def escape(data: bytes) -> bytes:
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """Undo 0x7D escaping. A 0x7D followed by anything but 0x01/0x02 is an error,
    except a lone 0x7D as the very last byte: some terminals leave a 0x7D check
    code unescaped before the closing flag, and the check code verifies it."""
    if ESC not in data:
        return data
    n = data.count(ESC)
    if n != data.count(b"\x7d\x01") + data.count(b"\x7d\x02"):
        valid_lone_tail = data[-1] == ESC and n - 1 == data.count(b"\x7d\x01", 0, len(data) - 1) + data.count(
            b"\x7d\x02", 0, len(data) - 1
        )
        if not valid_lone_tail:
            i = data.find(ESC)
            while i != -1 and i + 1 < len(data) and data[i + 1] in (1, 2):
                i = data.find(ESC, i + 2)
            raise BadEscape(f"0x7D at offset {i} not followed by 0x01 or 0x02", data)
        return data[:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d") + b"\x7d"
    # 7D02 first: replacing 7D01 first would turn an escaped 7D followed by 02 into 7E.
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def py_wrap(content: bytes) -> bytes:
    """Header+body → complete escaped frame with check code and both flags."""
    return _FLAG_B + escape(content + bytes((check_code(content),))) + _FLAG_B


def py_unwrap(frame: bytes, verify: bool = True) -> bytes:
    """Complete frame (flags optional) → header+body, un-escaped, check code verified."""
    if frame[:1] == _FLAG_B:
        frame = frame[1:]
    if frame[-1:] == _FLAG_B:
        frame = frame[:-1]
    if FLAG in frame:
        raise BadEscape(f"unescaped 0x7E at offset {frame.find(FLAG)} inside the frame", frame)
    data = unescape(frame)
    if not data:
        raise BadCheckCode("empty frame", frame)
    body = data[:-1]
    if verify:
        cc = _reduce(_xor, body, 0)
        if cc != data[-1]:
            raise BadCheckCode(f"check code {data[-1]:#04x}, content gives {cc:#04x}", frame)
    return body


class FrameSplitter:
    """Cuts a TCP byte stream into frames (each returned with both 0x7E flags, still escaped).

    Copes with partial frames, several frames per chunk, garbage between frames and
    ``7E 7E``. A closing flag may also open the next frame: if garbage holding a 0x7E
    came before a real frame, the bad span is returned (and fails decoding) while
    the real frame behind it is still found. Data with no flag within
    ``max_frame_len`` bytes is dropped and counted.
    """

    __slots__ = ("_buf", "garbage_bytes", "max_frame_len", "oversized")

    def __init__(self, max_frame_len: int = MAX_FRAME_LEN) -> None:
        self._buf = bytearray()
        self.max_frame_len = max_frame_len
        #: Bytes dropped because they were outside any frame.
        self.garbage_bytes = 0
        #: Spans dropped because no closing flag came within ``max_frame_len``.
        self.oversized = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        return list(self.iter_feed(chunk))

    def iter_feed(self, chunk: bytes) -> Iterator[bytes]:
        buf = self._buf
        buf += chunk
        start = buf.find(FLAG)
        if start == -1:
            self.garbage_bytes += len(buf)
            buf.clear()
            return
        pos = start
        while True:
            end = buf.find(FLAG, pos + 1)
            if end == -1:
                break
            if end - pos > 1:
                if end - pos + 1 > self.max_frame_len:
                    self.oversized += 1
                else:
                    yield bytes(buf[pos : end + 1])
            pos = end
        if start:
            self.garbage_bytes += start
        # Keep the last flag: it may open a frame still arriving.
        if len(buf) - pos > self.max_frame_len:
            self.oversized += 1
            del buf[:]
        else:
            del buf[:pos]

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)


try:
    if os.environ.get("ICV_PURE_PYTHON"):
        raise ImportError("pure Python requested")
    from . import _speedups  # type: ignore[attr-defined]
except ImportError:  # not built: the reference implementation serves
    _speedups = None

if _speedups is not None:
    _c_unwrap = _speedups.unwrap
    wrap = _speedups.wrap

    def unwrap(frame: bytes, verify: bool = True) -> bytes:
        out = _c_unwrap(frame, verify)
        # None: something is wrong; the reference implementation names it.
        return out if out is not None else py_unwrap(frame, verify)

else:
    wrap = py_wrap
    unwrap = py_unwrap

SPEEDUPS = _speedups is not None
#: The compiled module, or None (other modules take their fast paths from it).
speedups = _speedups
