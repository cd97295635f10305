"""Scripted JT/T 808 terminals for the tests, over real TCP with the real codec.

- ``Terminal``: one hand-driven connection (connect, register 0x0100, authenticate
  0x0102, send frames, read the platform's answers); the gateway, attachment and
  console tests script it step by step.
- ``LoadTerminal``: reports as fast as it is acknowledged, reconnects and back-fills
  what was not acknowledged (the crash and scale-out fault tests).
- ``ScriptedTerminal``: the simulator's real client (``VirtualTerminal``) with a
  scripted position ``Source`` and scripted answers to the platform's commands.
- ``until``: wait for a condition the terminals or the platform bring about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.protocols.jt808.wire import CST
from icvcloud.sim.terminal import VirtualTerminal


async def until(cond: Callable[[], bool], what: str = "condition", limit_s: float = 30.0) -> None:
    """Wait for ``cond``; the limit only keeps a broken test from hanging (it is not a
    performance bound: every wait here is normally met well within a second)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def registration(plate: str, maker_id: str = "ICV01", model: str = "M1", terminal_id: str = "T001",
                 plate_colour: int = 2) -> jt808.Register:
    """A 0x0100 body of a terminal in Zibo (Shandong 37, city 300)."""
    return jt808.Register(province_id=37, city_id=300, maker_id=maker_id, model=model, terminal_id=terminal_id,
                          plate_colour=plate_colour, plate=plate)


class Terminal:
    """A test terminal: real TCP, real codec, frames in and out. Serial numbers count
    on across connections; ``timeout`` bounds each wait for the platform's answer."""

    def __init__(self, phone: str, version: int = jt808.V2013, timeout: float = 5.0) -> None:
        self.phone, self.version, self.seq, self.timeout = phone, version, 0, timeout
        self.splitter = jt808.FrameSplitter()
        self.inbox: list[jt808.Message] = []

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.splitter = jt808.FrameSplitter()
        self.inbox = []

    def write(self, msg_id: int, body: object) -> int:
        """Queue one frame under the next serial number; returns that number."""
        seq = self.seq
        self.seq = (seq + 1) & 0xFFFF
        self.writer.write(jt808.encode(msg_id, body, phone=self.phone, seq=seq, version=self.version))
        return seq

    def write_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    async def send(self, msg_id: int, body: object) -> int:
        seq = self.write(msg_id, body)
        await self.drain()
        return seq

    async def send_raw(self, data: bytes) -> None:
        self.write_raw(data)
        await self.drain()

    async def recv(self, timeout: float | None = None) -> jt808.Message:
        while not self.inbox:
            data = await asyncio.wait_for(self.reader.read(65536), self.timeout if timeout is None else timeout)
            if not data:
                raise ConnectionError("closed by the platform")
            self.inbox.extend(jt808.decode(f) for f in self.splitter.feed(data))
        return self.inbox.pop(0)

    async def ask(self, msg_id: int, body: object) -> jt808.Message:
        """Send one frame and read the next answer."""
        await self.send(msg_id, body)
        return await self.recv()

    async def closed(self, timeout: float | None = None) -> bool:
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), self.timeout if timeout is None else timeout)
                if not data:
                    return True
        except (TimeoutError, ConnectionError):
            return False

    async def register_and_authenticate(self, plate: str = "鲁C12345", *, check: bool = True, **register: Any) -> str:
        """Register (0x0100, ``registration(plate, **register)``) and authenticate (0x0102)
        with the code the platform gave; returns the code. With ``check``, asserts that
        both were answered and accepted."""
        seq = await self.send(0x0100, registration(plate, **register))
        r = await self.recv()
        if check:
            assert r.msg_id == 0x8100 and r.body.reply_seq == seq and r.body.result == 0, r
        seq = await self.send(0x0102, jt808.Authenticate(auth_code=r.body.auth_code))
        a = await self.recv()
        if check:
            assert (a.msg_id, a.body.reply_seq, a.body.reply_msg_id, a.body.result) == (0x8001, seq, 0x0102, 0)
        return str(r.body.auth_code)

    async def login(self, port: int, plate: str = "鲁C12345", *, check: bool = True, **register: Any) -> str:
        """Connect to ``port``, then ``register_and_authenticate``."""
        await self.connect(port)
        return await self.register_and_authenticate(plate, check=check, **register)

    def close(self) -> None:
        self.writer.close()


