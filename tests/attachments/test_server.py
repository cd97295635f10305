"""The attachment server against hand-driven connections over real sockets: refused
names, unknown alarm numbers, malformed stream frames, resuming after a dropped
connection, limits, and the sink's view."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.gateways.jt808.attachment_request import AlarmNumbers
from icvcloud.gateways.jt808.attachments import (
    STATE_FILE,
    AttachmentServer,
    AttachmentServerSettings,
    _Upload,
    safe_file_name,
)
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import (
    AlarmIdentification,
    AttachmentEntry,
    AttachmentInfo,
    FileInfo,
    FileUploadComplete,
)
from icvcloud.protocols.jt808.attachment_stream import MAGIC, encode_data_frame
from tests.terminals import Terminal, until

from .conftest import SECRET, Bare, RecordingSink

PHONE = "13900000009"
IDENT = AlarmIdentification(terminal_id="0000009", time=datetime(2025, 3, 1, 9, 30, 0, tzinfo=jt808.CST), seq=0,
                            attachment_count=2)
NUMBERS = AlarmNumbers(SECRET)
ALARM_NO = NUMBERS.assign(PHONE, IDENT)


class Client(Terminal):
    """A terminal's side of the attachment connection, driven step by step."""

    def __init__(self, port: int, phone: str = PHONE) -> None:
        super().__init__(phone, timeout=10.0)
        self.port = port

    async def __aenter__(self) -> Client:
        await self.connect(self.port)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    async def info(self, files: dict[str, int], alarm_no: str = ALARM_NO, ident: AlarmIdentification = IDENT
                   ) -> int:
        reply = await self.ask(0x1210, AttachmentInfo(
            terminal_id=ident.terminal_id, identification=ident, alarm_number=alarm_no, info_type=0,
            attachments=[AttachmentEntry(name=n, size_bytes=s) for n, s in files.items()]))
        assert reply.msg_id == 0x8001 and reply.body.reply_msg_id == 0x1210
        return int(reply.body.result)

    async def file_info(self, name: str, size: int, file_type: int = 0) -> int:
        reply = await self.ask(0x1211, FileInfo(name=name, file_type=file_type, size_bytes=size))
        assert reply.msg_id == 0x8001 and reply.body.reply_msg_id == 0x1211
        return int(reply.body.result)

    def data(self, name: str, content: bytes, start: int = 0, end: int | None = None, chunk: int = 1000) -> None:
        end = len(content) if end is None else end
        for off in range(start, end, chunk):
            self.write_raw(encode_data_frame(name, off, content[off : min(off + chunk, end)]))

    async def done(self, name: str, size: int, file_type: int = 0) -> jt808.Message:
        return await self.ask(0x1212, FileUploadComplete(name=name, file_type=file_type, size_bytes=size))


PIC = bytes(range(256)) * 20 + b"\x7e\x7d" + MAGIC  # 5126 bytes, with the bytes that matter
VID = b"\x00\x00\x00\x20ftypisom" + bytes(9000)


async def upload_clean(port: int, ident: AlarmIdentification = IDENT) -> None:
    async with Client(port) as c:
        assert await c.info({"a.jpg": len(PIC)}, NUMBERS.assign(PHONE, ident), ident) == 0
        assert await c.file_info("a.jpg", len(PIC)) == 0
        c.data("a.jpg", PIC)
        reply = await c.done("a.jpg", len(PIC))
        assert reply.msg_id == 0x9212 and reply.body.result == 0 and reply.body.missing == []


def test_safe_file_names() -> None:
    for ok in ("00_64_6401_0_abc.jpg", "报警图片.jpg", "a", "x.y.z"):
        assert safe_file_name(ok), ok
    for bad in ("", ".", "..", "../a.jpg", "a/../../b", "/etc/passwd", "..\\x", "C:x", "a\x00b", ".hidden",
                " a.jpg", "a.jpg ", "a.", "a\nb", "x" * 256):
        assert not safe_file_name(bad), bad


