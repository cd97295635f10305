"""A virtual JT/T 808 terminal: registration, authentication, periodic 0x0200
reports, heartbeats, ack tracking, reconnection and 0x0704 back-fill, over real TCP.

It is an ``asyncio.Protocol`` itself (no streams, no task per connection): ten
thousand of them in one process cost a transport and a few small objects each.
Time-driven work happens in :meth:`VirtualTerminal.poll`, called by the fleet's one
ticker, or by the terminal's own clock task when it runs alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from array import array
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, cast

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.codec import MAX_BODY_LEN, encode_body

from .fastframes import Fix, ReportEncoder, as_location, general_reply
from .identity import imei_for, plate_for, seeded
from .stats import LatencyRecorder

log = logging.getLogger("icvcloud.sim.terminal")

# States
IDLE = "idle"
CONNECTING = "connecting"
REGISTERING = "registering"
AUTHENTICATING = "authenticating"
ONLINE = "online"
OFFLINE = "offline"  # between connections, waiting to reconnect
STOPPED = "stopped"
ERROR = "error"  # refused by the platform; does not reconnect

STATUS_ACC_ON = 1 << 0
STATUS_POSITIONED = 1 << 1
STATUS_GPS = 1 << 18
STATUS_BEIDOU = 1 << 19

HEARTBEAT = 0x0002
REGISTER = 0x0100
AUTHENTICATE = 0x0102
LOCATION = 0x0200
BATCH = 0x0704
_REPORT_IDS = (LOCATION, BATCH)
_ACK_OK = (0, 4)  # 4: alarm handling confirmed, still an acknowledgement

#: A report waiting for its ack: (device time as Unix seconds, the location, sent before).
Record = tuple[int, jt808.Location | Fix, bool]


class PositionSource(Protocol):
    """What a terminal reads from its vehicle (``sim.vehicle.Vehicle`` fits)."""

    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def altitude_m(self) -> float: ...
    @property
    def speed_kmh(self) -> float: ...
    @property
    def heading_deg(self) -> float: ...
    @property
    def mileage_km(self) -> float: ...
    @property
    def fuel_l(self) -> float: ...
    @property
    def acc_on(self) -> bool: ...


class _Sent:
    __slots__ = ("msg_id", "records", "sent_mono")

    def __init__(self, msg_id: int, records: list[Record], sent_mono: float) -> None:
        self.msg_id = msg_id
        self.records = records
        self.sent_mono = sent_mono


class VirtualTerminal(asyncio.Protocol):
    """One terminal reporting ``source``'s position to ``host:port``.

    ``interval_s`` is a fixed report interval or a (low, high) range from which this
    terminal draws its own. Counters: ``generated`` reports created, ``sent`` reports
    transmitted at least once, ``resent`` re-transmissions (in 0x0704), ``acked``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        phone: str,
        source: PositionSource,
        *,
        plate: str | None = None,
        plate_colour: int = 1,
        version: int = jt808.V2013,
        interval_s: float | tuple[float, float] = (10.0, 30.0),
        heartbeat_s: float = 60.0,
        reply_timeout_s: float = 10.0,
        reconnect_s: tuple[float, float] = (1.0, 10.0),
        seed: int | str | random.Random = 0,
        latency: LatencyRecorder | None = None,
        max_backlog: int = 10_000,
        clock_s: float = 1.0,
        wall_clock: Callable[[], float] = time.time,
        auth_code: str = "",
        province_id: int = 37,
        city_id: int = 300,
        maker_id: str = "ICVSM",
        model: str = "ICV-SIM-808",
    ) -> None:
        if version not in (jt808.V2013, jt808.V2019):
            raise ValueError("version must be 2013 or 2019")
        self.host = host
        self.port = port
        self.phone = phone
        self.source = source
        self.version = version
        # 2019 headers carry BCD[10] (20 digits), 2011/2013 BCD[6] (12 digits).
        self._wire_phone = phone.rjust(20 if version == jt808.V2019 else 12, "0")
        self._reports = ReportEncoder(self._wire_phone, version)
        self.rng = seeded(seed)
        self.plate = plate if plate is not None else plate_for(int(phone[-6:]) if phone[-6:].isdigit() else 0)
        self.plate_colour = plate_colour
        self.province_id = province_id
        self.city_id = city_id
        self.maker_id = maker_id
        self.model = model
        self.terminal_id = phone[-7:] if version != jt808.V2019 else f"ICVSIM{phone}"
        self.imei = imei_for(phone)
        self.software_version = "icvcloud-sim-1"
        lo, hi = (interval_s, interval_s) if isinstance(interval_s, (int, float)) else interval_s
        self.interval_s = float(self.rng.uniform(lo, hi))
        self.heartbeat_s = heartbeat_s
        self.reply_timeout_s = reply_timeout_s
        self.reconnect_s = reconnect_s
        self.latency = latency if latency is not None else LatencyRecorder()
        self.max_backlog = max_backlog
        self.clock_s = clock_s
        self.wall_clock = wall_clock
        #: Called when the terminal needs polling sooner than it last said (the fleet reschedules it).
        self.on_wake: Callable[[], None] | None = None
        #: Called with each platform message the terminal does not handle itself, after
        #: its 0x0001 answer (0x9208 attachment requests, commands: see sim/attachments.py).
        self.on_command: Callable[[jt808.Message], None] | None = None

        self.state = IDLE
        #: Why the platform refused us (state ``error``).
        self.error: str | None = None
        self.last_connect_error = ""
        #: The authentication code (pass one remembered from an earlier run to reuse it).
        self.auth_code = auth_code
        self.transport: asyncio.Transport | None = None
        self._splitter = jt808.FrameSplitter()
        self._seq = 0
        self._reg_seq = -1
        self._auth_seq = -1
        self._registered_now = False  # the platform answered a registration on this connection
        self._need_register = True  # a terminal registers once, then only authenticates
        self._code_refused = False  # the remembered code failed: do not retry it forever
        self._state_since = 0.0
        self._last_tx = 0.0
        self._next_report: float | None = None  # set at the first authentication
        self._last_report_s = 0  # device time of the last periodic report
        self._pending: dict[int, _Sent] = {}
        self._backlog: list[Record] = []
        self._acked = array("q")  # device time << 16 | seq
        self._failures = 0
        self._stopping = False
        self._reconnect: asyncio.TimerHandle | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None

        self.generated = 0
        self.sent = 0
        self.resent = 0
        self.acked = 0
        self.rejected = 0
        self.dropped = 0
        self.heartbeats = 0
        self.connects = 0
        self.disconnects = 0
        self.connect_failures = 0
        self.timeouts = 0
        self.decode_errors = 0
        self.stray_acks = 0
        self.registrations = 0
        self.authentications = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, *, own_clock: bool = True, delay_s: float = 0.0) -> None:
        """Connect (after ``delay_s``); with ``own_clock`` also run a clock task that
        steps the source (if it has ``step``) and polls every ``clock_s`` at most."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        self.state = OFFLINE
        self._reconnect = loop.call_later(delay_s, self._connect)
        if own_clock:
            self._clock_task = loop.create_task(self._clock())

    def close(self) -> asyncio.Future[None] | None:
        """Stop reconnecting and close the connection; the future resolves once it is closed."""
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            self._reconnect = None
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        if self._clock_task is not None:
            self._clock_task.cancel()
            self._clock_task = None
        if self.transport is None:
            if self.state != ERROR:
                self.state = STOPPED
            return None
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
        self.transport.close()
        return self._closed

    async def stop(self, timeout_s: float = 5.0) -> None:
        clock = self._clock_task
        fut = self.close()
        if clock is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await clock
        if fut is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        if self.transport is not None:
            self.transport.abort()

    def _connect(self) -> None:
        self._reconnect = None
        if self._stopping:
            return
        self._set_state(CONNECTING)
        self._connect_task = asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: self, self.host, self.port), self.reply_timeout_s)
        except (OSError, TimeoutError) as e:
            self.connect_failures += 1
            self.last_connect_error = str(e) or type(e).__name__
            if not self._stopping:
                self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        self._set_state(OFFLINE)
        self._failures += 1
        lo, hi = self.reconnect_s
        # Full jitter over a doubling ceiling: a platform restart must not see every
        # terminal of the fleet come back in the same second.
        delay = self.rng.uniform(lo, max(lo, min(hi, lo * 2**self._failures)))
        self._reconnect = asyncio.get_running_loop().call_later(delay, self._connect)

    def _fail(self, reason: str) -> None:
        log.warning("terminal %s: %s", self.phone, reason)
        self.error = reason
        self._set_state(ERROR)
        self._stopping = True
        if self.transport is not None:
            self.transport.close()

    def _set_state(self, state: str) -> None:
        self.state = state
        self._state_since = time.monotonic()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass, only duck-typed as one.
        self.transport = cast(asyncio.Transport, transport)
        self._splitter = jt808.FrameSplitter()
        self.connects += 1
        if self._stopping:
            self.transport.close()
            return
        self._registered_now = False
        if self._need_register or not self.auth_code:
            self._send_register()
        else:
            self._send_auth()
        if self.on_wake is not None:
            self.on_wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        # Unacknowledged reports go back to the buffer, oldest first, for the 0x0704 back-fill.
        if self._pending:
            for sent in self._pending.values():
                self._backlog.extend(sent.records)
            self._pending.clear()
            self._backlog.sort(key=lambda r: r[0])
            self._trim_backlog()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        if self.state == ERROR:
            return
        if self._stopping:
            self._set_state(STOPPED)
            return
        self.disconnects += 1
        self._schedule_reconnect()

    def eof_received(self) -> bool:
        return False  # close our side too

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        for fr in self._splitter.iter_feed(data):
            reply = general_reply(fr)  # most of what a terminal hears: skip the general decode
            if reply is not None:
                self._on_general_reply(reply, now)
                continue
            try:
                msg = jt808.decode(fr)
            except jt808.UnknownMessageId as e:
                if e.header is not None:
                    self._send(0x0001, jt808.TerminalReply(reply_seq=e.header.seq, reply_msg_id=e.header.msg_id,
                                                           result=3))
                continue
            except jt808.Jt808Error:
                self.decode_errors += 1
                continue
            mid = msg.msg_id
            if mid == 0x8001:
                self._on_general_reply(msg.body, now)
            elif mid == 0x8100:
                self._on_register_reply(msg.body)
            elif mid == 0x8201:  # location query
                self._send(0x0201, jt808.LocationQueryReply(reply_seq=msg.seq, location=self._location(
                    int(self.wall_clock()))))
            elif mid != 0x8003:  # we never sub-package, so a resend request has nothing to resend
                self._send(0x0001, jt808.TerminalReply(reply_seq=msg.seq, reply_msg_id=mid, result=0))
                if self.on_command is not None:
                    self.on_command(msg)

    # ------------------------------------------------------------ registration, authentication

    def _send_register(self) -> None:
        body = jt808.Register(province_id=self.province_id, city_id=self.city_id, maker_id=self.maker_id,
                              model=self.model, terminal_id=self.terminal_id, plate_colour=self.plate_colour,
                              plate=self.plate)
        self._reg_seq = self._send(REGISTER, body)
        self._set_state(REGISTERING)

    def _send_auth(self) -> None:
        body = jt808.Authenticate(auth_code=self.auth_code, imei=self.imei, software_version=self.software_version)
        self._auth_seq = self._send(AUTHENTICATE, body)
        self._set_state(AUTHENTICATING)

    def _on_register_reply(self, body: jt808.RegisterReply) -> None:
        if self.state != REGISTERING or body.reply_seq != self._reg_seq:
            return  # stale
        self._registered_now = True
        if body.result == 0:
            self.auth_code = body.auth_code
            self._code_refused = False
            self.registrations += 1
            self._send_auth()
        elif body.result in (1, 3) and self.auth_code and not self._code_refused:
            # "Already registered": the code we were given before should still work.
            self._send_auth()
        else:
            self._fail(f"registration refused (0x8100 result {body.result})")

    def _on_general_reply(self, body: jt808.PlatformReply, now: float) -> None:
        rid = body.reply_msg_id
        if rid in _REPORT_IDS:
            sent = self._pending.get(body.reply_seq)
            if sent is None or sent.msg_id != rid:
                self.stray_acks += 1
                return
            del self._pending[body.reply_seq]
            if body.result in _ACK_OK:
                n = len(sent.records)
                self.acked += n
                self.latency.add(now - sent.sent_mono)
                key = body.reply_seq
                self._acked.extend(r[0] << 16 | key for r in sent.records)
            elif body.result == 1:
                # Failure (e.g. the platform lost our session): keep them for the next back-fill.
                self._backlog.extend(sent.records)
                self._trim_backlog()
            else:
                self.rejected += len(sent.records)
        elif rid == AUTHENTICATE:
            if self.state != AUTHENTICATING or body.reply_seq != self._auth_seq:
                return
            if body.result == 0:
                self._need_register = False
                self._on_online()
            elif not self._registered_now:
                # The remembered code failed on a reconnect: register again (once).
                self._code_refused = True
                self._send_register()
            else:
                self._fail(f"authentication refused (0x8001 result {body.result})")

    def _on_online(self) -> None:
        self._set_state(ONLINE)
        self.authentications += 1
        self._failures = 0
        now = time.monotonic()
        if self._next_report is None:
            # First report soon after coming online, as terminals do, at a random point
            # of the first few seconds (the connection ramp already spreads a fleet).
            self._next_report = now + self.rng.uniform(0.0, min(self.interval_s, 3.0))
        if self._backlog:
            self._backfill(now)
        if self.on_wake is not None:
            self.on_wake()

    # ------------------------------------------------------------ reports

    def poll(self, now_mono: float, now_wall: float) -> float | None:
        """Do what is due at ``now_mono`` (monotonic seconds); returns when to be
        polled next, or None once stopped. ``now_wall`` stamps the report."""
        state = self.state
        if state in (STOPPED, ERROR, IDLE):
            return None
        nxt = self._next_report
        if nxt is not None and now_mono >= nxt:
            t_s = int(now_wall)
            if t_s <= self._last_report_s and self.interval_s >= 1.0:
                # Polled a little late, the last report crossed into this second: a
                # terminal reporting at most once a second never repeats a second.
                t_s = self._last_report_s + 1
            self._last_report_s = t_s
            record: Record = (t_s, self._fix(t_s), False)
            self.generated += 1
            if state == ONLINE:
                self._send_report(record, now_mono)
            else:
                # Out of contact: buffer like a real terminal in a coverage gap.
                self._backlog.append(record)
                self._trim_backlog()
            nxt += self.interval_s
            if nxt <= now_mono:  # we were not polled for a while: do not burst to catch up
                nxt = now_mono + self.interval_s
            self._next_report = nxt
        if state == ONLINE:
            hb = self._last_tx + self.heartbeat_s
            if now_mono >= hb:
                self._send(HEARTBEAT, None)
                self.heartbeats += 1
                hb = now_mono + self.heartbeat_s
            return hb if nxt is None else min(nxt, hb)
        if state in (REGISTERING, AUTHENTICATING):
            deadline = self._state_since + self.reply_timeout_s
            if now_mono >= deadline and self.transport is not None:
                self.timeouts += 1
                self.transport.abort()  # connection_lost reconnects
                return nxt if nxt is not None else now_mono + self.clock_s
            return deadline if nxt is None else min(nxt, deadline)
        return nxt if nxt is not None else now_mono + max(self.clock_s, 1.0)

    def _fix(self, device_time_s: int) -> Fix:
        """The regular report (what :meth:`_location` gives, in wire units)."""
        src = self.source
        status = STATUS_POSITIONED | STATUS_GPS | STATUS_BEIDOU | (STATUS_ACC_ON if src.acc_on else 0)
        r = self.rng.random
        return (0, status, round(src.lat * 1e6), round(src.lon * 1e6), round(src.altitude_m),
                round(src.speed_kmh * 10), round(src.heading_deg) % 360, device_time_s,
                round(src.mileage_km * 10), round(src.fuel_l * 10),
                18 + int(r() * 14),  # wireless signal strength 18–31
                9 + int(r() * 16))  # satellites in use 9–24

    def _location(self, device_time_s: int) -> jt808.Location:
        """The regular report as a Location (to add alarm bits and items to, or to answer 0x8201)."""
        return as_location(self._fix(device_time_s))

    def report_now(self, extras: Mapping[int, Any] | None = None, alarm: int = 0) -> int | None:
        """Report at once (an alarm, say), with ``extras`` added to the usual additional
        items and ``alarm`` bits set; acknowledged and back-filled like any report.
        Returns the frame's serial number, or None if buffered while not online."""
        now_wall = int(self.wall_clock())
        loc = self._location(now_wall)
        loc.alarm |= alarm
        if extras:
            loc.extras.update(extras)
        record: Record = (now_wall, loc, False)
        self.generated += 1
        if self.state != ONLINE:
            self._backlog.append(record)
            self._trim_backlog()
            return None
        self._send_report(record, time.monotonic())
        return (self._seq - 1) & 0xFFFF

    def _send_report(self, record: Record, now_mono: float) -> None:
        seq = self._send(LOCATION, record[1])
        self._pending[seq] = _Sent(LOCATION, [(record[0], record[1], True)], now_mono)
        self.sent += 1

    def _backfill(self, now_mono: float) -> None:
        """Everything buffered, oldest first, as 0x0704 back-fill batches (bodies ≤ 1023 bytes)."""
        records, self._backlog = self._backlog, []
        chunk: list[Record] = []
        size = 3  # count + type
        for rec in records:
            item = 2 + len(encode_body(LOCATION, as_location(rec[1]), jt808.Ctx(self.version)))
            if chunk and size + item > MAX_BODY_LEN:
                self._send_batch(chunk, now_mono)
                chunk, size = [], 3
            chunk.append(rec)
            size += item
        if chunk:
            self._send_batch(chunk, now_mono)

    def _send_batch(self, chunk: list[Record], now_mono: float) -> None:
        seq = self._send(BATCH, jt808.BatchLocation(batch_type=1, items=[as_location(r[1]) for r in chunk]))
        self._pending[seq] = _Sent(BATCH, chunk, now_mono)
        for r in chunk:
            if r[2]:
                self.resent += 1
            else:
                self.sent += 1
        # Mark them as sent: if this batch is lost too, they count as re-sent next time.
        chunk[:] = [(t, loc, True) for t, loc, _ in chunk]

    def _trim_backlog(self) -> None:
        excess = len(self._backlog) - self.max_backlog
        if excess > 0:
            del self._backlog[:excess]  # a full buffer loses its oldest positions, as devices do
            self.dropped += excess

    def _send(self, msg_id: int, body: object) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        if self.transport is not None and not self.transport.is_closing():
            if msg_id == LOCATION:
                frame = self._reports.encode(body, seq)  # type: ignore[arg-type]
            else:
                frame = jt808.encode(msg_id, body, phone=self._wire_phone, seq=seq, version=self.version)
            self.transport.write(frame)
            self._last_tx = time.monotonic()
        return seq

    async def _clock(self) -> None:
        step = getattr(self.source, "step", None)
        while True:
            now = time.monotonic()
            wall = self.wall_clock()
            if step is not None:
                step(wall)
            nxt = self.poll(now, wall)
            if nxt is None and self.state in (STOPPED, ERROR):
                return
            delay = self.clock_s if nxt is None else min(max(nxt - now, 0.001), self.clock_s)
            await asyncio.sleep(delay)

    # ------------------------------------------------------------ results

    @property
    def in_flight(self) -> int:
        """Reports sent and not yet acknowledged, plus those buffered for back-fill."""
        return sum(len(s.records) for s in self._pending.values()) + len(self._backlog)

    @property
    def connected(self) -> bool:
        return self.transport is not None

    def acknowledged_keys(self) -> list[tuple[datetime, int]]:
        """(device time, seq of the acknowledged frame) of every acknowledged report."""
        return [(datetime.fromtimestamp(k >> 16, jt808.CST), k & 0xFFFF) for k in self._acked]

    def acknowledged_reports(self) -> list[tuple[str, datetime, int]]:
        return [(self.phone, t, s) for t, s in self.acknowledged_keys()]
