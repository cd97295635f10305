"""The active-safety attachment server (苏标 T/JSATL 12-2017 §4.5–4.6, 粤标 T/GDRTA 002-2020).

After a 0x9208 the terminal connects here and, on one TCP connection, sends

    0x1210 attachment list → 0x8001
    per file: 0x1211 file info → 0x8001; data frames (30 31 63 64 …, no reply);
              0x1212 upload complete → 0x9212 (complete, or the ranges to send again)

Files go to ``<root>/<alarm number>/<file name>`` (written to a hidden ``.part`` file
and renamed when every byte is there). Received ranges are tracked per file and
survive a reconnect for ``upload_ttl_s``, so a terminal that lost its connection is
asked only for what is missing. When its last connection ends, an upload's state is
written beside its files (``.ranges.json``, after the partial files are flushed to
disk), so a gateway that did not receive the first part — the terminal reconnected
through a load balancer to another one sharing the directory, or this one restarted —
resumes it too. Names are checked before they touch the disk; the
alarm number must be one the platform issued (it is an HMAC, see
``attachment_request.AlarmNumbers``).

Every unit received is counted by outcome in ``stats.frames``; bad input gets a
reply where the protocol has one, costs only its own connection (closed after
``max_errors`` unusable units) and never another.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from icvcloud.metrics import GatewayStats
from icvcloud.model import normalise_device_id
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import (
    AlarmIdentification,
    AttachmentInfo,
    DataRange,
    FileInfo,
    FileUploadComplete,
    FileUploadCompleteReply,
)
from icvcloud.protocols.jt808.attachment_stream import (
    DEFAULT_MAX_DATA_LEN,
    AttachmentStreamSplitter,
    DataFrame,
    Skipped,
    wire_name,
)

from .attachment_request import AlarmNumbers
from .replies import ReplyEncoder

log = logging.getLogger("icvcloud.gateway.attachments")

PROTOCOL = "jt808_attachments"
RESULT_OK, RESULT_FAIL, RESULT_MSG_ERROR, RESULT_NOT_SUPPORTED = 0, 1, 2, 3
#: 0x9212 lists at most 255 ranges (a BYTE count); the rest are asked for next round.
MAX_RANGES = 255
_ALARM_NO = re.compile(r"[0-9A-Za-z_-]{1,32}")
#: An upload's state for another process (or this one after a restart): beside its
#: files, hidden (no accepted file name starts with a dot).
STATE_FILE = ".ranges.json"
# Characters no stored name may hold: path separators, NUL and what breaks other filesystems.
_FORBIDDEN = frozenset('/\\:*?"<>|')


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def safe_file_name(name: str) -> bool:
    """Whether ``name`` may become a file in an alarm's directory: one path
    component, no control characters, not hidden and not ``.``/``..``."""
    if not name or len(name.encode("utf-8")) > 255 or name != name.strip():
        return False
    if name.startswith(".") or name.endswith("."):
        return False
    return not any(c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127 for c in name)


@dataclass(frozen=True)
class StoredFile:
    name: str
    file_type: int
    size: int
    path: Path


class AttachmentSink(Protocol):
    """Where the metadata of received files goes (the alarms' attachments table).

    Calls may repeat for the same (alarm number, file name) — a terminal may upload
    again — so implementations upsert. An exception makes the server ask the
    terminal for the file again rather than report success it could not record."""

    async def on_file_complete(self, alarm_no: str, device_id: str, file_name: str, file_type: int, size: int,
                               path: Path) -> None: ...

    async def on_upload_complete(self, alarm_no: str, device_id: str, identification: AlarmIdentification,
                                 files: Sequence[StoredFile]) -> None: ...


class IndexFileSink:
    """A sink that needs no database: ``upload.json`` in each alarm's directory lists
    its files once all are in. The platform's default until alarms persist them."""

    async def on_file_complete(self, alarm_no: str, device_id: str, file_name: str, file_type: int, size: int,
                               path: Path) -> None:
        log.info("attachment %s/%s from %s: %d bytes", alarm_no, file_name, device_id, size)

    async def on_upload_complete(self, alarm_no: str, device_id: str, identification: AlarmIdentification,
                                 files: Sequence[StoredFile]) -> None:
        if not files:
            return
        index = {
            "alarm_no": alarm_no,
            "device_id": device_id,
            "identification": jt808.to_json(identification),
            "files": [{"name": f.name, "file_type": f.file_type, "size": f.size} for f in files],
        }
        target = files[0].path.parent / "upload.json"
        await asyncio.to_thread(_write_json, target, index)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class AttachmentServerSettings:
    #: Files go under ``root/<alarm number>/``.
    root: Path
    max_file_bytes: int = 64 << 20
    #: Files one alarm may announce (0x1210 can list up to 255).
    max_files: int = 32
    max_data_len: int = DEFAULT_MAX_DATA_LEN
    idle_timeout_s: float = 120.0
    #: How long an unfinished upload's received ranges are kept for a reconnect.
    upload_ttl_s: float = 3600.0
    #: Unusable units (garbage, undecodable frames) after which a connection is closed.
    max_errors: int = 32
    #: Active-safety variant of 0x1210 (``auto``: by the header version, then the other).
    variant: str = "auto"
    #: Verifies that alarm numbers are the platform's; None accepts any well-formed one.
    numbers: AlarmNumbers | None = None


class _File:
    """One file of one alarm: its received ranges and its partial file on disk."""

    def __init__(self, upload: _Upload, name: str, size: int, file_type: int = 4) -> None:
        self.upload = upload
        self.name = name
        self.key = wire_name(name)
        self.size = size
        self.file_type = file_type
        self.starts: list[int] = []  # received [start, end) ranges, sorted, disjoint, merged
        self.ends: list[int] = []
        self.complete = False
        self.fd: int | None = None

    @property
    def path(self) -> Path:
        return self.upload.directory / self.name

    @property
    def part_path(self) -> Path:
        return self.upload.directory / f".{self.name}.part"

    def reset(self, size: int) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.part_path.unlink()
        self.size, self.starts, self.ends, self.complete = size, [], [], False

    def write(self, offset: int, data: bytes) -> None:
        if self.fd is None:
            if self.starts and not self.part_path.exists():
                # Another process finished or restarted this file (shared directory):
                # what this one remembers receiving is no longer on disk.
                self.starts, self.ends = [], []
            self.fd = os.open(self.part_path, os.O_RDWR | os.O_CREAT, 0o640)
        # A direct pwrite: 64 KiB into the page cache costs less than a thread hop;
        # the fsync that may block happens once per file, in a thread (finish()).
        os.pwrite(self.fd, data, offset)
        self._add(offset, offset + len(data))

    def _add(self, start: int, end: int) -> None:
        if start >= end:
            return
        i = bisect.bisect_left(self.ends, start)  # first range that ends at or after start
        j = bisect.bisect_right(self.starts, end)  # ranges from i to j-1 touch [start, end)
        if i < j:
            start = min(start, self.starts[i])
            end = max(end, self.ends[j - 1])
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def missing(self) -> list[tuple[int, int]]:
        """(offset, length) of every range not yet received."""
        out, at = [], 0
        for s, e in zip(self.starts, self.ends, strict=True):
            if s > at:
                out.append((at, s - at))
            at = max(at, e)
        if at < self.size:
            out.append((at, self.size - at))
        return out

    def finish(self) -> None:
        """Make the received file durable under its final name (runs in a thread)."""
        if self.fd is None:
            # Not O_CREAT: a partial file gone (taken by another process) must fail
            # here, not become a file of zeros of the right size.
            self.fd = os.open(self.part_path, os.O_RDWR | (os.O_CREAT if self.size == 0 else 0), 0o640)
        os.ftruncate(self.fd, self.size)
        os.fsync(self.fd)
        if os.fstat(self.fd).st_size != self.size:
            raise OSError(f"{self.part_path} is not {self.size} bytes after writing")
        self.close()
        os.replace(self.part_path, self.path)
        _fsync(self.upload.directory)  # the rename itself must survive a crash

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def state(self) -> dict[str, Any] | None:
        """What another process may take over: complete, or the received ranges; None
        if nothing (taken on the event loop, where data frames change the ranges)."""
        if self.complete:
            return {"size": self.size, "complete": True}
        if not self.starts:
            return None
        return {"size": self.size, "ranges": [[a, b] for a, b in zip(self.starts, self.ends, strict=True)]}

    def take_over(self, st: Any, part_bytes: int | None, file_bytes: int | None) -> bool:
        """Merge a saved state of this file (``part_bytes``, ``file_bytes``: what is on
        disk now); whether it added anything. Ranges count only as far as the partial
        file reaches, completion only while the file is there whole; anything malformed
        is ignored (the terminal sends again)."""
        if self.complete or not isinstance(st, dict) or st.get("size") != self.size:
            return False
        if st.get("complete") is True:
            if file_bytes != self.size:
                return False
            self.close()
            self.starts, self.ends, self.complete = [], [], True
            return True
        ranges = st.get("ranges")
        if not isinstance(ranges, list) or part_bytes is None:
            return False
        before = (list(self.starts), list(self.ends))
        for r in ranges:
            if (isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r)
                    and 0 <= r[0] < r[1] <= min(self.size, part_bytes)):
                self._add(r[0], r[1])
        return (self.starts, self.ends) != before


