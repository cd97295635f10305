"""The alarm feed and commands between processes, over the real NATS cluster: what
one process publishes reaches every API process's subscribers within their tenant;
a lost message is noticed; a command reaches the gateway holding the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icvcloud.alarm_feed import OVERFLOW, AlarmSubscription, command_from_json, command_json
from icvcloud.app.alarm_bus import BusAlarmFeed, decode_batch, encode_batch
from icvcloud.app.command_bus import (
    BusCommandSender,
    CommandAgent,
    bus_alarm_requests,
    decode_alarm_request,
    decode_request,
    encode_alarm_request,
)
from icvcloud.app.commands import CommandService
from icvcloud.gateways.jt808.attachment_request import (
    AlarmNumbers,
    AttachmentRequestSettings,
    describe,
    encode_request_body,
    request_for,
)
from icvcloud.gateways.jt808.downlink import Answer, Downlink
from icvcloud.model import Vehicle
from icvcloud.model.commands import Command, CommandError, TerminalOffline
from icvcloud.sim.attachments import identification
from icvcloud.store.base import Scope
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore
from tests.services import unique


@pytest.fixture
async def nc(nats_servers: list[str]) -> AsyncIterator[Any]:
    # One node for every client of a test: a subscription is then known to the node
    # (flush) before another client publishes; across nodes its interest travels
    # asynchronously, which is right for production and a race for a test.
    client = await nats.connect(servers=nats_servers[:1])
    try:
        yield client
    finally:
        await client.close()


async def until(cond: Any, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def drain(sub: AlarmSubscription) -> list[dict[str, Any]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def alarm_msg(org_id: int, n: int) -> dict[str, Any]:
    return {"type": "alarm", "change": "new", "notify": False, "org_id": org_id, "vehicle_id": n,
            "alarm": {"id": n, "severity": 2, "category": "driving"}}


async def test_changes_reach_every_api_process_within_tenant(nc: Any, nats_servers: list[str]) -> None:
    subject = unique("alarms")
    other = await nats.connect(servers=nats_servers[:1])
    worker = BusAlarmFeed(nc, subject)
    api_1, api_2 = BusAlarmFeed(nc, subject), BusAlarmFeed(other, subject)
    for f, relay in ((worker, False), (api_1, True), (api_2, True)):
        await f.start(relay=relay)
    await other.flush()
    try:
        regulator = api_1.subscribe(AlarmSubscription())
        company_a = api_2.subscribe(AlarmSubscription(org_ids=frozenset({1})))
        worker.publish([alarm_msg(1, 1), alarm_msg(2, 2)])
        api_1.publish([alarm_msg(1, 3)])  # a handling step in API process 1 reaches process 2 too
        await until(lambda: regulator.queue.qsize() == 3 and company_a.queue.qsize() == 2)
        assert [m["vehicle_id"] for m in drain(regulator)] == [1, 2, 3]
        assert [m["vehicle_id"] for m in drain(company_a)] == [1, 3]  # not org 2's
        assert worker.subscribers == 0 and worker.received == 0  # a worker relays nothing
    finally:
        for f in (worker, api_1, api_2):
            await f.stop()
        await other.close()


async def test_a_gap_in_a_publishers_numbers_tells_subscribers_to_reread(nc: Any) -> None:
    subject = unique("alarms")
    api = BusAlarmFeed(nc, subject)
    await api.start(relay=True)
    try:
        sub = api.subscribe(AlarmSubscription(org_ids=frozenset({1})))
        await nc.publish(subject, encode_batch("w1", 1, [alarm_msg(1, 1)]))
        await nc.publish(subject, encode_batch("w1", 4, [alarm_msg(1, 4)]))  # 2 and 3 never arrived
        await nc.publish(subject, encode_batch("w2", 7, [alarm_msg(1, 7)]))  # a publisher's first: no gap
        await nc.publish(subject, b"\xff not json")
        await until(lambda: api.received == 3 and api.bad == 1)
        got = drain(sub)
        # As when its own queue overflows: told once, then nothing until it has re-read
        # (the WebSocket session reports the overflow and clears the flag).
        assert got[0]["vehicle_id"] == 1 and got[1] is OVERFLOW and len(got) == 2
        assert sub.overflowed and sub.dropped == 2 + 2 and api.gaps == 1
        sub.overflowed, sub.dropped = False, 0
        await nc.publish(subject, encode_batch("w1", 5, [alarm_msg(1, 5)]))
        await until(lambda: not sub.queue.empty())
        assert [m["vehicle_id"] for m in drain(sub)] == [5] and api.gaps == 1
    finally:
        await api.stop()


async def test_a_resync_makes_subscribers_reread(nc: Any) -> None:
    subject = unique("alarms")
    worker, api = BusAlarmFeed(nc, subject), BusAlarmFeed(nc, subject)
    await worker.start(relay=False)
    await api.start(relay=True)
    try:
        sub = api.subscribe(AlarmSubscription(org_ids=frozenset({1})))
        worker.publish([alarm_msg(1, 1)])
        worker.resync()  # a worker took a partition over
        await until(lambda: api.resyncs == 1)
        got = drain(sub)
        assert got[0]["vehicle_id"] == 1 and got[1] is OVERFLOW and len(got) == 2
        assert sub.overflowed and sub.dropped == 0 and api.gaps == 0
    finally:
        await worker.stop()
        await api.stop()


@given(st.binary(max_size=300) | st.dictionaries(st.sampled_from(["from", "seq", "messages"]),
                                                   st.none() | st.integers() | st.text(max_size=3)
                                                   | st.lists(st.dictionaries(st.just("type"), st.text(max_size=3)),
                                                              max_size=2)).map(lambda d: json.dumps(d).encode()))
def test_feed_messages_decode_or_give_a_clear_error(data: bytes) -> None:
    try:
        publisher, seq, messages = decode_batch(data)
    except ValueError:
        return
    assert isinstance(publisher, str) and seq >= 1 and all(isinstance(m["type"], str) for m in messages)


@given(st.binary(max_size=300))
def test_command_requests_decode_or_give_a_clear_error(data: bytes) -> None:
    try:
        req = decode_request(data)
    except ValueError:
        return
    assert isinstance(req["vehicle"]["device_id"], str) and isinstance(req["msg_id"], int)


class WireDownlink(Downlink):
    """A gateway's downlink for the terminals "connected" to it; records what it wrote."""

    def __init__(self, connected: set[str]) -> None:
        self.connected = connected
        self.sent: list[tuple[str, int, object]] = []
        self.on_answer = None

    def online(self, device_id: str) -> bool:
        return device_id in self.connected

    def send(self, device_id: str, msg_id: int, body: object) -> int | None:
        self.sent.append((device_id, msg_id, body))
        return 100 + len(self.sent)