class LoadTerminal(Terminal):
    """Reports as fast as it is acknowledged, with ``IN_FLIGHT`` frames in flight; records
    what was acknowledged; reconnects when the platform goes away and back-fills what it
    saw no acknowledgement for as 0x0704 batches under new serial numbers — in one
    batch, or in batches of at most ``backfill_items`` (so that they fit one frame once
    the backlog of several failed sessions in a row outgrows one 0x0704). Given several
    ports, it moves to the next one each time it connects (a load balancer's job in
    production)."""

    IN_FLIGHT = 8

    def __init__(self, idx: int, ports: int | list[int], backfill_items: int | None = None,
                 emergency_every: int = 0) -> None:
        super().__init__(f"1380000{idx:04d}")
        #: Every this many reports one carries the emergency alarm bit (0: none), so the
        #: alarm engine has episodes to raise: (device, device time µs) of those acknowledged.
        self.emergency_every = emergency_every
        self.emergencies_acked: set[tuple[str, int]] = set()
        self.ports = [ports] if isinstance(ports, int) else list(ports)
        self.port = self.ports[idx % len(self.ports)]
        self._next = idx
        self.backfill_items = backfill_items
        self.n = 0
        self.acked: set[tuple[str, int]] = set()  # (device, device time µs)
        # Sent but not acknowledged when the connection broke: back-filled next session.
        self.unacked: list[tuple[jt808.Location, datetime]] = []
        self.backfilled = 0
        self.base = datetime(2026, 11, 24, 8, 0, tzinfo=CST) + timedelta(hours=idx)

    def _loc(self) -> tuple[jt808.Location, datetime]:
        t = self.base + timedelta(seconds=self.n)
        self.n += 1
        alarm = 1 if self.emergency_every and self.n % self.emergency_every == 0 else 0
        loc = jt808.Location(alarm=alarm, status=3, lat=36.8, lon=118.05, altitude_m=10, speed_kmh=30.0,
                             heading_deg=90, time=t, extras=ExtraItems({0x01: float(self.n)}))
        return loc, t

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._session(stop)
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                await asyncio.sleep(0.2)

    async def _session(self, stop: asyncio.Event) -> None:
        self.port = self.ports[self._next % len(self.ports)]
        self._next += 1
        await self.connect(self.port)
        in_flight: dict[int, list[tuple[jt808.Location, datetime]]] = {}
        try:
            await self.register_and_authenticate(f"鲁C{self.phone[-5:]}", maker_id="X", model="M", terminal_id="T",
                                                 check=False)
            size = self.backfill_items or len(self.unacked)
            while self.unacked:
                batch, self.unacked = self.unacked[:size], self.unacked[size:]
                self.backfilled += len(batch)
                backfill = jt808.BatchLocation(batch_type=1, items=[loc for loc, _ in batch])
                in_flight[self.write(0x0704, backfill)] = batch
            while not stop.is_set():
                while len(in_flight) < self.IN_FLIGHT:
                    loc, t = self._loc()
                    in_flight[self.write(0x0200, loc)] = [(loc, t)]
                ack = await self.recv()
                if ack.msg_id == 0x8001 and ack.body.reply_msg_id in (0x0200, 0x0704) \
                        and ack.body.reply_seq in in_flight:
                    for loc, t in in_flight.pop(ack.body.reply_seq):
                        key = (self.phone, int(t.astimezone(UTC).timestamp() * 1e6))
                        self.acked.add(key)
                        if loc.alarm:
                            self.emergencies_acked.add(key)
        finally:
            self.unacked += [x for sent in in_flight.values() for x in sent]
            self.close()


@dataclass
class Source:
    """What a virtual terminal reads from its vehicle; tests set the fields."""

    lat: float = 36.81
    lon: float = 118.05
    altitude_m: float = 45.0
    speed_kmh: float = 0.0
    heading_deg: float = 90.0
    mileage_km: float = 1000.0
    fuel_l: float = 150.0
    acc_on: bool = True


class ScriptedTerminal(VirtualTerminal):
    """Records the platform's downlink messages and answers them with ``result``
    (0 ok, 1 failure, 3 not supported), or not at all when ``silent``."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.result = 0
        self.silent = False
        self.received: list[jt808.Message] = []
        self._rec_splitter = jt808.FrameSplitter()

    def data_received(self, data: bytes) -> None:
        for fr in self._rec_splitter.feed(data):
            try:
                msg = jt808.decode(fr)
            except jt808.Jt808Error:
                continue
            if msg.msg_id not in (0x8001, 0x8100):
                self.received.append(msg)
        super().data_received(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._rec_splitter = jt808.FrameSplitter()
        super().connection_made(transport)

    def _send(self, msg_id: int, body: object) -> int:
        if msg_id in (0x0001, 0x0201):
            if self.silent:
                return 0
            if msg_id == 0x0001 and isinstance(body, jt808.TerminalReply):
                body = jt808.TerminalReply(reply_seq=body.reply_seq, reply_msg_id=body.reply_msg_id,
                                           result=self.result)
        return super()._send(msg_id, body)

    def of(self, msg_id: int) -> list[jt808.Message]:
        return [m for m in self.received if m.msg_id == msg_id]


def scripted(port: int, phone: str, source: Source | None = None, **kw: object) -> ScriptedTerminal:
    opts: dict[str, object] = {"interval_s": 3600.0, "clock_s": 0.02, "reconnect_s": (0.05, 0.1), "seed": 1,
                               "heartbeat_s": 30.0}
    opts.update(kw)
    return ScriptedTerminal("127.0.0.1", port, phone, source or Source(), **opts)
