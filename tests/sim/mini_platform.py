"""A minimal JT/T 808 platform for the terminal and fleet tests: the real codec over
real TCP, answering registration, authentication and reports, and recording what
it received. Options misbehave on purpose (refuse registration, withhold acks and
drop the connection) to exercise the terminal's recovery."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from icvcloud.protocols import jt808


@dataclass
class Received:
    phone: str
    msg_id: int
    seq: int
    version: int
    body: object
    body_len: int


@dataclass
class MiniPlatform:
    register_result: int = 0
    #: After this many acknowledged reports, the next ``withhold`` reports of a
    #: connection get no ack and then the connection is dropped (once).
    drop_after: int | None = None
    withhold: int = 3
    frames: list[Received] = field(default_factory=list)
    #: (phone without padding, device time, frame seq) of every stored report.
    stored: list[tuple[str, datetime, int]] = field(default_factory=list)
    connections: int = 0
    closed: int = 0
    port: int = 0
    _server: asyncio.base_events.Server | None = None
    _acked_reports: int = 0
    _withheld: int = 0
    _dropped: bool = False

    async def start(self, port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Conn(self), "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def of(self, msg_id: int) -> list[Received]:
        return [f for f in self.frames if f.msg_id == msg_id]

    def auth_code_for(self, phone: str) -> str:
        return f"code-{phone.lstrip('0')}"


class _Conn(asyncio.Protocol):
    def __init__(self, platform: MiniPlatform) -> None:
        self.p = platform
        self.split = jt808.FrameSplitter()
        self.transport: asyncio.Transport | None = None
        self.authenticated = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.p.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.p.closed += 1

    def reply(self, msg: jt808.Message, msg_id: int, body: object) -> None:
        assert self.transport is not None
        self.transport.write(jt808.encode(msg_id, body, phone=msg.phone, seq=0, version=msg.version))

    def ack(self, msg: jt808.Message, result: int = 0) -> None:
        self.reply(msg, 0x8001, jt808.PlatformReply(reply_seq=msg.seq, reply_msg_id=msg.msg_id, result=result))

    def data_received(self, data: bytes) -> None:
        p = self.p
        for fr in self.split.feed(data):
            raw = jt808.unwrap(fr)
            msg = jt808.decode(fr)
            body_len = int.from_bytes(raw[2:4], "big") & 0x3FF
            p.frames.append(Received(msg.phone, msg.msg_id, msg.seq, msg.version, msg.body, body_len))
            phone = msg.phone.lstrip("0")
            if msg.msg_id == 0x0100:
                code = p.auth_code_for(phone) if p.register_result == 0 else ""
                self.reply(msg, 0x8100, jt808.RegisterReply(reply_seq=msg.seq, result=p.register_result,
                                                            auth_code=code))
            elif msg.msg_id == 0x0102:
                self.authenticated = msg.body.auth_code == p.auth_code_for(phone)
                self.ack(msg, 0 if self.authenticated else 1)
            elif msg.msg_id in (0x0200, 0x0704):
                if not self.authenticated:
                    self.ack(msg, 1)
                    continue
                items = [msg.body] if msg.msg_id == 0x0200 else msg.body.items
                p.stored += [(phone, loc.time, msg.seq) for loc in items]
                if p.drop_after is not None and not p._dropped and p._acked_reports >= p.drop_after:
                    p._withheld += 1
                    if p._withheld >= p.withhold:
                        p._dropped = True
                        assert self.transport is not None
                        self.transport.abort()
                        return
                    continue
                p._acked_reports += 1
                self.ack(msg)
            elif msg.msg_id == 0x0002:
                self.ack(msg)