async def test_upload_with_resend_and_sink(bare: Bare) -> None:
    async with Client(bare.port) as c:
        assert await c.info({"a.jpg": len(PIC), "b.mp4": len(VID)}) == 0
        assert await c.file_info("a.jpg", len(PIC), 0) == 0
        c.data("a.jpg", PIC, 0, 1000)
        c.data("a.jpg", PIC, 3000)  # 1000..3000 lost
        reply = await c.done("a.jpg", len(PIC))
        assert reply.msg_id == 0x9212 and reply.body.result == 1
        assert [(r.offset, r.length) for r in reply.body.missing] == [(1000, 2000)]
        c.data("a.jpg", PIC, 1000, 3000)
        reply = await c.done("a.jpg", len(PIC))
        assert reply.body.result == 0 and reply.body.name == "a.jpg"
        assert bare.sink.uploads == []  # b.mp4 still to come
        assert await c.file_info("b.mp4", len(VID), 2) == 0
        c.data("b.mp4", VID, chunk=4096)
        assert (await c.done("b.mp4", len(VID), 2)).body.result == 0
    folder = bare.root / ALARM_NO
    assert (folder / "a.jpg").read_bytes() == PIC and (folder / "b.mp4").read_bytes() == VID
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.mp4"]  # no .part left
    assert [(f[0], f[1], f[2], f[3], f[4]) for f in bare.sink.files] == [
        (ALARM_NO, PHONE, "a.jpg", 0, len(PIC)), (ALARM_NO, PHONE, "b.mp4", 2, len(VID))]
    await until(lambda: len(bare.sink.uploads) == 1, "the upload recorded")
    [(no, dev, ident, files)] = bare.sink.uploads
    assert (no, dev, ident) == (ALARM_NO, PHONE, IDENT)
    assert [(f.name, f.size, f.path) for f in files] == [("a.jpg", len(PIC), folder / "a.jpg"),
                                                           ("b.mp4", len(VID), folder / "b.mp4")]


async def test_path_traversal_names_are_refused(bare: Bare, tmp_path: Path) -> None:
    evil = "../../evil.jpg"
    async with Client(bare.port) as c:
        assert await c.info({evil: 4, "ok.jpg": 4}) == 0  # the good file is still accepted
        assert await c.file_info(evil, 4) == 1
        assert await c.file_info("../x/../../../etc/cron.d/x", 4) == 1
        c.data(evil, b"EVIL")
        reply = await c.done(evil, 4)
        assert reply.msg_id == 0x8001 and reply.body.result == 1  # nothing to re-send into
        assert await c.file_info("ok.jpg", 4) == 0
        c.data("ok.jpg", b"good")
        assert (await c.done("ok.jpg", 4)).body.result == 0
    assert not any("evil" in p.name for p in tmp_path.rglob("*"))
    assert (bare.root / ALARM_NO / "ok.jpg").read_bytes() == b"good"
    f = bare.server.stats.frames
    assert f["bad_file_name"] == 3 and f["data_unknown_file"] == 1 and f["complete_unknown_file"] == 1


async def test_only_traversal_names_fail_the_list(bare: Bare) -> None:
    async with Client(bare.port) as c:
        assert await c.info({"../a": 1, "/b": 1}) == 1


async def test_alarm_numbers_the_platform_did_not_issue_are_refused(bare: Bare) -> None:
    async with Client(bare.port) as c:
        assert await c.info({"a.jpg": 4}, alarm_no="0" * 32) == 1
        assert await c.info({"a.jpg": 4}, alarm_no="../../etc") == 2  # not even well-formed
        assert await c.file_info("a.jpg", 4) == 1  # no accepted list on this connection
    async with Client(bare.port, phone="13900000010") as c:  # another terminal's number
        assert await c.info({"a.jpg": 4}) == 1
    assert list(bare.root.iterdir()) == []
    assert bare.server.stats.frames["unknown_alarm_number"] == 2
    assert bare.server.stats.frames["bad_alarm_number"] == 1


