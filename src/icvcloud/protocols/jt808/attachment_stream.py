"""The byte stream of an active-safety attachment connection (苏标 T/JSATL 12-2017 §4.6,
粤标 T/GDRTA 002-2020).

On the connection a terminal opens to the attachment server after 0x9208, two
kinds of units follow each other with nothing to tell them apart but their first
bytes:

* ordinary JT/T 808 frames (0x7E-delimited, escaped): 0x1210, 0x1211, 0x1212 and the
  server's 0x8001/0x9212;
* raw file-data frames, *not* escaped or delimited: ``30 31 63 64`` | file name
  BYTE[50] | offset DWORD | length DWORD | ``length`` bytes of file data. The data
  holds any byte, 0x7E included, so the 0x7E splitter cannot be used on this
  stream: a data frame is consumed by its length.

:class:`AttachmentStreamSplitter` cuts the stream into :class:`bytes` (one 0x7E
frame, still escaped, for :func:`codec.decode`), :class:`DataFrame` and
:class:`Skipped` (bytes that were neither, with why). The data-frame header is the
``AttachmentDataHeader`` layout declared in :mod:`active_safety`; this module
encodes and decodes whole frames from that one declaration.
"""

from __future__ import annotations

from dataclasses import dataclass

from .active_safety import ATTACHMENT_DATA_HEADER_LEN, ATTACHMENT_DATA_MAGIC, AttachmentDataHeader
from .errors import BadField, EncodeError, Jt808Error, LengthMismatch, TruncatedBody
from .framing import FLAG, MAX_FRAME_LEN, unwrap
from .wire import Ctx, gbk_decode, gbk_encode

MAGIC = ATTACHMENT_DATA_MAGIC
HEADER_LEN = ATTACHMENT_DATA_HEADER_LEN
#: Width of the data frame's file-name field.
NAME_LEN = 50
#: Data bytes one frame may carry by default. Terminals send at most 64 KiB per
#: frame (the usual reading of 苏标 §4.6 and what implementations send); the margin
#: admits terminals that send bigger blocks while bounding what one frame can make
#: the server buffer.
DEFAULT_MAX_DATA_LEN = 1 << 20
_STRIP = "\x00 "
_CTX = Ctx()


@dataclass(frozen=True, slots=True)
class DataFrame:
    """One file-data frame: ``data`` belongs at ``offset`` of the file ``name``."""

    name: str
    offset: int
    data: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True, slots=True)
class Skipped:
    """Bytes the splitter could not use. ``kind``: ``garbage`` (neither a 0x7E frame nor
    a data frame), ``oversized`` (a 0x7E span longer than a frame can be) or
    ``data_too_long`` (a data-frame header whose length exceeds the limit: the header
    is dropped and the splitter looks for the next unit). ``head`` keeps the first
    bytes for logs."""

    kind: str
    length: int
    head: bytes = b""


StreamItem = bytes | DataFrame | Skipped


def wire_name(name: str) -> str:
    """``name`` as it reads back from the 50-byte name field: GBK, cut to 50 bytes
    (not inside a character), padding stripped. File names in 0x1210/0x1211 may be
    longer than the field; both sides match data frames to files by this key."""
    raw = gbk_encode(name)
    if len(raw) > NAME_LEN:
        raw = raw[:NAME_LEN]
        while raw and gbk_decode(raw).endswith("\ufffd"):
            raw = raw[:-1]  # never split a double-byte character
    return gbk_decode(raw).strip(_STRIP)


def encode_data_frame(name: str, offset: int, data: bytes) -> bytes:
    """A complete data frame. ``name`` longer than 50 bytes is cut as :func:`wire_name`
    does; an offset or length beyond a DWORD raises :class:`EncodeError`."""
    if not 0 <= offset <= 0xFFFFFFFF or offset + len(data) > 0xFFFFFFFF:
        raise EncodeError(f"data frame at offset {offset} with {len(data)} bytes does not fit a DWORD file offset")
    hdr = AttachmentDataHeader(name=wire_name(name), offset=offset, length=len(data))
    return AttachmentDataHeader._encode(hdr, _CTX) + bytes(data)  # type: ignore[attr-defined, no-any-return]


def _header(buf: bytes | bytearray, pos: int) -> AttachmentDataHeader:
    head, _ = AttachmentDataHeader._decode(buf, pos, pos + HEADER_LEN, _CTX)  # type: ignore[attr-defined]
    return head  # type: ignore[no-any-return]


def decode_data_frame(frame: bytes) -> DataFrame:
    """Exactly one complete data frame → :class:`DataFrame`. Raises :class:`BadField`
    (wrong magic), :class:`TruncatedBody` (shorter than its header or its length) or
    :class:`LengthMismatch` (bytes after the declared length)."""
    if len(frame) < HEADER_LEN:
        raise TruncatedBody(f"data frame header needs {HEADER_LEN} bytes, got {len(frame)}", frame)
    if frame[:4] != MAGIC:
        raise BadField("data frame must start with 30 31 63 64", frame[:HEADER_LEN])
    head = _header(frame, 0)
    total = HEADER_LEN + head.length
    if len(frame) < total:
        raise TruncatedBody(f"data frame declares {head.length} data bytes, {len(frame) - HEADER_LEN} present",
                            frame[:HEADER_LEN])
    if len(frame) > total:
        raise LengthMismatch(f"{len(frame) - total} bytes after the declared data length", frame[:HEADER_LEN])
    return DataFrame(head.name, head.offset, bytes(frame[HEADER_LEN:]))