class _Upload:
    """The files of one alarm number, shared by the connections that upload them."""

    def __init__(self, alarm_no: str, device_id: str, identification: AlarmIdentification, directory: Path) -> None:
        self.alarm_no = alarm_no
        self.device_id = device_id
        self.identification = identification
        self.directory = directory
        self.files: dict[str, _File] = {}
        self.by_key: dict[str, _File] = {}
        self.last_activity = time.monotonic()
        self.connections = 0
        self.notified = False

    def add(self, name: str, size: int) -> _File:
        f = self.files.get(name)
        if f is None:
            f = self.files[name] = self.by_key[wire_name(name)] = _File(self, name, size)
        elif f.size != size:
            f.reset(size)
            self.notified = False
        return f

    @property
    def complete(self) -> bool:
        return bool(self.files) and all(f.complete for f in self.files.values())

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    def state(self) -> dict[str, dict[str, Any]]:
        return {name: st for name, f in self.files.items() if (st := f.state()) is not None}

    def save(self, files: dict[str, dict[str, Any]]) -> None:
        """Write :meth:`state` for whoever continues this upload (runs in a thread). The
        partial files are flushed to disk first: after a crash the state must not claim
        ranges the disk does not hold."""
        kept = {}
        for name, st in files.items():
            if "ranges" in st:
                try:
                    _fsync(self.files[name].part_path)
                except FileNotFoundError:
                    continue
            kept[name] = st
        if kept:
            _write_json(self.state_path, {"alarm_no": self.alarm_no, "files": kept})

    def read_saved(self, files: dict[str, tuple[Path, Path]]) -> dict[str, tuple[Any, int | None, int | None]]:
        """The saved state of ``files`` (name → partial and final path) with the sizes on
        disk now (runs in a thread; merged on the event loop, where data frames change
        the ranges)."""
        try:
            saved = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}
        states = saved.get("files") if isinstance(saved, dict) else None
        if not isinstance(states, dict):
            return {}
        return {name: (states[name], _size_or_none(part), _size_or_none(final))
                for name, (part, final) in files.items() if name in states}

    def paths(self) -> dict[str, tuple[Path, Path]]:
        return {name: (f.part_path, f.path) for name, f in self.files.items() if not f.complete}

    def take_over(self, saved: dict[str, tuple[Any, int | None, int | None]]) -> int:
        """Merge :meth:`read_saved`; how many files gained something."""
        return sum(f.take_over(*saved[name]) for name, f in self.files.items() if name in saved)

    def forget(self) -> None:
        with contextlib.suppress(OSError):  # a leftover is harmless: it only ever adds what is on disk
            self.state_path.unlink()