async def test_malformed_stream_frames_cost_only_their_connection(bare: Bare) -> None:
    async with Client(bare.port) as bad:
        assert await bad.info({"a.jpg": len(PIC)}) == 0
        # A data frame claiming 4 GiB: dropped as data_too_long, the stream resynchronises.
        head = bytearray(encode_data_frame("a.jpg", 0, b""))
        head[58:62] = b"\xff\xff\xff\xff"
        bad.write_raw(bytes(head))
        # A data frame past the announced size, and one for a file nobody announced.
        bad.write_raw(encode_data_frame("a.jpg", len(PIC) - 1, b"xy"))
        bad.write_raw(encode_data_frame("zzz.jpg", 0, b"xy"))
        # A frame with a wrong check code: no trustworthy header, so no answer.
        frame = bytearray(jt808.encode(0x1211, FileInfo(name="a.jpg", file_type=0, size_bytes=len(PIC)),
                                       phone=PHONE, seq=40))
        frame[-2] ^= 0x55
        bad.write_raw(bytes(frame))
        # A 0x1211 whose name overruns its body: the header is sound, so "message error".
        bad.write_raw(jt808.encode(0x1211, b"\x10abc", phone=PHONE, seq=41))
        await bad.drain()
        reply = await bad.recv()
        assert (reply.msg_id, reply.body.reply_seq, reply.body.result) == (0x8001, 41, 2)
        # Meanwhile another terminal uploads undisturbed.
        await upload_clean(bare.port, AlarmIdentification(terminal_id="0000009", time=IDENT.time, seq=1,
                                                          attachment_count=1))
        f = bare.server.stats.frames
        await until(lambda: f["data_too_long"] == 1 and f["data_out_of_range"] == 1, "outcomes counted")
        assert f["data_unknown_file"] == 1 and f["bad_check_code"] == 1 and f["truncated"] == 1
        # The bad connection still works for good frames (its errors are below the limit) …
        assert await bad.file_info("a.jpg", len(PIC)) == 0
        # … until garbage exceeds it: then it is closed.
        for _ in range(10):
            bad.write_raw(b"\x01\x02\x03\x7e\x05\x06\x7e")
        await bad.drain()
        with pytest.raises(ConnectionError):
            while True:
                await bad.recv()
    assert f["too_many_errors"] == 1 and f["file_complete"] == 1
    await upload_clean(bare.port)  # and the server keeps serving
    assert f["file_complete"] == 2
    await until(lambda: bare.server.stats.connections == 0, "connections closed")


async def _dropped_after(bare: Bare, end: int) -> None:
    """A connection announces b.mp4, sends its first ``end`` bytes (1000 a frame) and is gone."""
    async with Client(bare.port) as c:
        assert await c.info({"b.mp4": len(VID)}) == 0
        c.data("b.mp4", VID, 0, end)
        await c.drain()
        await until(lambda: bare.server.stats.frames["data"] == -(-end // 1000), "the first part written")
    await until(lambda: bare.server.stats.connections == 0, "connection gone")


async def test_resume_after_a_dropped_connection(bare: Bare) -> None:
    await _dropped_after(bare, 4000)
    async with Client(bare.port) as c:
        assert await c.info({"b.mp4": len(VID)}) == 0
        reply = await c.done("b.mp4", len(VID), 2)
        assert [(r.offset, r.length) for r in reply.body.missing] == [(4000, len(VID) - 4000)]
        c.data("b.mp4", VID, 4000)
        assert (await c.done("b.mp4", len(VID), 2)).body.result == 0
    assert (bare.root / ALARM_NO / "b.mp4").read_bytes() == VID


@contextlib.asynccontextmanager
async def second_server(bare: Bare) -> AsyncIterator[AttachmentServer]:
    """Another gateway's attachment server on the same directory (a shared mount)."""
    other = AttachmentServer(AttachmentServerSettings(root=bare.root, numbers=bare.numbers, max_file_bytes=1 << 20),
                             bare.sink)
    await other.start("127.0.0.1", 0)
    try:
        yield other
    finally:
        await other.stop()


async def test_an_upload_resumes_on_another_gateway(bare: Bare) -> None:
    """The terminal reconnects through the load balancer to another gateway: a.jpg (done
    at the first) is not asked for again, b.mp4 only from where the first left off."""
    async with Client(bare.port) as c:
        assert await c.info({"a.jpg": len(PIC), "b.mp4": len(VID)}) == 0
        c.data("a.jpg", PIC)
        assert (await c.done("a.jpg", len(PIC))).body.result == 0
        c.data("b.mp4", VID, 0, 4000)
        await c.drain()
        await until(lambda: bare.server.stats.frames["data"] == 10, "the first part written")
    await until((bare.root / ALARM_NO / STATE_FILE).exists, "the upload's state saved")
    async with second_server(bare) as other, Client(other.port) as c:
        assert await c.info({"a.jpg": len(PIC), "b.mp4": len(VID)}) == 0
        assert other.stats.frames["upload_resumed"] == 1
        assert (await c.done("a.jpg", len(PIC))).body.missing == []
        reply = await c.done("b.mp4", len(VID), 2)
        assert [(r.offset, r.length) for r in reply.body.missing] == [(4000, len(VID) - 4000)]
        c.data("b.mp4", VID, 4000)
        assert (await c.done("b.mp4", len(VID), 2)).body.result == 0
        await until(lambda: len(bare.sink.uploads) == 1, "the upload recorded by the second")
    folder = bare.root / ALARM_NO
    assert (folder / "a.jpg").read_bytes() == PIC and (folder / "b.mp4").read_bytes() == VID
    assert [f[2] for f in bare.sink.files] == ["a.jpg", "b.mp4"]  # each recorded once
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.mp4"]  # state and parts gone


async def test_a_saved_state_never_claims_what_the_disk_lacks(bare: Bare) -> None:
    """Ranges beyond the partial file, a partial file gone, a 'complete' file that is not
    there whole, or a damaged state file: the terminal is asked for those bytes again."""
    await _dropped_after(bare, 4000)
    folder = bare.root / ALARM_NO
    state = folder / STATE_FILE
    await until(state.exists, "the upload's state saved")
    saved = json.loads(state.read_text())
    assert saved["files"] == {"b.mp4": {"size": len(VID), "ranges": [[0, 4000]]}}
    for files, part_there, expect in [
        ({"b.mp4": {"size": len(VID), "ranges": [[0, 8000]]}}, True, [(0, len(VID))]),  # beyond the disk
        ({"b.mp4": {"size": len(VID), "ranges": [[0, 2000], [3000, 8000]]}}, True, [(2000, len(VID) - 2000)]),
        ({"b.mp4": {"size": len(VID), "ranges": [[0, 4000]]}}, False, [(0, len(VID))]),
        ({"b.mp4": {"size": len(VID), "complete": True}}, True, [(0, len(VID))]),
        ({"b.mp4": {"size": len(VID) + 1, "ranges": [[0, 4000]]}}, True, [(0, len(VID))]),
        ({"b.mp4": {"size": len(VID), "ranges": [[-5, 4000], [3000, "x"], [100]]}}, True, [(0, len(VID))]),
        ("not an object", True, [(0, len(VID))]),
    ]:
        state.write_text(json.dumps({"files": files}) if isinstance(files, dict) else "{" + files)
        part = folder / ".b.mp4.part"
        if not part_there:
            part.rename(folder / "aside")
        async with second_server(bare) as other, Client(other.port) as c:
            assert await c.info({"b.mp4": len(VID)}) == 0
            reply = await c.done("b.mp4", len(VID), 2)
            assert [(r.offset, r.length) for r in reply.body.missing] == expect, files
        if not part_there:
            (folder / "aside").rename(part)


_JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-10, 20_000) | st.text(max_size=3),
                        lambda c: st.lists(c, max_size=4) | st.dictionaries(
                            st.sampled_from(["size", "ranges", "complete"]), c, max_size=3), max_leaves=12)