@dataclasses.dataclass
class TwoGateways:
    """Two gateways' command agents on one subject: ``here`` holds 13900000001 (the
    vehicle ``vid`` of ``org``), ``elsewhere`` holds nothing."""

    subject: str
    store: SqliteStore
    alarms: SqliteAlarmStore
    org: int
    vid: int
    here: WireDownlink
    elsewhere: WireDownlink
    agents: list[CommandAgent]


@contextlib.asynccontextmanager
async def two_gateways(nc: Any, tmp_path: Path, on_change: Any = None) -> AsyncIterator[TwoGateways]:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        alarms = SqliteAlarmStore(store)
        org = await store.add_organisation("淄博危运")
        vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C00001", org_id=org, device_id="13900000001"))
        here, elsewhere = WireDownlink({"13900000001"}), WireDownlink(set())
        subject = unique("cmd")
        agents = [CommandAgent(nc, subject, CommandService(store, alarms, d, timeout_s=30, on_change=on_change))
                  for d in (elsewhere, here)]
        for a in agents:
            await a.start()
        yield TwoGateways(subject, store, alarms, org, vid, here, elsewhere, agents)
        for a in agents:
            await a.stop()
    finally:
        await store.close()


async def test_a_command_reaches_the_gateway_holding_the_terminal(nc: Any, tmp_path: Path) -> None:
    changes: list[Command] = []
    async with two_gateways(nc, tmp_path, changes.append) as g:
        await g.store.add_vehicle(Vehicle(id=0, plate="鲁C00002", org_id=g.org, device_id="13900000002"))
        vehicle = await g.store.vehicle_for_device("13900000001")
        offline_vehicle = await g.store.vehicle_for_device("13900000002")
        assert vehicle is not None and offline_vehicle is not None
        here = g.here
        sender = BusCommandSender(nc, g.subject, g.store, reply_timeout_s=1.0)
        cmd = await sender.submit(vehicle, 0x8300, {"flag": ["display"], "text": "请靠边停车"}, "op1")
        assert cmd.state == "sent" and cmd.vehicle_id == g.vid and cmd.seq == 101 and cmd.org_id == g.org
        assert here.sent and here.sent[0][:2] == ("13900000001", 0x8300) and not g.elsewhere.sent
        stored = await g.alarms.get_command(Scope.all(), cmd.id)
        assert stored is not None and stored.state == "sent" and stored.seq == 101
        # The terminal's 0x0001 answer, at the gateway that sent it, finishes the command.
        assert here.on_answer is not None
        here.on_answer(Answer(device_id="13900000001", msg_id=0x0001, reply_seq=101, answered_msg_id=0x8300,
                              result=0, body={}, received_at=datetime.now(UTC)))
        await until(lambda: any(c.state == "acknowledged" for c in changes))
        with pytest.raises(TerminalOffline):
            await sender.submit(offline_vehicle, 0x8300, {"flag": ["display"], "text": "x"}, "op1")
        with pytest.raises(CommandError, match="not a command"):
            await sender.submit(vehicle, 0x0200, None, "op1")  # refused before asking any gateway
        assert len(here.sent) == 1


