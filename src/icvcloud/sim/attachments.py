"""Virtual active-safety terminals: ADAS/DSM alarms that announce evidence files, and
the upload of those files to the attachment server when the platform sends 0x9208
(苏标 T/JSATL 12-2017 §4.5–4.6), over a real TCP connection of its own.

The upload can misbehave on purpose: ``withhold`` keeps chunks back on the first
pass, so the server must ask for them again in 0x9212 (the re-send path).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import (
    AdasAlarm,
    AlarmIdentification,
    AttachmentEntry,
    AttachmentInfo,
    AttachmentUploadRequest,
    DsmAlarm,
    FileInfo,
    FileUploadComplete,
    FileUploadCompleteReply,
)
from icvcloud.protocols.jt808.attachment_stream import encode_data_frame

from .identity import seeded
from .terminal import VirtualTerminal

log = logging.getLogger("icvcloud.sim.attachments")

PICTURE, AUDIO, VIDEO, TEXT, OTHER = 0, 1, 2, 3, 4
#: Data bytes per stream frame (what terminals send; the standard's ceiling is 64 KiB).
CHUNK = 64 * 1024


# ---------------------------------------------------------------------------- evidence


@functools.cache
def _picture() -> bytes:
    """A schematic forward-camera frame (made by the project: a road, a car ahead, the
    ADAS box), 320 × 180 baseline JPEG, so the console shows a real picture."""
    return importlib.resources.files("icvcloud.sim").joinpath("data/evidence.jpg").read_bytes()


def jpeg_like(seed: int, size: int = 20_000) -> bytes:
    """A JPEG of exactly ``size`` bytes: the schematic frame, grown by comment segments
    (COM, which decoders skip) of random bytes — 0x7E bytes and the stream magic
    included, as real images have them. Below the frame's own size (or within 3 bytes
    of it, less than a segment) it is a blob that only starts and ends like a JPEG."""
    pic = _picture()
    pad = size - len(pic)
    rnd = seeded(seed)
    if pad == 0:
        return pic
    if pad >= 4:
        segments = []
        while pad:
            n = min(pad, 0xFFFF + 2)  # marker (2) + length (2, counting itself) + payload
            if 0 < pad - n < 4:  # leave enough for a last whole segment
                n = pad - 4
            segments.append(b"\xff\xfe" + (n - 2).to_bytes(2, "big") + rnd.randbytes(n - 4))
            pad -= n
        return pic[:2] + b"".join(segments) + pic[2:]
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return head + rnd.randbytes(max(0, size - len(head) - 2)) + b"\xff\xd9"


def mp4_like(seed: int, size: int = 150_000) -> bytes:
    """A blob with an MP4's ``ftyp`` box and an ``mdat`` box of random data."""
    ftyp = (32).to_bytes(4, "big") + b"ftypisom" + (0x200).to_bytes(4, "big") + b"isomiso2avc1mp41"
    payload = seeded(seed).randbytes(max(0, size - len(ftyp) - 8))
    return ftyp + (8 + len(payload)).to_bytes(4, "big") + b"mdat" + payload


@dataclass(frozen=True)
class EvidenceFile:
    name: str
    file_type: int
    data: bytes


def evidence_files(alarm_no: str, item_id: int, alarm_type: int, seed: int = 0, *, jpeg_bytes: int = 20_000,
                   mp4_bytes: int = 150_000) -> list[EvidenceFile]:
    """A picture and a video named by the 苏标 convention
    ``<type>_<channel>_<peripheral><alarm type>_<index>_<alarm number>.<ext>``."""
    tag = f"{item_id:02x}{alarm_type:02x}"
    channel = {0x64: 64, 0x65: 65, 0x66: 66, 0x67: 67}.get(item_id, 0)
    return [
        EvidenceFile(f"{PICTURE:02d}_{channel}_{tag}_0_{alarm_no}.jpg", PICTURE, jpeg_like(seed, jpeg_bytes)),
        EvidenceFile(f"{VIDEO:02d}_{channel}_{tag}_1_{alarm_no}.mp4", VIDEO, mp4_like(seed + 1, mp4_bytes)),
    ]


def identification(terminal_id: str, when: datetime, seq: int, attachments: int, version: int = jt808.V2013
                   ) -> AlarmIdentification:
    """An alarm identification in the variant a terminal of ``version`` speaks
    (2013: 苏标, 7-byte terminal ID; 2019: 粤标, 30 bytes and two reserved)."""
    gdrta = version == jt808.V2019
    return AlarmIdentification(terminal_id=terminal_id[-30:] if gdrta else terminal_id[-7:],
                               time=when.astimezone(jt808.CST).replace(microsecond=0), seq=seq,
                               attachment_count=attachments, reserved=b"\x00\x00" if gdrta else b"\x00")