def _plausible_frame(span: bytes | bytearray) -> bool:
    """Whether a 0x7E span is a real frame: escaping, check code and the header's body
    length all agree. Random bytes pass with odds of about one in 250,000; the
    splitter uses this only to decide where to resynchronise after bad input."""
    try:
        content = unwrap(bytes(span))
    except Jt808Error:
        return False
    if len(content) < 12:
        return False
    props = content[2] << 8 | content[3]
    body_len = props & 0x3FF
    sub = 4 if props & 0x2000 else 0
    if props & 0x4000 and len(content) == 17 + sub + body_len:
        return True
    # 2011/2013 headers (also a 2013 terminal that sets the 2019 bit by mistake).
    return len(content) == 12 + sub + body_len


class AttachmentStreamSplitter:
    """Cuts an attachment connection's byte stream into 0x7E frames, data frames and
    skipped spans (see the module docstring).

    Resynchronisation after bad input: bytes that start neither unit are skipped up
    to the next 0x7E or ``30 31 63 64``; a 0x7E span that is not a plausible frame
    but holds the magic restarts at the magic (garbage with a stray 0x7E must not
    swallow the data frame behind it), otherwise its closing flag may open the next
    frame (as :class:`framing.FrameSplitter` does). Memory is bounded by
    ``max_frame_len`` and ``HEADER_LEN + max_data_len``.
    """

    __slots__ = ("_buf", "max_data_len", "max_frame_len")

    def __init__(self, max_frame_len: int = MAX_FRAME_LEN, max_data_len: int = DEFAULT_MAX_DATA_LEN) -> None:
        self._buf = bytearray()
        self.max_frame_len = max_frame_len
        self.max_data_len = max_data_len

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a unit."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[StreamItem]:
        buf = self._buf
        buf += chunk
        out: list[StreamItem] = []
        pos = 0
        n = len(buf)
        while pos < n:
            b = buf[pos]
            if b == FLAG:
                end = buf.find(FLAG, pos + 1)
                if end == -1:
                    if n - pos <= self.max_frame_len:
                        break  # wait for the closing flag
                    magic = buf.find(MAGIC, pos + 1)
                    stop = magic if magic != -1 else n
                    out.append(Skipped("oversized", stop - pos, bytes(buf[pos : pos + 16])))
                    pos = stop
                    continue
                if end == pos + 1:
                    pos = end  # 7E 7E: an empty frame; the second flag opens the next
                    continue
                span = buf[pos : end + 1]
                if len(span) <= self.max_frame_len and _plausible_frame(span):
                    out.append(bytes(span))
                    pos = end + 1
                    continue
                magic = span.find(MAGIC, 1)
                if magic != -1:
                    out.append(Skipped("garbage", magic, bytes(span[:16])))
                    pos += magic
                elif len(span) > self.max_frame_len:
                    out.append(Skipped("oversized", end - pos, bytes(span[:16])))
                    pos = end
                else:
                    # Not a frame: hand it on (decoding names what is wrong with it) and
                    # let its closing flag open the next frame.
                    out.append(bytes(span))
                    pos = end
            elif b == MAGIC[0] and buf[pos : pos + 4] == MAGIC[: min(4, n - pos)]:
                if n - pos < HEADER_LEN:
                    break  # a data-frame header still arriving (or its first bytes)
                head = _header(buf, pos)
                if head.length > self.max_data_len:
                    out.append(Skipped("data_too_long", 4, bytes(buf[pos : pos + HEADER_LEN])))
                    pos += 4
                    continue
                total = HEADER_LEN + head.length
                if n - pos < total:
                    break
                out.append(DataFrame(head.name, head.offset, bytes(buf[pos + HEADER_LEN : pos + total])))
                pos += total
            else:
                nxt_flag = buf.find(FLAG, pos)
                nxt_magic = buf.find(MAGIC, pos)
                cands = [i for i in (nxt_flag, nxt_magic) if i != -1]
                if cands:
                    stop = min(cands)
                else:
                    # Keep a tail that may be the start of a magic split across reads.
                    stop = max(pos + 1, n - 3)
                    while stop < n and not MAGIC.startswith(bytes(buf[stop:n])):
                        stop += 1
                out.append(Skipped("garbage", stop - pos, bytes(buf[pos : pos + 16])))
                pos = stop
                if not cands and stop < n:
                    break
        del buf[:pos]
        return out


__all__ = [
    "DEFAULT_MAX_DATA_LEN",
    "HEADER_LEN",
    "MAGIC",
    "NAME_LEN",
    "AttachmentStreamSplitter",
    "DataFrame",
    "Skipped",
    "StreamItem",
    "decode_data_frame",
    "encode_data_frame",
    "wire_name",
]
