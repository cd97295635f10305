"""Commands to vehicles over real sockets: the API → command service → the gateway's
downlink → a virtual terminal (the simulator's JT/T 808 client) → its answer →
the command's state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from icvcloud.alarm_feed import AlarmFeed, AlarmSubscription
from icvcloud.api import ApiServices, create_app, issue_token
from icvcloud.api.alarm_services import AlarmServices
from icvcloud.app.admission import StoreAdmission
from icvcloud.app.commands import CommandService
from icvcloud.gateways.jt808 import Jt808Gateway
from icvcloud.gateways.jt808.attachment_request import (
    AlarmNumbers,
    AttachmentRequestSettings,
    describe,
    encode_request_body,
    request_for,
)
from icvcloud.gateways.jt808.downlink import Jt808Downlink
from icvcloud.live import LiveHub
from icvcloud.log.sqlite import SqliteLog
from icvcloud.model import Vehicle
from icvcloud.protocols import jt808
from icvcloud.sim.attachments import identification
from icvcloud.sim.terminal import ONLINE
from icvcloud.store.base import Scope
from icvcloud.store.sqlite import SqliteStore
from icvcloud.store.sqlite_alarms import SqliteAlarmStore
from tests.terminals import ScriptedTerminal, scripted, until

PHONE = "13900000001"
OTHER = "13900000002"


@dataclass
class Stack:
    store: SqliteStore
    alarms: SqliteAlarmStore
    commands: CommandService
    feed: AlarmFeed
    client: httpx.AsyncClient
    port: int
    vehicle: int
    offline_vehicle: int
    other_org_vehicle: int
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def send(self, body: dict[str, Any], user: str = "op", vehicle: int | None = None) -> httpx.Response:
        return await self.client.post(f"/api/v1/vehicles/{vehicle or self.vehicle}/commands", json=body,
                                      headers=self.auth(user))

    async def state_of(self, command_id: int) -> dict[str, Any]:
        r = await self.client.get(f"/api/v1/commands/{command_id}", headers=self.auth("op"))
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    log = SqliteLog(tmp_path / "log.db")
    await log.open()
    gw = Jt808Gateway(log, StoreAdmission(store, "registered"))
    port = await gw.start("127.0.0.1", 0)
    alarms = SqliteAlarmStore(store)
    feed = AlarmFeed()
    from icvcloud.alarm_feed import command_message

    commands = CommandService(store, alarms, Jt808Downlink(gw), timeout_s=30.0,
                              on_change=lambda c: feed.publish([command_message(c)]))
    expiry = asyncio.create_task(commands.run_expiry(every_s=0.05))
    a = await store.add_organisation("鲁中危险品运输")
    b = await store.add_organisation("长途客运集团")
    vehicle = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", vehicle_type="hazmat_tanker", org_id=a,
                                              device_id=PHONE))
    offline = await store.add_vehicle(Vehicle(id=0, plate="鲁C54321", org_id=a, device_id=OTHER))
    other = await store.add_vehicle(Vehicle(id=0, plate="鲁C6K888", org_id=b, device_id="13900000003"))
    services = ApiServices(store=store, hub=LiveHub(),
                           alarms=AlarmServices(store=alarms, feed=feed, commands=commands))
    app = create_app(services)
    pw = PasswordHasher().hash("pw")
    tokens = {}
    for name, role, org in (("op", "operator", a), ("viewer", "viewer", a), ("b_op", "operator", b)):
        uid = await store.add_user(name, pw, role, org)
        tokens[name] = await issue_token(store, uid, "t")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://icv.test")
    try:
        yield Stack(store, alarms, commands, feed, client, port, vehicle, offline, other, tokens)
    finally:
        await client.aclose()
        commands.stop()
        expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await expiry
        await gw.stop()
        await log.close()
        await store.close()


@pytest.fixture
async def terminal(stack: Stack) -> AsyncIterator[ScriptedTerminal]:
    # The registry knows the terminal's plate; "registered" admission checks it.
    t = scripted(stack.port, PHONE, plate="鲁C12345", plate_colour=2)
    t.start()
    try:
        await until(lambda: t.state == ONLINE, "the terminal online")
        yield t
    finally:
        await t.stop()


async def test_text_reaches_the_terminal_and_its_answer_is_recorded(stack: Stack, terminal: ScriptedTerminal) -> None:
    sub = stack.feed.subscribe(AlarmSubscription())
    r = await stack.send({"msg_id": "0x8300", "body": {"flag": ["display", "tts", "urgent"], "text": "请减速慢行"}})
    assert r.status_code == 201, r.text
    cmd = r.json()
    assert cmd["state"] == "sent" and cmd["msg_id"] == "0x8300" and cmd["user"] == "op"
    await until(lambda: terminal.of(0x8300) != [], "the text at the terminal")
    (msg,) = terminal.of(0x8300)
    assert isinstance(msg.body, jt808.Text)
    assert msg.body.text == "请减速慢行" and msg.body.flag == 0b1101  # urgent, display, tts
    assert msg.seq == cmd["seq"]  # the platform's serial number, which the 0x0001 answer names
    while (c := await stack.state_of(cmd["id"]))["state"] == "sent":
        await asyncio.sleep(0.01)
    assert c["state"] == "acknowledged" and c["result"] == 0
    assert c["answer"] == {"msg_id": "0x0001", "reply_seq": msg.seq, "reply_msg_id": 0x8300, "result": 0,
                           "result_name": "success"}
    assert c["answered_at"] is not None
    states = [m["command"]["state"] for m in _drain(sub) if m["type"] == "command"]
    assert states == ["sent", "acknowledged"]


async def test_an_answer_faster_than_the_sent_write_still_finds_the_command_sent(
        stack: Stack, terminal: ScriptedTerminal, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PostgreSQL the "sent" write and the answer's go on different connections of a
    pool, and a quick terminal's answer can be written first: the command must still end
    acknowledged with its serial number, announced sent before acknowledged."""
    real = stack.alarms.command_sent

    async def late(command_id: int, seq: int, at: datetime) -> None:
        await until(lambda: terminal.of(0x8300) != [], "the terminal has the text (its answer is on the way)")
        await asyncio.sleep(0.2)
        await real(command_id, seq, at)

    monkeypatch.setattr(stack.alarms, "command_sent", late)
    sub = stack.feed.subscribe(AlarmSubscription())
    r = await stack.send({"msg_id": "0x8300", "body": {"flag": ["display"], "text": "请靠边停车"}})
    assert r.status_code == 201, r.text
    cmd = r.json()
    while (c := await stack.state_of(cmd["id"]))["state"] == "sent":
        await asyncio.sleep(0.01)
    (msg,) = terminal.of(0x8300)
    assert (c["state"], c["seq"], c["answer"]["reply_seq"]) == ("acknowledged", msg.seq, msg.seq)
    assert c["sent_at"] is not None
    assert [m["command"]["state"] for m in _drain(sub) if m["type"] == "command"] == ["sent", "acknowledged"]