@given(state=_JSONISH | st.fixed_dictionaries({"size": st.just(9000), "ranges": st.lists(
    st.lists(st.integers(-10, 20_000), min_size=2, max_size=2), max_size=6)}),
       part_bytes=st.none() | st.integers(0, 20_000), file_bytes=st.none() | st.integers(0, 20_000))
def test_any_saved_state_adds_only_ranges_the_disk_holds(state: Any, part_bytes: int | None,
                                                          file_bytes: int | None) -> None:
    up = _Upload(ALARM_NO, PHONE, IDENT, Path("/nonexistent"))
    f = up.add("b.mp4", 9000)
    f.take_over(state, part_bytes, file_bytes)
    if f.complete:
        assert file_bytes == 9000 and not f.starts
    else:
        assert all(0 <= a < b <= min(9000, part_bytes or 0) for a, b in zip(f.starts, f.ends, strict=True))
        assert all(b < a2 for b, a2 in zip(f.ends, f.starts[1:], strict=False))  # sorted, disjoint, merged


async def test_a_partial_file_taken_by_another_gateway_is_not_finished_with_zeros(bare: Bare) -> None:
    """This gateway remembers bytes 0–4000 of b.mp4, but another one finished or restarted
    that file meanwhile (its partial file is gone): the remembered bytes are asked for
    again, never stored as zeros."""
    await _dropped_after(bare, 4000)
    (bare.root / ALARM_NO / ".b.mp4.part").unlink()
    async with Client(bare.port) as c:
        assert await c.info({"b.mp4": len(VID)}) == 0
        c.data("b.mp4", VID, 4000)
        reply = await c.done("b.mp4", len(VID), 2)
        assert [(r.offset, r.length) for r in reply.body.missing] == [(0, 4000)]
        c.data("b.mp4", VID, 0, 4000)
        assert (await c.done("b.mp4", len(VID), 2)).body.result == 0
    assert (bare.root / ALARM_NO / "b.mp4").read_bytes() == VID


