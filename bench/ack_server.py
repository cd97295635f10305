"""The ingest benchmark's baseline: a JT/T 808 server that answers every frame at
once and keeps nothing — the floor set by TCP, the event loop and framing on this
machine. Run as ``python -m bench.ack_server PORT``; prints ``ready`` when listening.

It registers any terminal (auth code "0"), accepts any authentication and
acknowledges every other message with 0x8001 result 0 — no decode of bodies, no
log, no store.
"""

from __future__ import annotations

import asyncio
import gc
import struct
import sys
from typing import cast

import uvloop

from icvcloud.gateways.jt808.replies import ReplyEncoder
from icvcloud.protocols import jt808

_ID_PROPS = struct.Struct(">HH")
_H13_REST = struct.Struct(">6sH")
_H19_REST = struct.Struct(">B10sH")


class AckProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.splitter = jt808.FrameSplitter()
        self.transport: asyncio.Transport | None = None
        self.replies: ReplyEncoder | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        out = []
        for frame in self.splitter.feed(data):
            try:
                content = jt808.unwrap(frame)
            except jt808.Jt808Error:
                continue
            if len(content) < 12:
                continue
            msg_id, props = _ID_PROPS.unpack_from(content)
            if props & 0x4000 and len(content) >= 17:  # 2019 header: protocol version byte, 10-byte phone
                proto, phone_b, seq = _H19_REST.unpack_from(content, 4)
                version = jt808.V2019
            else:
                phone_b, seq = _H13_REST.unpack_from(content, 4)
                proto, version = 1, jt808.V2013
            phone = phone_b.hex()
            if self.replies is None or self.replies.phone != phone:
                self.replies = ReplyEncoder(phone, version, proto)
            if msg_id == 0x0100:
                out.append(self.replies.message(0x8100, jt808.RegisterReply(reply_seq=seq, result=0, auth_code="0")))
            else:
                out.append(self.replies.general(seq, msg_id, 0))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(AckProtocol, "127.0.0.1", port, backlog=4096)
    gc.freeze()
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    gc.set_threshold(50_000, 50, 100)
    uvloop.run(serve(int(sys.argv[1])))