def adas_alarm(ident: AlarmIdentification, alarm_id: int, lat: float, lon: float, speed_kmh: int = 60,
               alarm_type: int = 0x01, level: int = 2) -> AdasAlarm:
    """0x64: forward collision by default."""
    return AdasAlarm(alarm_id=alarm_id, flag=1, alarm_type=alarm_type, level=level, front_vehicle_speed_kmh=50,
                     front_headway_100ms=8, deviation_type=0, road_sign_type=0, road_sign_value=0,
                     speed_kmh=speed_kmh, altitude_m=40, lat=lat, lon=lon, time=ident.time, vehicle_status=0x401,
                     identification=ident)


def dsm_alarm(ident: AlarmIdentification, alarm_id: int, lat: float, lon: float, speed_kmh: int = 60,
              alarm_type: int = 0x01, level: int = 2) -> DsmAlarm:
    """0x65: fatigue by default."""
    return DsmAlarm(alarm_id=alarm_id, flag=1, alarm_type=alarm_type, level=level, fatigue_level=6,
                    speed_kmh=speed_kmh, altitude_m=40, lat=lat, lon=lon, time=ident.time, vehicle_status=0x401,
                    identification=ident)


# ---------------------------------------------------------------------------- upload


@dataclass
class FileResult:
    name: str
    size: int
    #: 0x1212 sent for this file (1 when nothing had to be sent again).
    rounds: int = 0
    #: (offset, length) ranges the server asked for again.
    resent: list[tuple[int, int]] = field(default_factory=list)
    complete: bool = False


@dataclass
class UploadResult:
    alarm_no: str
    files: list[FileResult] = field(default_factory=list)
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and bool(self.files) and all(f.complete for f in self.files)


class UploadError(Exception):
    pass


