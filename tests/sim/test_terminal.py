"""VirtualTerminal over real TCP against the in-test platform (real JT/T 808 codec)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

import pytest

from icvcloud.protocols import jt808
from icvcloud.sim.terminal import ERROR, ONLINE, STOPPED, VirtualTerminal
from tests.terminals import Source, until

from .mini_platform import MiniPlatform

PHONE = "13900000001"


@dataclass
class FixedSource(Source):
    """A parked-then-moving vehicle stand-in: the terminal only reads these."""

    speed_kmh: float = 42.0
    mileage_km: float = 1234.5

    def step(self, now_s: float) -> None:
        self.mileage_km += 0.01


def terminal(port: int, **kw: object) -> VirtualTerminal:
    opts: dict[str, object] = {"interval_s": 0.2, "clock_s": 0.02, "reconnect_s": (0.05, 0.1), "seed": 1}
    opts.update(kw)
    return VirtualTerminal("127.0.0.1", port, str(opts.pop("phone", PHONE)), FixedSource(), **opts)  # type: ignore[arg-type]


def acked_keys(t: VirtualTerminal) -> set[tuple[str, datetime, int]]:
    return set(t.acknowledged_reports())


async def test_register_authenticate_report(platform: MiniPlatform) -> None:
    t = terminal(platform.port, plate="鲁CA0001", plate_colour=2)
    t.start()
    try:
        await until(lambda: t.acked >= 5, "five acknowledged reports")
    finally:
        await t.stop()
    assert t.state == STOPPED
    reg = platform.of(0x0100)[0]
    assert reg.phone == "0" + PHONE and reg.version == 2013
    body = reg.body
    assert isinstance(body, jt808.Register)
    assert (body.province_id, body.city_id, body.plate, body.plate_colour) == (37, 300, "鲁CA0001", 2)
    auth = platform.of(0x0102)[0]
    assert isinstance(auth.body, jt808.Authenticate) and auth.body.auth_code == f"code-{PHONE}"
    assert t.auth_code == f"code-{PHONE}" and t.registrations == 1
    # Frame serial numbers count up across message types.
    seqs = [f.seq for f in platform.frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    loc = platform.of(0x0200)[0].body
    assert isinstance(loc, jt808.Location)
    assert loc.status & 0b11 == 0b11 and loc.status & (1 << 18) and loc.status & (1 << 19)
    assert (loc.lat, loc.lon, loc.altitude_m, loc.speed_kmh, loc.heading_deg) == (36.81, 118.05, 45, 42.0, 90)
    assert isinstance(loc.time, datetime) and loc.time.utcoffset() == jt808.CST.utcoffset(None)
    assert set(loc.extras) == {0x01, 0x02, 0x30, 0x31} and loc.extras[0x02] == 150.0
    # Everything the terminal saw acknowledged, the platform stored under the same key.
    assert acked_keys(t) <= set(platform.stored)
    assert t.acked == len(t.acknowledged_reports())
    assert t.latency.count == t.acked and t.latency.percentile_ms(50) >= 0


async def test_heartbeat_when_no_report_is_due(platform: MiniPlatform) -> None:
    t = terminal(platform.port, interval_s=3600.0, heartbeat_s=0.1)
    t.start()
    try:
        await until(lambda: len(platform.of(0x0002)) >= 3, "heartbeats")
    finally:
        await t.stop()
    assert all(f.body is None for f in platform.of(0x0002))
    assert t.heartbeats >= 3


async def test_version_2019(platform: MiniPlatform) -> None:
    t = terminal(platform.port, version=2019)
    t.start()
    try:
        await until(lambda: t.acked >= 2, "acknowledged 2019 reports")
    finally:
        await t.stop()
    assert {f.version for f in platform.frames} == {2019}
    assert platform.frames[0].phone == PHONE.rjust(20, "0")
    reg = platform.of(0x0100)[0].body
    assert isinstance(reg, jt808.Register) and reg.terminal_id == f"ICVSIM{PHONE}"
    auth = platform.of(0x0102)[0].body
    assert isinstance(auth, jt808.Authenticate)
    assert len(auth.imei) == 15 and auth.imei.isdigit() and auth.software_version


async def test_reconnect_backfills_unacknowledged_reports(platform: MiniPlatform) -> None:
    platform.drop_after, platform.withhold = 3, 4
    t = terminal(platform.port)
    t.start()
    try:
        await until(lambda: bool(platform.of(0x0704)) and t.in_flight == 0 and t.acked >= 10, "back-fill")
    finally:
        await t.stop()
    assert platform.connections == 2 and t.disconnects == 1
    # Re-authenticated with the code it had; did not register again.
    assert len(platform.of(0x0100)) == 1 and len(platform.of(0x0102)) == 2
    withheld = [f for f in platform.of(0x0200)][3:7]
    batch = platform.of(0x0704)[0].body
    assert isinstance(batch, jt808.BatchLocation) and batch.batch_type == 1
    assert [loc.time for loc in batch.items][: len(withheld)] == [f.body.time for f in withheld]  # type: ignore[attr-defined]
    assert t.resent >= len(withheld)
    assert acked_keys(t) <= set(platform.stored)


async def test_backfill_is_split_into_batches_of_at_most_1023_bytes(platform: MiniPlatform) -> None:
    platform.drop_after, platform.withhold = 0, 60
    t = terminal(platform.port, interval_s=0.01)
    t.start()
    try:
        await until(lambda: len(platform.of(0x0704)) >= 3 and t.in_flight == 0, "batched back-fill")
    finally:
        await t.stop()
    batches = platform.of(0x0704)
    assert all(b.body_len <= 1023 for b in batches)
    assert batches[0].body_len > 900  # packed, not one item per batch
    times = [loc.time for b in batches for loc in b.body.items]  # type: ignore[attr-defined]
    assert times == sorted(times)
    assert acked_keys(t) <= set(platform.stored)


async def test_registration_refused_stops_with_error(platform: MiniPlatform) -> None:
    platform.register_result = 4  # no such terminal
    t = terminal(platform.port)
    t.start()
    try:
        await until(lambda: t.state == ERROR, "error state")
        await until(lambda: platform.closed == 1, "connection closed")
    finally:
        await t.stop()
    assert t.error is not None and "refused" in t.error
    assert t.connects == 1 and t.state == ERROR


@pytest.mark.parametrize("result", [1, 3])
async def test_already_registered_uses_remembered_code(platform: MiniPlatform, result: int) -> None:
    platform.register_result = result
    t = terminal(platform.port, auth_code=f"code-{PHONE}")
    t.start()
    try:
        await until(lambda: t.state == ONLINE and t.acked >= 1, "online with the remembered code")
    finally:
        await t.stop()
    assert len(platform.of(0x0100)) == 1  # registered first, as the lifecycle says


async def test_already_registered_without_code_is_an_error(platform: MiniPlatform) -> None:
    platform.register_result = 3
    t = terminal(platform.port)
    t.start()
    try:
        await until(lambda: t.state == ERROR, "error state")
    finally:
        await t.stop()


async def test_serial_numbers_wrap(platform: MiniPlatform) -> None:
    t = terminal(platform.port)
    t._seq = 0xFFFE
    t.start()
    try:
        await until(lambda: t.acked >= 3, "reports past the wrap")
    finally:
        await t.stop()
    assert [f.seq for f in platform.frames[:4]] == [0xFFFE, 0xFFFF, 0, 1]
    assert acked_keys(t) <= set(platform.stored)


async def test_reconnects_when_platform_is_down_at_first(platform: MiniPlatform) -> None:
    port = platform.port
    await platform.stop()
    t = terminal(port)
    t.start()
    try:
        await until(lambda: t.connect_failures >= 2, "failed connection attempts")
        revived = MiniPlatform()
        await revived.start(port)
        try:
            await until(lambda: t.acked >= 1, "online after the platform came up")
        finally:
            await revived.stop()
    finally:
        await t.stop()


async def test_answers_platform_queries(platform: MiniPlatform) -> None:
    t = terminal(platform.port, interval_s=3600.0)
    t.start()
    try:
        await until(lambda: t.state == ONLINE, "online")
        assert t.transport is not None
        query = jt808.encode(0x8201, None, phone=PHONE, seq=77)
        text = jt808.encode(0x8300, jt808.Text(flag=0x08, text="请减速"), phone=PHONE, seq=78)
        t.data_received(query + text)
        await until(lambda: bool(platform.of(0x0201)) and bool(platform.of(0x0001)), "answers")
    finally:
        await t.stop()
    answer = platform.of(0x0201)[0].body
    assert isinstance(answer, jt808.LocationQueryReply) and answer.reply_seq == 77
    reply = platform.of(0x0001)[0].body
    assert isinstance(reply, jt808.TerminalReply)
    assert (reply.reply_seq, reply.reply_msg_id, reply.result) == (78, 0x8300, 0)


@pytest.mark.parametrize("interval_s", [1.0, 10.0])
def test_periodic_reports_never_share_a_device_second(interval_s: float) -> None:
    """A report polled a little late can cross into the next second while the one
    after it is polled on time: both fell in the same BCD second (the scale-out
    test then saw one position "stored twice"). At an interval of a second or more
    a terminal samples its fix once per second, so device times strictly increase."""
    t = terminal(1, interval_s=interval_s)
    t.state = "offline"  # out of contact: reports go to the back-fill buffer, where we can read them
    due = 100.0
    t._next_report = due
    wall_at_due = 1_796_082_253.999  # the report falls due a millisecond before a second's end
    times = []
    for late_s in (0.002, 0.0, 0.0005, 0.0):  # polled 2 ms late, then on time, …
        t.poll(due + late_s, wall_at_due + late_s)
        times.append(t._backlog[-1][0])
        due += interval_s
        wall_at_due += interval_s
    assert all(b > a for a, b in itertools.pairwise(times)), times
    assert all(abs(s - w) <= 1 for s, w in zip(times, (1_796_082_254 + k * interval_s for k in range(4)),
                                                strict=True)), times


def test_sub_second_intervals_keep_the_wall_second() -> None:
    """Faster than one report a second (a load test), device seconds repeat: they
    follow the wall clock rather than running ahead of it."""
    t = terminal(1, interval_s=0.5)
    t.state = "offline"
    t._next_report = 0.0
    for k in range(10):
        t.poll(k * 0.5, 1_000.0 + k * 0.5)
    assert [r[0] for r in t._backlog] == [1_000 + k // 2 for k in range(10)]