async def test_a_request_the_platform_sends_for_an_alarm_is_tracked(stack: Stack, terminal: ScriptedTerminal) -> None:
    """0x9208 (asking for an active-safety alarm's files) is sent by the platform on its
    own: recorded as the user ``platform``, under the alarm number it names, and
    followed to the terminal's answer like a person's command."""
    sub = stack.feed.subscribe(AlarmSubscription())
    ident = identification("0000001", datetime(2025, 3, 1, 2, 0, tzinfo=UTC), 1, 2)
    req = request_for(PHONE, ident, AttachmentRequestSettings("127.0.0.1", 7000, 0, AlarmNumbers(b"k")))
    seq = await stack.commands.send_for_alarm(PHONE, 0x9208, encode_request_body(req), describe(req),
                                              req.alarm_number)
    assert seq is not None
    await until(lambda: terminal.of(0x9208) != [], "the request at the terminal")
    (msg,) = terminal.of(0x9208)
    assert msg.seq == seq and msg.body.alarm_number == req.alarm_number
    (cmd,) = await stack.alarms.list_commands(Scope.all(), stack.vehicle)
    while (c := await stack.state_of(cmd.id))["state"] == "sent":
        await asyncio.sleep(0.01)
    assert (c["msg_id"], c["user"], c["alarm_ref"], c["seq"]) == ("0x9208", "platform", req.alarm_number, seq)
    assert c["state"] == "acknowledged" and c["answer"]["reply_msg_id"] == 0x9208
    assert c["body"]["alarm_number"] == req.alarm_number and c["body"]["tcp_port"] == 7000
    assert [m["command"]["state"] for m in _drain(sub) if m["type"] == "command"] == ["sent", "acknowledged"]
    # A terminal that is not connected: nothing sent, nothing recorded (the requester retries).
    assert await stack.commands.send_for_alarm(OTHER, 0x9208, encode_request_body(req), describe(req),
                                               req.alarm_number) is None
    assert await stack.alarms.list_commands(Scope.all(), stack.offline_vehicle) == []


