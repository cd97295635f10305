"""Load terminals for the scale-out fault tests: the crash test's terminal (reports
as fast as acknowledged, 8 in flight; back-fills what was not acknowledged after a
reconnect) that back-fills in batches that fit one frame — after several failed
sessions in a row (a NATS leader election) the backlog outgrows one 0x0704 —
and, given several gateways, moves to the next when its connection breaks (a load
balancer's job in production)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from icvcloud.protocols import jt808
from tests.test_crash import LoadTerminal

#: Items per back-filled 0x0704: their bodies fit one frame's 1023 bytes.
BACKFILL_ITEMS = 16


class ScaleoutTerminal(LoadTerminal):
    def __init__(self, idx: int, ports: list[int]) -> None:
        super().__init__(idx, ports[idx % len(ports)])
        self.ports = ports
        self._next = idx
        self.sessions = 0

    async def _session(self, stop: asyncio.Event) -> None:
        self.port = self.ports[self._next % len(self.ports)]
        self._next += 1
        self.sessions += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        sp = jt808.FrameSplitter()
        inbox: list[jt808.Message] = []

        async def recv() -> jt808.Message:
            while not inbox:
                data = await asyncio.wait_for(reader.read(65536), 5)
                if not data:
                    raise ConnectionError
                inbox.extend(jt808.decode(f) for f in sp.feed(data))
            return inbox.pop(0)

        def send(mid: int, body: object) -> int:
            s = self.seq
            self.seq = (self.seq + 1) & 0xFFFF
            writer.write(jt808.encode(mid, body, phone=self.phone, seq=s))
            return s

        in_flight: dict[int, list[tuple[jt808.Location, datetime]]] = {}
        try:
            send(0x0100, jt808.Register(province_id=37, city_id=300, maker_id="X", model="M", terminal_id="T",
                                        plate_colour=2, plate=f"鲁C{self.phone[-5:]}"))
            r = await recv()
            send(0x0102, jt808.Authenticate(auth_code=r.body.auth_code))
            await recv()
            while self.unacked:
                batch, self.unacked = self.unacked[:BACKFILL_ITEMS], self.unacked[BACKFILL_ITEMS:]
                self.backfilled += len(batch)
                in_flight[send(0x0704, jt808.BatchLocation(batch_type=1, items=[loc for loc, _ in batch]))] = batch
            while not stop.is_set():
                while len(in_flight) < 8:
                    loc, t = self._loc()
                    in_flight[send(0x0200, loc)] = [(loc, t)]
                ack = await recv()
                if ack.msg_id == 0x8001 and ack.body.reply_msg_id in (0x0200, 0x0704) \
                        and ack.body.reply_seq in in_flight:
                    for _, t in in_flight.pop(ack.body.reply_seq):
                        self.acked.add((self.phone, int(t.astimezone(UTC).timestamp() * 1e6)))
        finally:
            self.unacked += [x for sent in in_flight.values() for x in sent]
            writer.close()