class AttachmentUploader:
    """One terminal's upload for one 0x9208: its own TCP connection, 0x1210, then per
    file 0x1211, data frames and 0x1212 until 0x9212 says complete."""

    def __init__(self, phone: str, request: AttachmentUploadRequest, files: list[EvidenceFile], *,
                 version: int = jt808.V2013, chunk: int = CHUNK, withhold: Mapping[int, set[int]] | None = None,
                 reply_timeout_s: float = 10.0, max_rounds: int = 5, host: str | None = None) -> None:
        self.phone = phone.rjust(20 if version == jt808.V2019 else 12, "0")
        self.request = request
        self.files = files
        self.version = version
        self.chunk = chunk
        #: file index → chunk indexes left out of the first pass
        self.withhold = dict(withhold or {})
        self.reply_timeout_s = reply_timeout_s
        self.max_rounds = max_rounds
        self.host = host or request.server_ip
        self._seq = 0
        self._inbox: asyncio.Queue[jt808.Message | None] = asyncio.Queue()  # None: connection closed
        self._writer: asyncio.StreamWriter | None = None
        self.frames_sent = 0

    async def run(self) -> UploadResult:
        result = UploadResult(self.request.alarm_number)
        reader_task: asyncio.Task[None] | None = None
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.request.tcp_port), self.reply_timeout_s)
            reader_task = asyncio.create_task(self._read(reader))
            await self._upload(result)
        except (OSError, TimeoutError, UploadError) as e:
            result.error = str(e) or type(e).__name__
            log.warning("attachment upload %s failed: %s", self.request.alarm_number, result.error)
        finally:
            if reader_task is not None:
                reader_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader_task
            if self._writer is not None:
                self._writer.close()
                with contextlib.suppress(Exception):
                    await self._writer.wait_closed()
        return result

    async def _upload(self, result: UploadResult) -> None:
        req = self.request
        ident = req.identification
        entries = [AttachmentEntry(name=f.name, size_bytes=len(f.data)) for f in self.files]
        info = AttachmentInfo(terminal_id=ident.terminal_id, identification=ident, alarm_number=req.alarm_number,
                              info_type=0, attachments=entries)
        await self._expect_ok(0x1210, info)
        for i, f in enumerate(self.files):
            fr = FileResult(f.name, len(f.data))
            result.files.append(fr)
            await self._expect_ok(0x1211, FileInfo(name=f.name, file_type=f.file_type, size_bytes=len(f.data)))
            held = self.withhold.get(i, set())
            for k, off in enumerate(range(0, len(f.data), self.chunk)):
                if k not in held:
                    self._write(encode_data_frame(f.name, off, f.data[off : off + self.chunk]))
            done = FileUploadComplete(name=f.name, file_type=f.file_type, size_bytes=len(f.data))
            while fr.rounds < self.max_rounds:
                fr.rounds += 1
                self._send(0x1212, done)
                reply: FileUploadCompleteReply = (await self._next(_completion_of(f.name))).body
                if reply.result == 0:
                    fr.complete = True
                    break
                for r in reply.missing:
                    fr.resent.append((r.offset, r.length))
                    for off in range(r.offset, r.offset + r.length, self.chunk):
                        end = min(off + self.chunk, r.offset + r.length)
                        self._write(encode_data_frame(f.name, off, f.data[off:end]))
            if not fr.complete:
                raise UploadError(f"{f.name}: still incomplete after {fr.rounds} rounds")

    # -- wire

    def _send(self, msg_id: int, body: object) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        ctx = jt808.Ctx(self.version, "gdrta" if len(self.request.identification.reserved) == 2 else "jsatl")
        self._write(jt808.encode(msg_id, body, phone=self.phone, seq=seq, version=self.version, ctx=ctx))
        return seq

    def _write(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        self.frames_sent += 1

    async def _expect_ok(self, msg_id: int, body: object) -> None:
        seq = self._send(msg_id, body)
        reply = await self._next(lambda m: m.msg_id == 0x8001 and m.body.reply_seq == seq)
        if reply.body.result != 0:
            raise UploadError(f"server refused {msg_id:#06x} (0x8001 result {reply.body.result})")

    async def _next(self, pred: Callable[[jt808.Message], bool]) -> jt808.Message:
        assert self._writer is not None
        await self._writer.drain()
        while True:
            try:
                msg = await asyncio.wait_for(self._inbox.get(), self.reply_timeout_s)
            except TimeoutError:
                raise UploadError("no reply from the attachment server") from None
            if msg is None:
                raise UploadError("the attachment server closed the connection")
            if pred(msg):
                return msg

    async def _read(self, reader: asyncio.StreamReader) -> None:
        splitter = jt808.FrameSplitter()
        while True:
            data = await reader.read(4096)
            if not data:
                self._inbox.put_nowait(None)
                return
            for fr in splitter.iter_feed(data):
                with contextlib.suppress(jt808.Jt808Error):
                    self._inbox.put_nowait(jt808.decode(fr))


def _completion_of(name: str) -> Callable[[jt808.Message], bool]:
    return lambda m: m.msg_id == 0x9212 and m.body.name == name


# ---------------------------------------------------------------------------- terminal behaviour


class ActiveSafetyTerminal:
    """Gives a :class:`VirtualTerminal` an ADAS/DSM unit: :meth:`raise_alarm` reports
    an alarm announcing evidence; a 0x9208 for it starts an :class:`AttachmentUploader`.

    ``withhold`` (file index → chunk indexes) applies to the first upload only, as a
    connection that lost data once would."""

    def __init__(self, terminal: VirtualTerminal, *, jpeg_bytes: int = 20_000, mp4_bytes: int = 150_000,
                 withhold: Mapping[int, set[int]] | None = None, host: str | None = None, seed: int = 0) -> None:
        self.terminal = terminal
        self.jpeg_bytes = jpeg_bytes
        self.mp4_bytes = mp4_bytes
        self.withhold = dict(withhold or {})
        self.host = host
        self.seed = seed
        self.alarm_id = 0
        #: alarm identification (as sent) → (item ID, alarm type)
        self.alarms: dict[tuple[str, str, int], tuple[int, int]] = {}
        #: What was uploaded, by alarm number.
        self.files: dict[str, list[EvidenceFile]] = {}
        self.results: list[UploadResult] = []
        self.requests: list[AttachmentUploadRequest] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._previous = terminal.on_command
        terminal.on_command = self._on_command

    @staticmethod
    def _key(ident: AlarmIdentification) -> tuple[str, str, int]:
        t = ident.time
        return ident.terminal_id, t.isoformat() if isinstance(t, datetime) else t, ident.seq

    def raise_alarm(self, item_id: int = 0x64, alarm_type: int = 0x01, attachments: int = 2, seq: int = 0,
                    when: datetime | None = None) -> AlarmIdentification:
        """Report an ADAS (0x64) or DSM (0x65) alarm whose identification announces
        ``attachments`` files; returns the identification."""
        t = self.terminal
        now = when or datetime.fromtimestamp(int(t.wall_clock()), jt808.CST)
        ident = identification(t.terminal_id, now, seq, attachments, t.version)
        src = t.source
        make = adas_alarm if item_id == 0x64 else dsm_alarm
        item = make(ident, self.alarm_id, round(src.lat, 6), round(src.lon, 6), round(src.speed_kmh), alarm_type)
        self.alarm_id += 1
        self.alarms[self._key(ident)] = (item_id, alarm_type)
        t.report_now({item_id: item})
        return ident

    def _on_command(self, msg: jt808.Message) -> None:
        if msg.msg_id == 0x9208:
            self._upload(msg.body)
        if self._previous is not None:
            self._previous(msg)

    def _upload(self, req: AttachmentUploadRequest) -> None:
        self.requests.append(req)
        item_id, alarm_type = self.alarms.get(self._key(req.identification), (0x64, 0x01))
        files = evidence_files(req.alarm_number, item_id, alarm_type, self.seed + len(self.requests),
                               jpeg_bytes=self.jpeg_bytes, mp4_bytes=self.mp4_bytes)
        files = files[: max(1, req.identification.attachment_count)]
        self.files[req.alarm_number] = files
        withhold, self.withhold = self.withhold, {}
        up = AttachmentUploader(self.terminal.phone, req, files, version=self.terminal.version, withhold=withhold,
                                host=self.host)
        task = asyncio.get_running_loop().create_task(self._run(up))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, up: AttachmentUploader) -> None:
        self.results.append(await up.run())

    async def wait(self) -> None:
        """Until every upload started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