def test_commands_round_trip_through_json() -> None:
    now = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    c = Command(id=7, vehicle_id=3, device_id="1", org_id=2, msg_id=0x8300, body={"text": "你好"}, user="op",
                created_at=now, expires_at=now, state="acknowledged", seq=9, result=0, answer={"msg_id": "0x0001"},
                detail="", alarm_id=4, sent_at=now, answered_at=now)
    assert command_from_json({**command_json(c), "org_id": 2}) == c


async def test_an_alarm_request_reaches_the_gateway_holding_the_terminal(nc: Any, tmp_path: Path) -> None:
    """A worker's 0x9208 for an alarm's files: sent and recorded (user platform, under
    the alarm number) by the gateway holding the terminal, its serial number back to
    the worker; None when no gateway holds it."""
    async with two_gateways(nc, tmp_path) as g:
        ident = identification("0000001", datetime(2025, 3, 1, 2, 0, tzinfo=UTC), 1, 2)
        req = request_for("13900000001", ident, AttachmentRequestSettings("127.0.0.1", 7000, 0, AlarmNumbers(b"k")))
        body = encode_request_body(req)
        send = bus_alarm_requests(nc, g.subject, reply_timeout_s=1.0)
        seq = await send("13900000001", body, describe(req), req.alarm_number)
        assert seq == 101 and g.here.sent == [("13900000001", 0x9208, body)] and not g.elsewhere.sent
        (cmd,) = await g.alarms.list_commands(Scope.all(), g.vid)
        assert (cmd.msg_id, cmd.user, cmd.alarm_ref, cmd.seq, cmd.state) == (
            0x9208, "platform", req.alarm_number, 101, "sent")
        assert cmd.body == describe(req)
        assert await send("13900000002", body, describe(req), req.alarm_number) is None  # nobody holds it
        # A malformed request is counted and dropped; the agents keep serving.
        await nc.publish(g.subject, b'{"kind": "alarm_request", "device_id": "13900000001", "msg_id": 37384}')
        assert await send("13900000001", body, describe(req), req.alarm_number) == 102
        assert sum(a.bad for a in g.agents) == 2  # each agent saw the malformed one


def test_alarm_requests_round_trip() -> None:
    body = bytes(range(256))
    d = decode_alarm_request(encode_alarm_request("13900000001", 0x9208, body, {"alarm_number": "A1"}, "A1"))
    assert (d["device_id"], d["msg_id"], d["body_bytes"], d["body"], d["alarm_ref"]) == (
        "13900000001", 0x9208, body, {"alarm_number": "A1"}, "A1")


@given(st.binary(max_size=300) | st.dictionaries(
    st.sampled_from(["kind", "device_id", "msg_id", "body_hex", "body", "alarm_ref"]),
    st.none() | st.integers() | st.text(max_size=6) | st.just("alarm_request") | st.dictionaries(
        st.text(max_size=2), st.integers(), max_size=2)).map(lambda d: json.dumps(d).encode()))
def test_alarm_requests_decode_or_give_a_clear_error(data: bytes) -> None:
    try:
        req = decode_alarm_request(data)
    except ValueError:
        return
    assert isinstance(req["device_id"], str) and 0 <= req["msg_id"] <= 0xFFFF
    assert isinstance(req["body_bytes"], bytes) and isinstance(req["alarm_ref"], str) and req["alarm_ref"]
