"""Attachment retrieval wired together: the attachment server, and a log consumer
that asks terminals for the evidence of their active-safety alarms (0x9208).

The requester reads the durable log like the store consumer does (its own offset,
committed in the store), so a request is issued once the alarm's report is on disk
and again after a crash only for reports it had not passed yet — and a repeated
request is harmless: the alarm number is derived from the alarm, so it names the
same upload. Requests to terminals that are not connected wait (``retry_s``) until
``pending_ttl_s``. With the alarm runtime on, each request is tracked like a command
(user ``platform``) to the terminal's answer, and shows on its alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from icvcloud.config import Config
from icvcloud.gateways.jt808.attachment_request import (
    MSG_ID,
    AlarmNumbers,
    AttachmentRequestSettings,
    describe,
    encode_request_body,
    requests_in,
)
from icvcloud.gateways.jt808.attachments import (
    AttachmentServer,
    AttachmentServerSettings,
    AttachmentSink,
)
from icvcloud.gateways.jt808.log_messages import frame_of
from icvcloud.gateways.jt808.records import positions_from
from icvcloud.log.base import Log, LogRecord
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import ITEM_LENGTHS
from icvcloud.protocols.jt808.framing import escape
from icvcloud.store.base import Store

if TYPE_CHECKING:
    from .commands import CommandService

log = logging.getLogger("icvcloud.attachments")

CONSUMER = "attachment_requests"
#: Sends a message to a terminal: (device ID, message ID, body) → serial number, or
#: None when the terminal is not connected (``gateways/jt808/downlink.Downlink.send``).
Send = Callable[[str, int, object], int | None]
#: Sends one 0x9208: (device ID, encoded body, the request as JSON, alarm number) →
#: serial number, or None when the terminal is not connected.
SendRequest = Callable[[str, bytes, dict[str, Any], str], Awaitable[int | None]]


def untracked(send: Send) -> SendRequest:
    """0x9208 straight through the downlink, tracked by nothing but the log."""
    async def send_request(device_id: str, body: bytes, body_json: dict[str, Any], alarm_no: str) -> int | None:
        return send(device_id, MSG_ID, body)
    return send_request


def tracked(commands: CommandService) -> SendRequest:
    """0x9208 as a command of the platform's own, tracked to the terminal's answer."""
    async def send_request(device_id: str, body: bytes, body_json: dict[str, Any], alarm_no: str) -> int | None:
        return await commands.send_for_alarm(device_id, MSG_ID, body, body_json, alarm_no)
    return send_request


@dataclass(slots=True)
class _Pending:
    device_id: str
    body: bytes
    body_json: dict[str, Any]
    first: float  # monotonic time of the first attempt
    due: float  # ... and of the next

_POSITION_IDS = (b"\x02\x00", b"\x07\x04", b"\x02\x01", b"\x05\x00")


def _item_pattern() -> re.Pattern[bytes]:
    """Bytes an active-safety item's ID and length show as in an escaped frame.
    Decoding every report a second time would cost the hot path ~3.5 µs a frame; this
    search costs ~0.3 µs and passes only frames that may hold such an item."""
    alts = []
    for iid, (js, gd) in ITEM_LENGTHS.items():
        lengths = {js, gd}
        if iid == 0x66:  # TPMS grows by 9 (苏标) or 10 (粤标) bytes per tyre
            lengths = {js + 9 * n for n in range(24)} | {gd + 10 * n for n in range(20)}
        lengths = {n for n in lengths if n < 256}
        plain = b"".join(re.escape(bytes((n,))) for n in sorted(lengths - {0x7D, 0x7E}))
        alts.append(re.escape(bytes((iid,))) + b"[" + plain + b"]")
        alts += [re.escape(escape(bytes((iid, n)))) for n in sorted(lengths & {0x7D, 0x7E})]
    return re.compile(b"|".join(alts))


_MAY_HOLD_ITEM = _item_pattern()


def may_hold_safety_item(frame: bytes) -> bool:
    """False only for frames that certainly carry no active-safety item."""
    if frame[1:3] not in _POSITION_IDS:
        return False
    if len(frame) > 5 and frame[3] & 0x20:  # sub-packaged: the item may span packets
        return True
    return _MAY_HOLD_ITEM.search(frame) is not None


def load_secret(cfg: Config) -> bytes:
    """The alarm numbers' HMAC key: configured, or generated once per data directory."""
    if cfg.attachments.secret:
        return cfg.attachments.secret.encode("utf-8")
    path = cfg.data_dir / "attachments" / ".secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    # Processes starting together (a gateway and a worker, or several gateways on one
    # directory) must end up with one key: each writes its own candidate whole, and the
    # first to link it under the name wins; the others read the winner's.
    tmp = path.with_name(f".secret.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()
    return path.read_bytes().strip()


def delete_files(data_dir: Path, files: Iterable[str]) -> int:
    """Delete pruned attachments' files (paths relative to the data directory; none
    outside it); how many were named."""
    root = Path(data_dir).resolve()
    n = 0
    for f in files:
        n += 1
        p = (root / f).resolve()
        if p.is_relative_to(root):
            with contextlib.suppress(OSError):
                p.unlink()
    return n


class AttachmentRequester:
    """Tails the log; for every active-safety alarm that announces files, sends 0x9208."""

    def __init__(self, log_: Log, store: Store, send: SendRequest, settings: AttachmentRequestSettings, *,
                 retry_s: float = 5.0, pending_ttl_s: float = 600.0, remember: int = 50_000,
                 consumer: str = CONSUMER, first_offset: Callable[[], Awaitable[int]] | None = None,
                 concurrency: int = 32) -> None:
        self.log = log_
        self.store = store
        self.send = send
        self.settings = settings
        #: The offset's name in the store (one per partition in the scale-out mode).
        self.consumer = consumer
        #: Where a first start begins (the log's end: alarms from now on); the log's
        #: ``last_offset()`` when not given.
        self.first_offset = first_offset
        #: Requests in flight at once: each waits for a store write (tracked) or, in the
        #: scale-out mode, a gateway's reply, so a burst must not go one by one.
        self.concurrency = concurrency
        self.retry_s = retry_s
        self.pending_ttl_s = pending_ttl_s
        self.remember = remember
        self.offset = 0
        #: Set once the starting offset is known: records appended after it are looked at.
        self.started = asyncio.Event()
        #: alarm number → its request, not sent yet
        self.pending: dict[str, _Pending] = {}
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._reasm = jt808.Reassembler(timeout_s=300.0, max_sets=1024)
        self._stop = asyncio.Event()
        self._committed = 0
        self.requested = 0
        self.expired = 0
        #: Requests being sent, by alarm number (still in ``pending`` until settled).
        self._inflight: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        stored = await self.store.consumer_offset(self.consumer)
        # A first start asks for alarms from now on, not for the log's whole history.
        if stored:
            self.offset = stored
        else:
            self.offset = await self.first_offset() if self.first_offset is not None else self.log.last_offset()
        self._committed = self.offset
        self.started.set()
        try:
            while not self._stop.is_set():
                try:
                    recs = await self.log.read(self.offset, 2000, timeout_s=0.5)
                    if recs:
                        self.process(recs)
                    await self.retry(time.monotonic())
                    if self.offset != self._committed:
                        await self.store.write_positions([], self.consumer, self.offset)
                        self._committed = self.offset
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("attachment requester %s failed at offset %d; retrying", self.consumer,
                                  self.offset)
                    await asyncio.sleep(1.0)
        finally:
            for task in self._inflight.values():
                task.cancel()

    def figures(self) -> tuple[int, int, int]:
        """Requests sent, given up (terminal never connected in time), still waiting."""
        return self.requested, self.expired, len(self.pending)

    def stop(self) -> None:
        self._stop.set()

    def process(self, recs: list[LogRecord]) -> None:
        now = time.monotonic()
        for r in recs:
            if r.kind != "jt808" or not may_hold_safety_item(r.payload):
                continue
            try:
                msg = frame_of(r)
                if msg.is_packet:
                    whole = self._reasm.add(msg, now)
                    if whole is None:
                        continue
                    msg = whole
            except jt808.Jt808Error:
                continue  # the store consumer reports undecodable records
            received = datetime.fromtimestamp(r.received_at_us / 1e6, UTC)
            for device_id, req in requests_in(positions_from(msg, received), self.settings):
                no = req.alarm_number
                if no in self._sent or no in self.pending:
                    continue
                self.pending[no] = _Pending(device_id, encode_request_body(req, msg.version), describe(req), now, now)
        self._reasm.expire(now)
        self.offset = recs[-1].offset

    async def retry(self, now: float) -> None:
        """Start sending the requests that are due (all new ones: they are due at once),
        at most ``concurrency`` in flight. Each settles on its own: a terminal nobody
        answers for (in the scale-out mode a 3 s wait for a gateway) holds up neither the
        other requests nor the reading of the log."""
        for no, p in list(self.pending.items()):
            if len(self._inflight) >= self.concurrency:
                break
            if now >= p.due and no not in self._inflight:
                self._inflight[no] = asyncio.create_task(self._send(no, p, now), name=f"0x9208 {no}")

    async def settle(self) -> None:
        """Wait for the requests in flight."""
        while self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def _send(self, no: str, p: _Pending, now: float) -> None:
        try:
            seq = await self.send(p.device_id, p.body, p.body_json, no)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("sending the 0x9208 of alarm %s to %s failed: %s", no, p.device_id, e)
            seq = None
        finally:
            self._inflight.pop(no, None)
        if seq is not None:
            self.pending.pop(no, None)
            self._remember(no)
            self.requested += 1
            log.info("asked %s for the attachments of alarm %s (0x9208 seq %d)", p.device_id, no, seq)
        elif now - p.first > self.pending_ttl_s:
            self.pending.pop(no, None)
            self.expired += 1
            log.warning("gave up asking %s for the attachments of alarm %s: not connected", p.device_id, no)
        else:
            p.due = now + self.retry_s

    def _remember(self, alarm_no: str) -> None:
        self._sent[alarm_no] = None
        while len(self._sent) > self.remember:
            self._sent.popitem(last=False)


class AttachmentService:
    """The attachment server and the requester of one platform, from its configuration.
    A scale-out gateway runs the server alone (``send`` None): its workers request."""

    def __init__(self, cfg: Config, log_: Log, store: Store, send: SendRequest | None,
                 sink: AttachmentSink | None = None) -> None:
        self.cfg = cfg
        self.log = log_
        self.store = store
        self.send = send
        a = cfg.attachments
        self.server = AttachmentServer(AttachmentServerSettings(
            root=Path(cfg.data_dir) / "attachments",
            max_file_bytes=a.max_file_bytes,
            max_files=a.max_files,
            max_data_len=a.max_data_bytes,
            idle_timeout_s=a.idle_timeout_s,
            upload_ttl_s=a.upload_ttl_s,
            variant=a.variant,
        ), sink)
        self.stats = self.server.stats
        self.requester: AttachmentRequester | None = None
        self.numbers: AlarmNumbers | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def figures(self) -> tuple[int, int, int]:
        return self.requester.figures() if self.requester is not None else (0, 0, 0)

    async def start(self) -> None:
        a = self.cfg.attachments
        self.numbers = AlarmNumbers(await asyncio.to_thread(load_secret, self.cfg))
        self.server.settings.numbers = self.numbers
        port = await self.server.start(a.host, a.port)
        if not a.request_on_alarm or self.send is None:
            return
        settings = AttachmentRequestSettings(a.public_host, a.public_tcp_port or port, a.public_udp_port,
                                             self.numbers)
        self.requester = AttachmentRequester(self.log, self.store, self.send, settings)
        self._task = asyncio.create_task(self.requester.run(), name="attachment-requests")

    async def stop(self) -> None:
        if self.requester is not None:
            self.requester.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.server.stop()


class RequestCollector(Collector):
    """The 0x9208 requests of a process's requesters (``figures``: sent, given up and
    waiting, read at each scrape; a scale-out worker sums its partitions')."""

    def __init__(self, figures: Callable[[], tuple[int, int, int]]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        sent, expired, pending = self.figures()
        c = CounterMetricFamily("icv_attachment_requests", "Evidence requests (0x9208) by outcome: sent to the "
                                "terminal, or given up because it did not connect in time", labels=["outcome"])
        c.add_metric(["sent"], sent)
        c.add_metric(["expired"], expired)
        yield c
        yield GaugeMetricFamily("icv_attachment_requests_pending", "Evidence requests waiting for their terminal "
                                "to connect", value=pending)
