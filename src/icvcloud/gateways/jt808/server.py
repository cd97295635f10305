"""The JT/T 808 gateway: an asyncio TCP server for terminals.

Per connection: split the byte stream into frames, decode, and

* 0x0100 register / 0x0102 authenticate / 0x0003 deregister → the admission
  service decides (policy ``open`` or ``registered``) and we answer 0x8100/0x8001;
* anything from an authenticated terminal is appended to the log; reports
  (0x0200, 0x0704, packets) are acknowledged with 0x8001 **only once the log has
  made them durable**; heartbeats are answered at once;
* a frame that fails decoding is counted, kept for debugging, and — when its
  header could be read — answered 0x8001 "message error" (2) or "not supported" (3);
  it never affects another connection.

Limits per connection: frame size (the splitter drops longer spans), a frame rate
(token bucket; a flooding connection is closed) and an idle timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from icvcloud.log.base import Entry, Log
from icvcloud.metrics import GatewayStats
from icvcloud.model import normalise_device_id
from icvcloud.protocols import jt808

from .replies import ReplyEncoder

log = logging.getLogger("icvcloud.gateway.jt808")

KIND = "jt808"
# Messages whose receipt the terminal expects confirmed after they are stored.
_REPORTS = frozenset({0x0200, 0x0704, 0x0201, 0x0500, 0x0702, 0x0800, 0x0900, 0x1005, 0x0104, 0x0107, 0x0805})
_CONTROL = frozenset({0x0100, 0x0102, 0x0003})
# Appended to the log (with every message the codec knows) once authenticated.
_LOGGED = _REPORTS | {0x0001, 0x0002}
# Terminal answers to platform commands (routed to ``on_answer``).
_ANSWERS = frozenset({0x0001, 0x0104, 0x0201, 0x0500, 0x0805})
RESULT_OK, RESULT_FAIL, RESULT_MSG_ERROR, RESULT_NOT_SUPPORTED = 0, 1, 2, 3


class Admission(Protocol):
    """The registry side of registration and authentication (implemented over the store)."""

    async def register(self, device_id: str, phone: str, reg: jt808.Register, version: int) -> tuple[int, str]:
        """→ (0x8100 result code, auth code if result is 0)."""
        ...

    async def authenticate(self, device_id: str, auth: jt808.Authenticate) -> bool: ...

    async def deregister(self, device_id: str) -> None: ...

    def bad_frame(self, device_id: str, frame: bytes, reason: str) -> None:
        """Keep a frame that failed decoding (fire and forget)."""
        ...


@dataclass
class GatewaySettings:
    max_frame_bytes: int = 2200
    max_frames_per_s: float = 200.0
    idle_timeout_s: float = 300.0
    subpackage_timeout_s: float = 30.0


def _now_us() -> int:
    return time.time_ns() // 1000


class Jt808Connection(asyncio.Protocol):
    def __init__(self, server: Jt808Gateway) -> None:
        self.server = server
        self.splitter = jt808.FrameSplitter(server.settings.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.device_id: str | None = None
        self.authenticated = False
        self.version_hint: int | None = None
        self.replies: ReplyEncoder | None = None
        self.last_rx = time.monotonic()
        burst = server.settings.max_frames_per_s * 4
        self._tokens = burst
        self._burst = burst
        self._refill_at = self.last_rx
        # Frames that must wait while a registration/authentication is decided.
        self._backlog: deque[bytes] = deque()
        self._busy = False
        self._closed = False
        # Created on the first sub-packaged frame: most terminals never send one.
        self.reassembler: jt808.Reassembler | None = None

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass: cast, don't check.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.server.connections.add(self)
        self.server.stats.connections += 1
        self.server.stats.connections_total += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.server.connections.discard(self)
        self.server.stats.connections -= 1
        if self.device_id is not None and self.server.by_device.get(self.device_id) is self:
            del self.server.by_device[self.device_id]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_rx = now
        frames = self.splitter.feed(data)
        if self.splitter.oversized:
            self.server.stats.frames["oversized"] += self.splitter.oversized
            self.splitter.oversized = 0
        if not frames:
            return
        # Rate limit: a token per frame.
        self._tokens = min(self._burst, self._tokens + (now - self._refill_at) * self.server.settings.max_frames_per_s)
        self._refill_at = now
        self._tokens -= len(frames)
        if self._tokens < 0:
            self.server.stats.frames["rate_limited"] += len(frames)
            log.warning("closing %s (%s): over %s frames/s", self.peer, self.device_id,
                        self.server.settings.max_frames_per_s)
            self.close()
            return
        if self._busy:
            self._backlog.extend(frames)
            return
        self._process(frames, now)

    # -- processing

    def _process(self, frames: list[bytes], t0: float) -> None:
        entries: list[Entry] = []
        # What the log's consumers would decode from each entry (they share it), if
        # the log hands it to them.
        decoded: list[jt808.Message | None] = []
        keep = self.server.log.keeps_decoded
        acks: list[tuple[int, int]] = []
        out: list[bytes] = []
        stats = self.server.stats
        received_us = _now_us()
        reports = 0
        for i, fr in enumerate(frames):
            hint = self.version_hint
            try:
                msg = jt808.decode(fr, version_hint=hint)
            except jt808.Jt808Error as e:
                self._bad_frame(fr, e, out)
                continue
            mid = msg.msg_id
            if self.replies is None or msg.phone != self.replies.phone:
                self._identify(msg)
            if mid in _CONTROL:
                # Registration and authentication consult the registry: finish what
                # came before, then handle this frame (and queue the rest) in a task.
                self._flush(entries, decoded, acks, out, reports, t0)
                entries, decoded, acks, out, reports = [], [], [], [], 0
                self._busy = True
                self._backlog.extend(frames[i + 1 :])
                task = asyncio.get_running_loop().create_task(self._control(msg, fr))
                self.server.tasks.add(task)
                task.add_done_callback(self.server.tasks.discard)
                return
            if not self.authenticated:
                stats.frames["unauthenticated"] += 1
                assert self.replies is not None
                if mid != 0x0001:
                    out.append(self.replies.general(msg.seq, mid, RESULT_FAIL))
                continue
            stats.frames["ok"] += 1
            assert self.device_id is not None
            packet = msg.is_packet
            if not packet and mid not in _LOGGED and mid not in jt808.MESSAGES:
                stats.frames["unsupported"] += 1
                continue
            entries.append((KIND, self.device_id, received_us, fr))
            # Consumers reassemble packets from the log; other frames they would decode as here.
            if keep:
                decoded.append(msg if not packet and jt808.same_without_hint(msg, hint) else None)
            if packet:
                acks.append((msg.seq, mid))
                self._packet(msg)
            elif mid == 0x0200:
                acks.append((msg.seq, mid))
                reports += 1
            elif mid == 0x0704:
                acks.append((msg.seq, mid))
                reports += len(msg.body.items)
            elif mid == 0x0002:
                assert self.replies is not None
                out.append(self.replies.general(msg.seq, mid, RESULT_OK))
            else:
                if mid != 0x0001:  # a terminal's reply is not itself answered
                    acks.append((msg.seq, mid))
                if mid in _ANSWERS and self.server.on_answer is not None:
                    self.server.on_answer(self.device_id, msg)  # downlink.py: commands tracked to their answers
        self._flush(entries, decoded, acks, out, reports, t0)

    def _flush(self, entries: list[Entry], decoded: list[jt808.Message | None], acks: list[tuple[int, int]],
               out: list[bytes], reports: int, t0: float) -> None:
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        if not entries:
            return
        replies = self.replies
        server = self.server

        def on_durable(error: BaseException | None) -> None:
            if error is not None:
                # Not durable: do not acknowledge; the terminal re-sends after reconnecting.
                log.error("log append failed, closing %s: %s", self.device_id, error)
                server.stats.frames["not_durable"] += len(entries)
                self.close()
                return
            if self._closed or self.transport is None or replies is None:
                return
            if acks:
                self.transport.write(b"".join(replies.general(s, m, RESULT_OK) for s, m in acks))
            server.stats.reports += reports
            server.stats.ack_latency.observe(time.monotonic() - t0)

        server.log.append(entries, on_durable, decoded or None)

    def _identify(self, msg: jt808.Message) -> None:
        device_id = normalise_device_id(msg.phone)
        if self.device_id is not None and device_id != self.device_id:
            # One terminal per connection: a second identity must authenticate anew.
            self.authenticated = False
        self.device_id = device_id
        self.replies = ReplyEncoder(msg.phone, msg.version, msg.protocol_version or 1)
        if msg.version == jt808.V2019:
            self.version_hint = None
        prev = self.server.by_device.get(device_id)
        if prev is not None and prev is not self:
            # The terminal reconnected: the old connection is stale.
            prev.close()
        self.server.by_device[device_id] = self

    async def _control(self, msg: jt808.Message, frame: bytes) -> None:
        try:
            await self._control_one(msg, frame)
        except Exception:
            log.exception("control message %#06x from %s failed", msg.msg_id, self.device_id)
            self.close()
            return
        # Frames that arrived meanwhile; _process may meet another control frame,
        # in which case it starts the next task and that one drains what follows.
        nxt = list(self._backlog)
        self._backlog.clear()
        self._busy = False
        if nxt and not self._closed:
            self._process(nxt, time.monotonic())

    async def _control_one(self, msg: jt808.Message, frame: bytes) -> None:
        assert self.replies is not None and self.device_id is not None
        adm = self.server.admission
        stats = self.server.stats
        stats.frames["ok"] += 1
        if msg.msg_id == 0x0100:
            reg: jt808.Register = msg.body
            result, code = await adm.register(self.device_id, msg.phone, reg, msg.version)
            if msg.version != jt808.V2019:
                # 2011 and 2013 share the header: remember which this terminal speaks.
                self.version_hint = msg.version
            body = jt808.RegisterReply(reply_seq=msg.seq, result=result, auth_code=code if result == 0 else "")
            self._write(self.replies.message(0x8100, body))
            if result != 0:
                stats.frames["register_refused"] += 1
        elif msg.msg_id == 0x0102:
            ok = await adm.authenticate(self.device_id, msg.body)
            self.authenticated = ok
            if not ok:
                stats.frames["auth_failed"] += 1
            self._write(self.replies.general(msg.seq, msg.msg_id, RESULT_OK if ok else RESULT_FAIL))
        else:  # 0x0003 deregister
            await adm.deregister(self.device_id)
            self.authenticated = False
            self._write(self.replies.general(msg.seq, msg.msg_id, RESULT_OK))

    def _packet(self, msg: jt808.Message) -> None:
        if self.reassembler is None:
            self.reassembler = jt808.Reassembler(timeout_s=self.server.settings.subpackage_timeout_s, max_sets=16)
        try:
            whole = self.reassembler.add(msg, time.monotonic())
        except jt808.Jt808Error:
            return  # the store consumer reassembles from the log and reports errors
        if whole is not None and whole.msg_id == 0x0801 and self.replies is not None:
            body = jt808.messages.MultimediaUploadReply(media_id=whole.body.media_id, retransmit_ids=[])
            self._write(self.replies.message(0x8800, body))

    def check_timeouts(self, now: float) -> None:
        if now - self.last_rx > self.server.settings.idle_timeout_s:
            self.server.stats.frames["idle_closed"] += 1
            self.close()
            return
        if self.reassembler is None:
            return
        for inc in self.reassembler.expire(now):
            if not inc.given_up and self.replies is not None and inc.missing:
                self._write(self.replies.message(0x8003, inc.resend_request()))

    def _bad_frame(self, fr: bytes, e: jt808.Jt808Error, out: list[bytes]) -> None:
        self.server.stats.frames[e.kind] += 1
        hdr = e.header
        device_id = self.device_id or (normalise_device_id(hdr.phone) if hdr is not None else "unknown")
        self.server.admission.bad_frame(device_id, fr, f"{e.kind}: {e.reason}")
        if hdr is None:
            return  # the header itself is not trustworthy: no answer
        if self.replies is None:
            self._identify(hdr)
        assert self.replies is not None
        result = RESULT_NOT_SUPPORTED if isinstance(e, jt808.UnknownMessageId) else RESULT_MSG_ERROR
        out.append(self.replies.general(hdr.seq, hdr.msg_id, result))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self._closed:
            self.transport.write(data)

    def send(self, msg_id: int, body: object) -> int:
        """Send a downlink message; returns the serial number used."""
        assert self.replies is not None
        seq = self.replies.seq
        self._write(self.replies.message(msg_id, body))
        return seq

    def close(self) -> None:
        if self.transport is not None and not self._closed:
            self._closed = True
            self.transport.close()


class Jt808Gateway:
    def __init__(self, log_: Log, admission: Admission, settings: GatewaySettings | None = None,
                 stats: GatewayStats | None = None) -> None:
        self.log = log_
        self.admission = admission
        self.settings = settings or GatewaySettings()
        self.stats = stats or GatewayStats("jt808")
        self.connections: set[Jt808Connection] = set()
        self.by_device: dict[str, Jt808Connection] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        #: Called with (device ID, message) for every answer to a platform command.
        self.on_answer: Callable[[str, jt808.Message], None] | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def protocol_factory(self) -> Callable[[], Jt808Connection]:
        return lambda: Jt808Connection(self)

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.protocol_factory(), host, port, backlog=4096,
                                                reuse_address=True)
        self._sweeper = loop.create_task(self._sweep())
        sock = self._server.sockets[0]
        bound = int(sock.getsockname()[1])
        log.info("JT/T 808 gateway listening on %s:%s", host, bound)
        return bound

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.settings.idle_timeout_s / 2))
            now = time.monotonic()
            for conn in list(self.connections):
                conn.check_timeouts(now)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.close()
            await self._server.wait_closed()
        for t in list(self.tasks):
            t.cancel()

    def send(self, device_id: str, msg_id: int, body: object) -> int | None:
        """Send a downlink message to a connected terminal; None if it is not connected."""
        conn = self.by_device.get(device_id)
        if conn is None or not conn.authenticated:
            return None
        return conn.send(msg_id, body)