def _drain(sub: AlarmSubscription) -> list[dict[str, Any]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


@pytest.mark.parametrize(("result", "state"), [(1, "failed"), (2, "failed"), (3, "not_supported")])
async def test_the_terminals_verdict(stack: Stack, terminal: ScriptedTerminal, result: int, state: str) -> None:
    terminal.result = result
    r = await stack.send({"msg_id": "0x8202", "body": {"interval_s": 10, "duration_s": 600}})
    assert r.status_code == 201, r.text
    while (c := await stack.state_of(r.json()["id"]))["state"] == "sent":
        await asyncio.sleep(0.01)
    assert c["state"] == state and c["result"] == result
    (msg,) = terminal.of(0x8202)
    assert (msg.body.interval_s, msg.body.duration_s) == (10, 600)


async def test_no_answer_times_out(stack: Stack, terminal: ScriptedTerminal) -> None:
    terminal.silent = True
    r = await stack.send({"msg_id": "0x8103", "body": {"params": [{"name": "max_speed_kmh", "value": 80}]},
                          "timeout_s": 1})
    assert r.status_code == 201, r.text
    while (c := await stack.state_of(r.json()["id"]))["state"] == "sent":
        await asyncio.sleep(0.02)
    assert c["state"] == "timed_out" and c["answer"] is None
    (msg,) = terminal.of(0x8103)
    assert [(p.param_id, p.value) for p in msg.body.params] == [(0x55, 80)]


async def test_position_query_is_answered_with_0x0201(stack: Stack, terminal: ScriptedTerminal) -> None:
    r = await stack.send({"msg_id": "0x8201"})
    assert r.status_code == 201, r.text
    while (c := await stack.state_of(r.json()["id"]))["state"] == "sent":
        await asyncio.sleep(0.01)
    assert c["state"] == "acknowledged" and c["answer"]["msg_id"] == "0x0201"
    assert c["answer"]["location"]["lat"] == pytest.approx(36.81)


@pytest.mark.parametrize("body", [
    {"msg_id": "0x8600", "body": {"mode": 0, "areas": [{"area_id": 7, "attr": ["speed_limited"],
                                                        "centre_lat": 36.8, "centre_lon": 118.0, "radius_m": 500,
                                                        "max_speed_kmh": 60, "overspeed_duration_s": 10}]}},
    {"msg_id": "0x8602", "body": {"areas": [{"area_id": 8, "attr": 0, "top_left_lat": 36.9, "top_left_lon": 118.0,
                                             "bottom_right_lat": 36.8, "bottom_right_lon": 118.1}]}},
    {"msg_id": "0x8604", "body": {"area_id": 9, "attr": 0, "vertices": [
        {"lat": 36.8, "lon": 118.0}, {"lat": 36.9, "lon": 118.0}, {"lat": 36.9, "lon": 118.1}]}},
    {"msg_id": "0x8606", "body": {"route_id": 3, "attr": 0, "points": [
        {"point_id": 1, "segment_id": 1, "lat": 36.8, "lon": 118.0, "width_m": 50, "attr": 0},
        {"point_id": 2, "segment_id": 2, "lat": 36.9, "lon": 118.1, "width_m": 50, "attr": 0}]}},
    {"msg_id": "0x8601", "body": {"ids": [7]}},
    {"msg_id": "0x8603", "body": {"ids": []}},
    {"msg_id": "0x8605", "body": {"ids": [9]}},
    {"msg_id": "0x8607", "body": {"ids": [3]}},
    {"msg_id": 0x8801, "body": {"channel": 1, "command": 1, "interval_s": 0, "save": 0, "resolution": 1,
                                "quality": 5, "brightness": 128, "contrast": 64, "saturation": 64, "chroma": 128}},
])
async def test_areas_routes_and_snapshot_reach_the_terminal(stack: Stack, terminal: ScriptedTerminal,
                                                            body: dict[str, Any]) -> None:
    r = await stack.send(body)
    assert r.status_code == 201, r.text
    mid = body["msg_id"] if isinstance(body["msg_id"], int) else int(body["msg_id"], 16)
    await until(lambda: terminal.of(mid) != [], f"{mid:#06x} at the terminal")
    (msg,) = terminal.of(mid)
    assert msg.seq == r.json()["seq"]
    # The terminal got what the API was given (the codec's JSON round trip).
    sent = msg.to_json()["body"]
    for k, v in (body["body"] or {}).items():
        if k not in ("attr", "areas", "points", "vertices"):
            assert sent[k] == v
    while (c := await stack.state_of(r.json()["id"]))["state"] == "sent":
        await asyncio.sleep(0.01)
    assert c["state"] == "acknowledged"


async def test_offline_terminal_is_a_clear_error(stack: Stack, terminal: ScriptedTerminal) -> None:
    r = await stack.send({"msg_id": "0x8300", "body": {"flag": 8, "text": "x"}}, vehicle=stack.offline_vehicle)
    assert r.status_code == 409 and "not connected" in r.json()["detail"]
    assert await stack.alarms.list_commands(_all(), stack.offline_vehicle) == []


def _all() -> Any:
    from icvcloud.store.base import Scope

    return Scope.all()


@pytest.mark.parametrize(("body", "fragment"), [
    ({"msg_id": "0x8100", "body": {}}, "not a command"),
    ({"msg_id": "0x8300", "body": {"flag": 8}}, "missing field 'text'"),
    ({"msg_id": "0x8300", "body": {"flag": 999, "text": "x"}}, "bad body"),
    ({"msg_id": "0x8201", "body": {"x": 1}}, "has no body"),
    ({"msg_id": "0x8300", "body": {"flag": 8, "text": "长" * 600}}, "at most 1023"),
])
async def test_bad_commands_are_422_and_not_sent(stack: Stack, terminal: ScriptedTerminal, body: dict[str, Any],
                                                 fragment: str) -> None:
    r = await stack.send(body)
    assert r.status_code == 422 and fragment in r.json()["detail"], r.text
    assert await stack.alarms.list_commands(_all(), stack.vehicle) == []


@pytest.mark.parametrize("body", [{"msg_id": "x"}, {"msg_id": 70000}, {"msg_id": "0x8300", "extra": 1},
                                  {"msg_id": "0x8300", "timeout_s": 0}])
async def test_malformed_requests_are_422(stack: Stack, body: dict[str, Any]) -> None:
    r = await stack.send(body)
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


async def test_roles_and_scope(stack: Stack, terminal: ScriptedTerminal) -> None:
    text = {"msg_id": "0x8300", "body": {"flag": 8, "text": "x"}}
    assert (await stack.send(text, user="viewer")).status_code == 403
    assert (await stack.send(text, user="b_op")).status_code == 404
    assert (await stack.send(text, user="op", vehicle=stack.other_org_vehicle)).status_code == 404
    r = await stack.send(text)
    assert r.status_code == 201
    cid = r.json()["id"]
    got = await stack.client.get(f"/api/v1/commands/{cid}", headers=stack.auth("b_op"))
    assert got.status_code == 404
    listing = await stack.client.get(f"/api/v1/vehicles/{stack.vehicle}/commands", headers=stack.auth("viewer"))
    assert [c["id"] for c in listing.json()["items"]] == [cid]


async def test_an_answer_after_a_restart_is_matched_from_the_store(stack: Stack, terminal: ScriptedTerminal) -> None:
    terminal.silent = True
    r = await stack.send({"msg_id": "0x8300", "body": {"flag": 8, "text": "x"}})
    cmd = r.json()
    stack.commands._waiting.clear()  # what a restarted process knows
    terminal.silent = False
    await until(lambda: terminal.of(0x8300) != [], "the text at the terminal")
    terminal._send(0x0001, jt808.TerminalReply(reply_seq=cmd["seq"], reply_msg_id=0x8300, result=0))
    while (c := await stack.state_of(cmd["id"]))["state"] == "sent":
        await asyncio.sleep(0.01)
    assert c["state"] == "acknowledged"
