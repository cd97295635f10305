"""The JT/T 808 gateway end to end over real sockets, terminals speaking the real
codec, in both modes: over the embedded SQLite log and store, and over the
scale-out NATS JetStream log (the development cluster, R3) and PostgreSQL store —
the same gateway and store consumer code either way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from icvcloud.app.admission import StoreAdmission
from icvcloud.app.pipeline import StorePipeline
from icvcloud.gateways.jt808 import GatewaySettings, Jt808Gateway
from icvcloud.gateways.jt808.replies import ReplyEncoder
from icvcloud.log.base import Log
from icvcloud.log.nats import NatsLog, NatsLogSettings
from icvcloud.log.sqlite import SqliteLog
from icvcloud.model import Vehicle
from icvcloud.protocols import jt808
from icvcloud.store.base import Scope, Store
from icvcloud.store.postgres import PostgresStore
from icvcloud.store.sqlite import SqliteStore
from tests.scaleout.conftest import drop_stream
from tests.services import drop_schema, nats_cluster, postgis, unique
from tests.terminals import Terminal, registration

from ..protocols.jt808.corpus import location

MODES = ["embedded", "scaleout"]


@dataclass
class Stack:
    gateway: Jt808Gateway
    store: Store
    log: Log  # what the store consumer reads: the SQLite log, or the NATS log's one partition
    pipeline: StorePipeline
    port: int


async def _stack(tmp: Path, mode: str, policy: str = "open", **settings: float) -> AsyncIterator[Stack]:
    store: Store
    log: Log
    if mode == "embedded":
        store, log = SqliteStore(tmp / "store.db"), SqliteLog(tmp / "log.db")
        await log.open()
        consumed = log
    else:
        schema, stream = unique("gw"), unique("GW").upper()
        store = PostgresStore(postgis(), schema=schema)
        log = NatsLog(NatsLogSettings(servers=nats_cluster(), stream=stream, subject_prefix=stream.lower(),
                                      partitions=1, replicas=3, publish_timeout_s=10.0))
        await log.open()
        consumed = log.partition(0, "store")
    await store.open()
    adm = StoreAdmission(store, policy)
    gw = Jt808Gateway(log, adm, GatewaySettings(**settings))  # type: ignore[arg-type]
    port = await gw.start("127.0.0.1", 0)
    pipe = StorePipeline(consumed, store, consumer="store" if mode == "embedded" else "store.p0")
    task = asyncio.create_task(pipe.run())
    try:
        yield Stack(gw, store, consumed, pipe, port)
    finally:
        await gw.stop()
        pipe.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await log.close()
        await store.close()
        if mode == "scaleout":
            await drop_stream(nats_cluster(), stream)
            await drop_schema(schema)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def stack(tmp_path: Path, mode: str) -> AsyncIterator[Stack]:
    async for s in _stack(tmp_path, mode):
        yield s


async def _drain(stack: Stack, n: int) -> None:
    for _ in range(200):
        if await stack.store.count_positions() >= n and stack.pipeline.offset >= stack.log.last_offset():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"store holds {await stack.store.count_positions()} positions, expected {n}")


async def test_register_authenticate_report_and_query_back(stack: Stack) -> None:
    t = Terminal("13900001111")
    await t.login(stack.port)
    sent = []
    for i in range(5):
        loc = location(i)
        seq = await t.send(0x0200, loc)
        ack = await t.recv()
        assert (ack.msg_id, ack.body.reply_seq, ack.body.reply_msg_id, ack.body.result) == (0x8001, seq, 0x0200, 0)
        sent.append((seq, loc))
    await _drain(stack, 5)
    vehicle = await stack.store.vehicle_for_device("13900001111")
    assert vehicle is not None and vehicle.plate == "鲁C12345"
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    track = await stack.store.track(Scope.all(), vehicle.id, start, start + timedelta(days=1))
    assert len(track) == 5
    for (seq, loc), p in zip(sent, track, strict=True):
        assert p.seq == seq
        assert p.device_time == loc.time
        # The wire carries 1e-6 degrees: what was sent is the rounded coordinate.
        assert (p.lat, p.lon, p.speed_kmh, p.heading_deg, p.altitude_m) == (
            round(loc.lat, 6), round(loc.lon, 6), loc.speed_kmh, loc.heading_deg, loc.altitude_m)
        assert p.mileage_km == loc.extras[0x01]
        assert p.extras["0x30"] == {"signal_strength": 25}
    t.close()


async def test_heartbeat_and_backfill_and_duplicates(stack: Stack) -> None:
    t = Terminal("13900002222")
    await t.login(stack.port)
    seq = await t.send(0x0002, None)
    hb = await t.recv()
    assert (hb.msg_id, hb.body.reply_seq, hb.body.reply_msg_id) == (0x8001, seq, 0x0002)
    batch = jt808.BatchLocation(batch_type=1, items=[location(i) for i in range(10)])
    seq = await t.send(0x0704, batch)
    ack = await t.recv()
    assert (ack.body.reply_seq, ack.body.reply_msg_id, ack.body.result) == (seq, 0x0704, 0)
    # The terminal did not see the ack and re-sends the same frame: stored once.
    t.seq = seq
    await t.send(0x0704, batch)
    await t.recv()
    await _drain(stack, 10)
    await asyncio.sleep(0.2)
    assert await stack.store.count_positions("13900002222") == 10


async def test_a_heartbeat_alone_moves_the_last_report_time(stack: Stack) -> None:
    t = Terminal("13900002323")
    await t.login(stack.port, "鲁C23232")
    await t.send(0x0200, location(0))
    await t.recv()
    await _drain(stack, 1)
    vehicle = await stack.store.vehicle_for_device("13900002323")
    assert vehicle is not None
    row = await stack.store.get_vehicle(Scope.all(), vehicle.id)
    assert row is not None and row.live is not None and row.live.last_report_at is not None
    reported_at = row.live.last_report_at
    await asyncio.sleep(0.3)
    await t.send(0x0002, None)
    await t.recv()
    for _ in range(200):
        row = await stack.store.get_vehicle(Scope.all(), vehicle.id)
        assert row is not None and row.live is not None and row.live.last_report_at is not None
        if row.live.last_report_at > reported_at:
            break
        await asyncio.sleep(0.02)
    assert row.live.last_report_at - reported_at >= timedelta(seconds=0.25)
    assert row.live.online and row.live.position is not None  # the last position stays
    t.close()


async def test_malformed_frames_do_not_disturb_the_connection_or_others(stack: Stack) -> None:
    a, b = Terminal("13900003333"), Terminal("13900004444")
    await a.login(stack.port)
    await b.login(stack.port)
    good = jt808.encode(0x0200, location(), phone=a.phone, seq=50)
    bad_check = bytearray(good)
    bad_check[-2] ^= 0x55
    await a.send_raw(bytes(bad_check) + b"\x7e\x7d\x7d\x7e" + b"\x00\xff" * 10)
    # A valid frame whose body is truncated: answered "message error".
    trunc = jt808.encode(0x0200, b"\x00" * 10, phone=a.phone, seq=51)
    await a.send_raw(trunc)
    r = await a.recv()
    assert (r.msg_id, r.body.reply_seq, r.body.result) == (0x8001, 51, 2)
    # Unsupported message: "not supported".
    await a.send_raw(jt808.encode(0x0F0F, b"\x01", phone=a.phone, seq=52))
    r = await a.recv()
    assert (r.body.reply_seq, r.body.reply_msg_id, r.body.result) == (52, 0x0F0F, 3)
    # Both connections still work.
    await a.send_raw(good)
    r = await a.recv()
    assert (r.body.reply_seq, r.body.result) == (50, 0)
    seq = await b.send(0x0200, location())
    r = await b.recv()
    assert (r.body.reply_seq, r.body.result) == (seq, 0)
    frames = stack.gateway.stats.frames
    assert frames["bad_check_code"] == 1 and frames["truncated"] == 1 and frames["unknown_message_id"] == 1
    # Recorded for the terminal's diagnostics on their way through the log (not at once).
    for _ in range(250):
        bad = await stack.store.bad_frames("13900003333")
        if {reason.split(":")[0] for _, _, reason in bad} >= {"bad_check_code", "truncated"}:
            break
        await asyncio.sleep(0.02)
    assert {reason.split(":")[0] for _, _, reason in bad} >= {"bad_check_code", "truncated"}


async def test_oversized_span_is_dropped(tmp_path: Path, mode: str) -> None:
    async for s in _stack(tmp_path, mode, max_frame_bytes=300):
        t = Terminal("13900005555")
        await t.login(s.port)
        await t.send_raw(b"\x7e" + b"\x01" * 1000)
        await t.send_raw(b"\x7e")
        seq = await t.send(0x0200, location())
        r = await t.recv()
        assert r.body.reply_seq == seq and r.body.result == 0
        assert s.gateway.stats.frames["oversized"] >= 1


async def test_unregistered_terminal_is_refused(tmp_path: Path, mode: str) -> None:
    async for s in _stack(tmp_path, mode, "registered"):
        t = Terminal("13900006666")
        await t.connect(s.port)
        seq = await t.send(0x0100, registration("鲁C99999", "X", "M", "T"))
        r = await t.recv()
        assert (r.msg_id, r.body.reply_seq, r.body.result, r.body.auth_code) == (0x8100, seq, 4, "")
        # Reports without authentication are refused and not stored.
        seq = await t.send(0x0200, location())
        r = await t.recv()
        assert (r.msg_id, r.body.reply_seq, r.body.result) == (0x8001, seq, 1)
        assert await t.send(0x0102, jt808.Authenticate(auth_code="guess")) >= 0
        r = await t.recv()
        assert r.body.result == 1
        await asyncio.sleep(0.3)
        assert await s.store.count_positions() == 0


async def test_registered_policy_admits_provisioned_terminal(tmp_path: Path, mode: str) -> None:
    async for s in _stack(tmp_path, mode, "registered"):
        from icvcloud.model import Device

        await s.store.save_device(Device(device_id="13900007777", phone="013900007777"))
        await s.store.add_vehicle(Vehicle(id=0, plate="鲁C77777", vehicle_type="hazmat_tanker",
                                          device_id="13900007777"))
        t = Terminal("13900007777")
        await t.login(s.port, plate="鲁C77777")
        other = Terminal("13900007777")
        await other.connect(s.port)
        await other.send(0x0100, registration("鲁C00000", "X", "M", "T"))
        r = await other.recv()
        assert r.body.result == 2  # no such vehicle: the registry has another plate


async def test_rate_limit_closes_a_flooding_connection(tmp_path: Path, mode: str) -> None:
    async for s in _stack(tmp_path, mode, max_frames_per_s=5):
        t = Terminal("13900008888")
        await t.login(s.port)
        await t.send_raw(b"".join(jt808.encode(0x0002, None, phone=t.phone, seq=i) for i in range(100)))
        assert await t.closed()
        assert s.gateway.stats.frames["rate_limited"] >= 1


async def test_idle_connection_is_closed(tmp_path: Path, mode: str) -> None:
    async for s in _stack(tmp_path, mode, idle_timeout_s=0.3):
        t = Terminal("13900009999")
        await t.login(s.port)
        assert await t.closed(timeout=10)


async def test_2019_terminal(stack: Stack) -> None:
    t = Terminal("00000000013900001234", jt808.V2019)
    await t.connect(stack.port)
    seq = await t.send(0x0100, registration("鲁C2019A", "ICV", "M2019", "T2019", plate_colour=1))
    r = await t.recv()
    assert r.version == jt808.V2019 and r.body.result == 0 and r.body.reply_seq == seq
    await t.send(0x0102, jt808.Authenticate(auth_code=r.body.auth_code, imei="861234567890123",
                                            software_version="1.0"))
    assert (await t.recv()).body.result == 0
    seq = await t.send(0x0200, location())
    r = await t.recv()
    assert r.version == jt808.V2019 and r.body.reply_seq == seq
    await _drain(stack, 1)
    assert await stack.store.count_positions("13900001234") == 1


async def test_consumers_read_the_frames_as_the_gateway_decoded_them(tmp_path: Path) -> None:
    """Embedded: the log keeps its newest records in memory with the gateway's
    decoding. A consumer reads the message it would have decoded itself; where the
    gateway's decoding depends on what it remembers of the terminal (a 2011
    registration), the consumer decodes the frame itself."""
    async for stack in _stack(tmp_path, "embedded"):
        t13, t11, t19 = (Terminal("13900003333"), Terminal("13900004444", jt808.V2011),
                         Terminal("00000000013900005555", jt808.V2019))
        for t, plate in ((t13, "鲁C33333"), (t11, "鲁C44444"), (t19, "鲁C55555")):
            await t.login(stack.port, plate)
            for i in range(3):
                await t.send(0x0200, location(i))
                await t.recv()
            await t.send(0x0002, None)
            await t.recv()
        await _drain(stack, 9)
        recs = await stack.log.read(0, 100)
        shared = [r for r in recs if r.decoded is not None]
        for r in shared:
            assert r.decoded == jt808.decode(r.payload)
        assert sorted((r.device_id, r.decoded.msg_id) for r in shared) == sorted(
            (d, m) for d in ("13900003333", "13900005555") for m in (0x0200, 0x0200, 0x0200, 0x0002))
        assert [r for r in recs if r.device_id == "13900004444" and r.decoded is None]
        # The store holds the 2011 terminal's reports all the same.
        assert await stack.store.count_positions("13900004444") == 3
        for t in (t13, t11, t19):
            t.close()


def test_fast_reply_matches_the_codec() -> None:
    for version, phone in ((jt808.V2013, "013912345678"), (jt808.V2019, "00000000013912345678")):
        enc = ReplyEncoder(phone, version)
        for i in range(300):
            got = enc.general(i * 7 & 0xFFFF, 0x0200, i % 4)
            want = jt808.encode(0x8001, jt808.PlatformReply(reply_seq=i * 7 & 0xFFFF, reply_msg_id=0x0200,
                                                            result=i % 4),
                                phone=phone, seq=i, version=version)
            assert got == want
