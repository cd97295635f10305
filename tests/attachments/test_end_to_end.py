"""Attachment retrieval end to end over real sockets: a virtual terminal reports an
ADAS alarm to the embedded platform, the platform's requester reads it from the
durable log and sends 0x9208, the terminal uploads its files to the attachment
server, which asks again (0x9212) for the range the terminal held back."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

from icvcloud.app.platform import Platform
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.sim.attachments import CHUNK, ActiveSafetyTerminal, adas_alarm, identification
from icvcloud.sim.terminal import ONLINE, VirtualTerminal
from tests.terminals import Source, until


def _terminal(p: Platform, phone: str, version: int = jt808.V2013) -> VirtualTerminal:
    # Reports and heartbeats only when asked: the test drives what is sent.
    source = Source(speed_kmh=72.0, mileage_km=1234.5)
    return VirtualTerminal("127.0.0.1", p.jt808_port, phone, source, version=version, interval_s=3600.0,
                           heartbeat_s=3600.0, clock_s=0.05, seed=1)


async def test_alarm_to_files_on_disk_with_a_resent_range(platform: Platform) -> None:
    t = _terminal(platform, "13900000001")
    # The picture spans two stream frames; the first is held back on the first pass.
    unit = ActiveSafetyTerminal(t, jpeg_bytes=CHUNK + 5_000, mp4_bytes=3 * CHUNK + 123, withhold={0: {0}})
    t.start()
    try:
        await until(lambda: t.state == ONLINE, "terminal online")
        ident = unit.raise_alarm(0x64, alarm_type=0x01, attachments=2)
        await until(lambda: bool(unit.results), "the upload to finish")
        await unit.wait()
    finally:
        await t.stop()

    assert len(unit.requests) == 1
    req = unit.requests[0]
    assert platform.attachments is not None and platform.attachments.numbers is not None
    # 0x9208 names the attachment server, the alarm as reported, and the platform's number for it.
    assert (req.server_ip, req.tcp_port) == ("127.0.0.1", platform.attachments.port)
    assert req.identification == ident
    assert req.alarm_number == platform.attachments.numbers.assign("13900000001", ident)
    assert len(req.alarm_number) == 32

    res = unit.results[0]
    assert res.complete, res.error
    jpg, mp4 = res.files
    assert jpg.resent == [(0, CHUNK)] and jpg.rounds == 2  # 0x9212 asked for exactly what was held back
    assert mp4.resent == [] and mp4.rounds == 1

    folder = platform.cfg.data_dir / "attachments" / req.alarm_number
    sent = unit.files[req.alarm_number]
    frames = platform.attachments.stats.frames
    await until(lambda: frames["upload_complete"] == 1, "the upload recorded")  # after the last 0x9212
    assert [f.name for f in sent] == [f"00_64_6401_0_{req.alarm_number}.jpg", f"02_64_6401_1_{req.alarm_number}.mp4"]
    for f in sent:
        assert (folder / f.name).read_bytes() == f.data  # byte-identical
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(f.name for f in sent), "upload.json"])
    index = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
    assert index["device_id"] == "13900000001" and index["alarm_no"] == req.alarm_number
    assert [(f["name"], f["file_type"], f["size"]) for f in index["files"]] == [
        (f.name, f.file_type, len(f.data)) for f in sent]

    assert frames["attachment_info"] == 1 and frames["file_info"] == 2
    assert frames["file_incomplete"] == 1 and frames["file_complete"] == 2 and frames["upload_complete"] == 1
    assert frames["data"] == 1 + 4 + 1  # picture: 1 of 2 then the re-sent one; video: 4
    await until(lambda: platform.attachments is not None and platform.attachments.stats.connections == 0,
                "the upload connection closed")

    # The terminal's 0x0001 answer to 0x9208 reached the log like any answer.
    answers = [jt808.decode(r.payload) for r in await platform.log.recent("13900000001")]
    assert any(m.msg_id == 0x0001 and m.body.reply_msg_id == 0x9208 and m.body.result == 0 for m in answers)


async def test_gdrta_terminal_and_two_alarms(platform: Platform) -> None:
    """A 粤标 (2019) terminal: 30-byte terminal ID, 40-byte identification; a DSM and
    an ADAS alarm get separate alarm numbers and folders."""
    t = _terminal(platform, "13900000002", version=jt808.V2019)
    unit = ActiveSafetyTerminal(t, jpeg_bytes=3_000, mp4_bytes=9_000)
    t.start()
    try:
        await until(lambda: t.state == ONLINE, "terminal online")
        dsm = unit.raise_alarm(0x65, alarm_type=0x02, attachments=2, seq=0)
        adas = unit.raise_alarm(0x64, alarm_type=0x03, attachments=1, seq=1)
        await until(lambda: len(unit.results) == 2, "two uploads")
        frames = platform.attachments.stats.frames if platform.attachments else None
        await until(lambda: frames is not None and frames["upload_complete"] == 2, "both uploads recorded")
    finally:
        await t.stop()
    assert len(dsm.reserved) == 2 and dsm.terminal_id == "ICVSIM13900000002"
    assert all(r.complete for r in unit.results), [r.error for r in unit.results]
    numbers = {r.identification.seq: r.alarm_number for r in unit.requests}
    assert len(set(numbers.values())) == 2
    root = platform.cfg.data_dir / "attachments"
    dsm_files = sorted(p.name for p in (root / numbers[0]).iterdir() if p.name != "upload.json")
    assert dsm_files == [f"00_65_6502_0_{numbers[0]}.jpg", f"02_65_6502_1_{numbers[0]}.mp4"]
    adas_files = [p.name for p in (root / numbers[1]).iterdir() if p.name != "upload.json"]
    assert adas_files == [f"00_64_6403_0_{numbers[1]}.jpg"]  # one attachment announced, one sent
    assert adas.attachment_count == 1


async def test_alarms_without_attachments_and_repeats_are_not_requested(platform: Platform) -> None:
    t = _terminal(platform, "13900000003")
    unit = ActiveSafetyTerminal(t, jpeg_bytes=1_000, mp4_bytes=1_000)
    t.start()
    try:
        await until(lambda: t.state == ONLINE, "terminal online")
        when = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)
        unit.raise_alarm(0x64, attachments=0, when=when)
        unit.raise_alarm(0x65, attachments=1, seq=3, when=when)
        unit.raise_alarm(0x65, attachments=1, seq=3, when=when)  # the same alarm reported again
        await until(lambda: t.acked == 3, "three reports acknowledged")
        await until(lambda: len(unit.results) == 1, "one upload")
        requester = platform.attachments.requester if platform.attachments else None
        assert requester is not None
        await until(lambda: requester.offset >= platform.log.last_offset(), "requester caught up")
    finally:
        await t.stop()
    assert len(unit.requests) == 1 and unit.requests[0].identification.seq == 3
    assert requester.requested == 1


async def test_request_waits_until_the_terminal_is_connected(platform: Platform) -> None:
    """The alarm reached the log through a gateway the terminal is no longer connected
    to (scale-out, or it dropped off): 0x9208 waits and goes out once it is back."""
    assert platform.attachments is not None and platform.attachments.requester is not None
    requester = platform.attachments.requester
    requester.retry_s = 0.05
    phone = "13900000004"
    ident = identification("0000004", datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC), 0, 2)
    loc = jt808.Location(alarm=0, status=3, lat=36.8, lon=118.05, altitude_m=40, speed_kmh=61.0, heading_deg=90,
                         time=ident.time, extras=ExtraItems({0x64: adas_alarm(ident, 7, 36.8, 118.05)}))
    frame = jt808.encode(0x0200, loc, phone=phone, seq=1)
    durable: list[BaseException | None] = []
    # A requester's first start looks at alarms from then on: append after it has started
    # (under load its task may not have run yet when the platform is up).
    await asyncio.wait_for(requester.started.wait(), 30)
    platform.log.append([("jt808", phone, time.time_ns() // 1000, frame)], durable.append)
    await until(lambda: bool(requester.pending), "the request waiting for the terminal")
    assert requester.requested == 0

    t = _terminal(platform, phone)
    unit = ActiveSafetyTerminal(t, jpeg_bytes=2_000, mp4_bytes=2_000)
    t.start()
    try:
        await until(lambda: bool(unit.results), "the upload once connected")
    finally:
        await t.stop()
    assert durable == [None]
    assert unit.requests[0].identification == ident
    assert unit.results[0].complete and not requester.pending and requester.requested == 1