async def test_unfinished_uploads_expire(bare: Bare) -> None:
    await _dropped_after(bare, 1000)
    part = bare.root / ALARM_NO / ".b.mp4.part"
    assert part.exists()
    assert bare.server.expire(time.monotonic()) == 0  # not idle long enough
    assert bare.server.expire(time.monotonic() + bare.server.settings.upload_ttl_s + 1) == 1
    assert not part.exists() and ALARM_NO not in bare.server.uploads


async def test_sizes_are_verified(bare: Bare) -> None:
    async with Client(bare.port) as c:
        assert await c.info({"a.jpg": 10}) == 0
        assert await c.file_info("a.jpg", 8) == 0  # 0x1211 is newer than the list: 8 bytes
        c.data("a.jpg", b"0123456789")  # 10 bytes do not fit 8
        reply = await c.done("a.jpg", 8)
        assert reply.body.result == 1 and [(r.offset, r.length) for r in reply.body.missing] == [(0, 8)]
        c.data("a.jpg", b"01234567")
        reply = await c.done("a.jpg", 6)  # and a completion that disagrees starts the file over
        assert reply.body.result == 1 and [(r.offset, r.length) for r in reply.body.missing] == [(0, 6)]
        c.data("a.jpg", b"abcdef")
        assert (await c.done("a.jpg", 6)).body.result == 0
        assert await c.info({"big.mp4": (1 << 20) + 1}) == 1  # over max_file_bytes
    assert (bare.root / ALARM_NO / "a.jpg").read_bytes() == b"abcdef"
    f = bare.server.stats.frames
    assert f["data_out_of_range"] == 1 and f["size_mismatch"] == 1 and f["file_too_large"] == 1


async def test_a_failing_sink_makes_the_terminal_send_again(bare: Bare) -> None:
    bare.sink.fail_files = 1
    async with Client(bare.port) as c:
        assert await c.info({"a.jpg": 4}) == 0
        c.data("a.jpg", b"abcd")
        reply = await c.done("a.jpg", 4)
        assert reply.body.result == 1 and [(r.offset, r.length) for r in reply.body.missing] == [(0, 4)]
        c.data("a.jpg", b"abcd")
        assert (await c.done("a.jpg", 4)).body.result == 0
    await until(lambda: len(bare.sink.uploads) == 1, "the upload recorded")
    assert [f[2] for f in bare.sink.files] == ["a.jpg"]
    assert bare.server.stats.frames["sink_failed"] == 1


async def test_long_lists_arrive_sub_packaged(tmp_path: Path) -> None:
    sink = RecordingSink()
    server = AttachmentServer(AttachmentServerSettings(root=tmp_path, numbers=NUMBERS, max_files=40), sink)
    await server.start("127.0.0.1", 0)
    try:
        files = {f"00_64_6401_{i}_{ALARM_NO}.jpg": 3 for i in range(30)}  # ~1,900 bytes of list
        entries = [AttachmentEntry(name=n, size_bytes=s) for n, s in files.items()]
        info = AttachmentInfo(terminal_id=IDENT.terminal_id, identification=IDENT, alarm_number=ALARM_NO,
                              info_type=0, attachments=entries)
        frames = jt808.encode_packets(0x1210, info, phone=PHONE, first_seq=0)
        assert len(frames) == 2
        async with Client(server.port) as c:
            c.seq = 2
            c.write_raw(b"".join(frames))
            acks = [await c.recv(), await c.recv()]
            assert [(a.body.reply_seq, a.body.result) for a in acks] == [(0, 0), (1, 0)]
            for n in files:
                c.data(n, b"abc")
                assert (await c.done(n, 3)).body.result == 0
        await until(lambda: len(sink.uploads) == 1, "the upload recorded")
        assert len(sink.files) == 30
    finally:
        await server.stop()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=200),
                          st.sampled_from([b"\x7e", MAGIC, encode_data_frame("a.jpg", 0, b"zz")[:70]])),
                max_size=12))
def test_fuzzed_connections_never_stop_the_server(tmp_path: Path, chunks: list[bytes]) -> None:
    async def scenario() -> None:
        server = AttachmentServer(AttachmentServerSettings(root=tmp_path / "fz", numbers=NUMBERS, max_errors=4,
                                                           idle_timeout_s=5), RecordingSink())
        await server.start("127.0.0.1", 0)
        try:
            _, w = await asyncio.open_connection("127.0.0.1", server.port)
            for ch in chunks:
                w.write(ch)
            await w.drain()
            await upload_clean(server.port)
            w.close()
            assert server.stats.frames["internal_error"] == 0
        finally:
            await server.stop()

    asyncio.run(scenario())