class _Connection:
    def __init__(self, server: AttachmentServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        s = server.settings
        self.splitter = AttachmentStreamSplitter(max_data_len=s.max_data_len)
        self.reasm: jt808.Reassembler | None = None
        self.replies: ReplyEncoder | None = None
        self.device_id: str | None = None
        self.uploads: dict[str, _Upload] = {}
        self.errors = 0
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    # -- bookkeeping

    def count(self, outcome: str, n: int = 1) -> None:
        self.server.stats.frames[outcome] += n

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def reply(self, msg: jt808.Message, result: int) -> None:
        assert self.replies is not None
        self.write(self.replies.general(msg.seq, msg.msg_id, result))

    def _identify(self, msg: jt808.Message) -> None:
        if self.replies is None or self.replies.phone != msg.phone:
            self.replies = ReplyEncoder(msg.phone, msg.version, msg.protocol_version or 1)
        self.device_id = normalise_device_id(msg.phone)

    def _file(self, key: str, by_wire: bool = False) -> _File | None:
        for up in reversed(self.uploads.values()):  # the latest 0x1210 first
            f = up.by_key.get(key) if by_wire else up.files.get(key)
            if f is not None:
                return f
        return None

    # -- the connection's life

    async def run(self) -> None:
        s = self.server.settings
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(self.reader.read(1 << 16), s.idle_timeout_s)
                except TimeoutError:
                    self.count("idle_closed")
                    return
                if not chunk:
                    return
                for item in self.splitter.feed(chunk):
                    await self.handle(item)
                if self.errors >= s.max_errors:
                    self.count("too_many_errors")
                    log.warning("closing attachment connection %s (%s): %d unusable units", self.peer,
                                self.device_id, self.errors)
                    return
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            for up in self.uploads.values():
                up.connections -= 1
                up.last_activity = time.monotonic()
                up.close()
                if up.connections == 0 and not up.notified:
                    try:
                        await asyncio.to_thread(up.save, up.state())
                    except OSError:
                        log.exception("could not save the state of upload %s", up.alarm_no)

    async def handle(self, item: bytes | DataFrame | Skipped) -> None:
        if isinstance(item, DataFrame):
            self.on_data(item)
        elif isinstance(item, Skipped):
            self.count(item.kind)
            self.errors += 1
        else:
            msg = self._decode(item)
            if msg is not None:
                await self.on_message(msg)

    def _decode(self, frame: bytes) -> jt808.Message | None:
        variant = self.server.settings.variant
        try:
            msg = jt808.decode(frame, jt808.Ctx(variant=variant))
        except jt808.UnknownMessageId as e:
            self.count("unexpected_message")
            if e.header is not None:
                self._identify(e.header)
                self.reply(e.header, RESULT_NOT_SUPPORTED)
            return None
        except jt808.Jt808Error as e:
            retried = self._decode_other_variant(frame, e) if variant == "auto" else None
            if retried is not None:
                return retried
            self.count(e.kind)
            self.errors += 1
            if e.header is not None:
                self._identify(e.header)
                self.reply(e.header, RESULT_MSG_ERROR)
            return None
        if msg.is_packet:
            return self._packet(msg)
        return msg

    @staticmethod
    def _decode_other_variant(frame: bytes, e: jt808.Jt808Error) -> jt808.Message | None:
        """粤标 0x1210 from a terminal with a 2013 header (or 苏标 with 2019): the
        header version picked the wrong identification width; try the other one."""
        if e.header is None or e.header.msg_id != 0x1210:
            return None
        other = "jsatl" if e.header.version == jt808.V2019 else "gdrta"
        try:
            return jt808.decode(frame, jt808.Ctx(variant=other))
        except jt808.Jt808Error:
            return None

    def _packet(self, msg: jt808.Message) -> jt808.Message | None:
        """A sub-packaged 0x1210 (long attachment lists exceed 1023 bytes)."""
        self._identify(msg)
        if self.reasm is None:
            self.reasm = jt808.Reassembler(timeout_s=self.server.settings.idle_timeout_s, max_sets=4,
                                           max_packets=64)
        try:
            whole = self.reasm.add(msg, time.monotonic(), jt808.Ctx(msg.version, self.server.settings.variant))
        except jt808.Jt808Error as e:
            self.count(e.kind)
            self.errors += 1
            self.reply(msg, RESULT_MSG_ERROR)
            return None
        self.count("packet")
        self.reply(msg, RESULT_OK)  # every packet is answered (苏标 §4.1)
        return whole

    async def on_message(self, msg: jt808.Message) -> None:
        self._identify(msg)
        mid = msg.msg_id
        if mid == 0x1210:
            await self.on_attachment_info(msg, msg.body)
        elif mid == 0x1211:
            self.on_file_info(msg, msg.body)
        elif mid == 0x1212:
            await self.on_upload_complete(msg, msg.body)
        elif mid == 0x0002:
            self.count("heartbeat")
            self.reply(msg, RESULT_OK)
        elif mid == 0x0001:
            self.count("terminal_reply")
        else:
            self.count("unexpected_message")
            self.reply(msg, RESULT_NOT_SUPPORTED)

    # -- 0x1210

    async def on_attachment_info(self, msg: jt808.Message, body: AttachmentInfo) -> None:
        srv = self.server
        s = srv.settings
        assert self.device_id is not None
        alarm_no = body.alarm_number
        if not _ALARM_NO.fullmatch(alarm_no):
            self.count("bad_alarm_number")
            self.reply(msg, RESULT_MSG_ERROR)
            return
        if s.numbers is not None and not s.numbers.verify(self.device_id, body.identification, alarm_no):
            self.count("unknown_alarm_number")
            log.warning("attachment list from %s names alarm number %s the platform did not issue",
                        self.device_id, alarm_no)
            self.reply(msg, RESULT_FAIL)
            return
        if len(body.attachments) > s.max_files:
            self.count("too_many_files")
            self.reply(msg, RESULT_FAIL)
            return
        up = srv.uploads.get(alarm_no)
        if up is None:
            directory = s.root / alarm_no
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
            up = srv.uploads[alarm_no] = _Upload(alarm_no, self.device_id, body.identification, directory)
        joined = alarm_no not in self.uploads
        if joined:
            self.uploads[alarm_no] = up
            up.connections += 1
        up.last_activity = time.monotonic()
        accepted = 0
        for entry in body.attachments:
            if self._admit(up, entry.name, entry.size_bytes) is not None:
                accepted += 1
        # Nobody else is on it here: what another gateway (or this one before a restart)
        # received counts, so the terminal is asked only for the rest.
        if joined and up.connections == 1 and up.take_over(await asyncio.to_thread(up.read_saved, up.paths())):
            self.count("upload_resumed")
        self.count("attachment_info")
        self.reply(msg, RESULT_OK if accepted or not body.attachments else RESULT_FAIL)

    def _admit(self, up: _Upload, name: str, size: int) -> _File | None:
        """Register a file of ``up`` if its name and size are acceptable."""
        s = self.server.settings
        if not safe_file_name(name):
            self.count("bad_file_name")
            log.warning("refused attachment file name %r from %s", name, self.device_id)
            return None
        if size > s.max_file_bytes:
            self.count("file_too_large")
            return None
        other = up.by_key.get(wire_name(name))
        if other is not None and other.name != name:
            self.count("ambiguous_file_name")  # two names the 50-byte data-frame field cannot tell apart
            return None
        if name not in up.files and len(up.files) >= s.max_files:
            self.count("too_many_files")
            return None
        return up.add(name, size)

    # -- 0x1211

    def on_file_info(self, msg: jt808.Message, body: FileInfo) -> None:
        f = self._file(body.name)
        if f is None:
            # Not in the list: accept it for the alarm being uploaded if it is acceptable.
            ups = list(self.uploads.values())
            if not ups:
                self.count("no_attachment_info")
                self.reply(msg, RESULT_FAIL)
                return
            f = self._admit(ups[-1], body.name, body.size_bytes)
            if f is None:
                self.reply(msg, RESULT_FAIL)
                return
            self.count("unlisted_file")
        elif body.size_bytes != f.size:
            if body.size_bytes > self.server.settings.max_file_bytes:
                self.count("file_too_large")
                self.reply(msg, RESULT_FAIL)
                return
            f.reset(body.size_bytes)  # the file info is newer than the list
            f.upload.notified = False
        f.file_type = body.file_type
        f.upload.last_activity = time.monotonic()
        self.count("file_info")
        self.reply(msg, RESULT_OK)

    # -- data frames

    def on_data(self, df: DataFrame) -> None:
        f = self._file(df.name, by_wire=True)
        if f is None:
            self.count("data_unknown_file")
            return
        if f.complete:
            self.count("data_after_complete")
            return
        if df.end > f.size:
            self.count("data_out_of_range")
            return
        try:
            f.write(df.offset, df.data)
        except OSError:
            log.exception("writing attachment %s/%s failed", f.upload.alarm_no, f.name)
            self.count("write_failed")
            return
        f.upload.last_activity = time.monotonic()
        self.count("data")

    # -- 0x1212

    async def on_upload_complete(self, msg: jt808.Message, body: FileUploadComplete) -> None:
        f = self._file(body.name)
        if f is None:
            # Nothing to re-send into: a name never accepted (refused, or no 0x1210).
            self.count("complete_unknown_file")
            self.reply(msg, RESULT_FAIL)
            return
        if body.size_bytes != f.size:
            self.count("size_mismatch")
            if body.size_bytes > self.server.settings.max_file_bytes:
                self.reply(msg, RESULT_FAIL)
                return
            f.reset(body.size_bytes)
            f.upload.notified = False
        if f.complete:
            self.count("file_complete")
            self._answer(msg, body, [])
            return
        missing = f.missing()
        if missing:
            self.count("file_incomplete")
            self._answer(msg, body, missing)
            return
        sink = self.server.sink
        try:
            await asyncio.to_thread(f.finish)
        except OSError:
            log.exception("storing attachment %s/%s failed", f.upload.alarm_no, f.name)
            self.count("store_failed")
            f.reset(f.size)
            self._answer(msg, body, f.missing())
            return
        try:
            await sink.on_file_complete(f.upload.alarm_no, f.upload.device_id, f.name, f.file_type, f.size, f.path)
        except Exception:
            log.exception("attachment sink failed for %s/%s; asking the terminal again", f.upload.alarm_no, f.name)
            self.count("sink_failed")
            f.reset(f.size)
            self._answer(msg, body, f.missing())
            return
        f.complete = True
        self.count("file_complete")
        self._answer(msg, body, [])
        up = f.upload
        if up.complete and not up.notified:
            files = [StoredFile(x.name, x.file_type, x.size, x.path) for x in up.files.values()]
            try:
                await sink.on_upload_complete(up.alarm_no, up.device_id, up.identification, files)
                up.notified = True
                await asyncio.to_thread(up.forget)
                self.count("upload_complete")
            except Exception:
                log.exception("attachment sink failed to record upload %s", up.alarm_no)
                self.count("sink_failed")

    def _answer(self, msg: jt808.Message, body: FileUploadComplete, missing: list[tuple[int, int]]) -> None:
        assert self.replies is not None
        reply = FileUploadCompleteReply(
            name=body.name, file_type=body.file_type, result=1 if missing else 0,
            missing=[DataRange(offset=o, length=n) for o, n in missing[:MAX_RANGES]],
        )
        self.write(self.replies.message(0x9212, reply))


class AttachmentServer:
    """The TCP server terminals upload evidence files to."""

    def __init__(self, settings: AttachmentServerSettings, sink: AttachmentSink | None = None,
                 stats: GatewayStats | None = None) -> None:
        self.settings = settings
        self.sink: AttachmentSink = sink or IndexFileSink()
        self.stats = stats or GatewayStats(PROTOCOL)
        self.uploads: dict[str, _Upload] = {}
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        self.settings.root.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_server(self._handle, host, port, reuse_address=True)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        log.info("attachment server listening on %s:%s, files under %s", host, self.port, self.settings.root)
        return self.port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(self, reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._conns.add(conn)
        self.stats.connections += 1
        self.stats.connections_total += 1
        try:
            await conn.run()
        except asyncio.CancelledError:
            pass  # the server is stopping: end quietly (this is the task's outermost frame)
        except Exception:
            # A bug must cost this connection only.
            log.exception("attachment connection %s failed", conn.peer)
            self.stats.frames["internal_error"] += 1
        finally:
            self._conns.discard(conn)
            self.stats.connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def _sweep(self) -> None:
        ttl = self.settings.upload_ttl_s
        while True:
            await asyncio.sleep(max(0.05, min(30.0, ttl / 4)))
            self.expire(time.monotonic())

    def expire(self, now: float) -> int:
        """Forget uploads idle for ``upload_ttl_s`` with no connection; their partial
        files are deleted, finished files stay. Returns how many were dropped."""
        gone = 0
        for alarm_no, up in list(self.uploads.items()):
            if up.connections > 0 or now - up.last_activity < self.settings.upload_ttl_s:
                continue
            del self.uploads[alarm_no]
            up.close()
            for f in up.files.values():
                if not f.complete:
                    with contextlib.suppress(FileNotFoundError):
                        f.part_path.unlink()
            up.forget()
            self.stats.frames["upload_expired" if not up.complete else "upload_forgotten"] += 1
            gone += 1
        return gone

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
        for c in list(self._conns):
            c.writer.close()  # their reads end; a file being finished is finished first
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks), timeout=5)
            for t in late:
                t.cancel()
            for t in late:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for up in self.uploads.values():
            up.close()
