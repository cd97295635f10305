"""Virtual terminals for the alarm and command tests: the simulator's real JT/T 808
client, with a scripted position source and scripted answers to commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from icvcloud.protocols import jt808
from icvcloud.sim.terminal import VirtualTerminal


@dataclass
class Source:
    """What the terminal reads from its vehicle; tests set the fields."""

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


async def until(cond: Callable[[], bool], what: str = "condition", limit_s: float = 30.0) -> None:
    """Wait for ``cond``; the limit only keeps a broken test from hanging (not a
    performance bound: the waits here are normally met in well under a second)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)
