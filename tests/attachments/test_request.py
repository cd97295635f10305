"""0x9208 from reports: which alarms are asked for, the alarm number, the body's
variant, and the requester's cheap pre-filter over raw frames."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icvcloud.app.attachments import AttachmentRequester, _Pending, may_hold_safety_item
from icvcloud.gateways.jt808.attachment_request import (
    AlarmNumbers,
    AttachmentRequestSettings,
    attachment_requests,
    encode_request_body,
    identifications,
)
from icvcloud.gateways.jt808.records import positions_from
from icvcloud.log.sqlite import SqliteLog
from icvcloud.model import Position
from icvcloud.protocols import jt808
from icvcloud.protocols.jt808.active_safety import AlarmIdentification, AttachmentUploadRequest
from icvcloud.protocols.jt808.extras import ExtraItems
from icvcloud.protocols.jt808.wire import Ctx
from icvcloud.sim.attachments import adas_alarm, dsm_alarm, identification
from icvcloud.store.sqlite import SqliteStore
from tests.terminals import until

from ..protocols.jt808.strategies import extras_strategy

NUMBERS = AlarmNumbers(b"k")
SETTINGS = AttachmentRequestSettings("10.1.2.3", 6809, 0, NUMBERS)
T = datetime(2025, 3, 1, 8, 0, 5, tzinfo=jt808.CST)


def _position(items: dict[int, object], version: int = jt808.V2013, phone: str = "13900000001") -> Position:
    loc = jt808.Location(alarm=0, status=3, lat=36.8, lon=118.0, altitude_m=10, speed_kmh=60.0, heading_deg=1,
                         time=T, extras=ExtraItems(items))
    frame = jt808.encode(0x0200, loc, phone=phone, seq=5, version=version)
    [p] = positions_from(jt808.decode(frame), datetime.now(UTC))
    return p


def test_requests_only_for_alarms_with_attachments() -> None:
    with_files = identification("1234567", T, 0, 3)
    without = identification("1234567", T, 1, 0)
    p = _position({0x01: 12.5, 0x64: adas_alarm(with_files, 1, 36.8, 118.0), 0x65: dsm_alarm(without, 2, 36.8, 118.0)})
    assert [i for i, _ in identifications(p)] == [0x64]
    [(msg_id, body)] = attachment_requests(p, SETTINGS)
    assert msg_id == 0x9208
    assert (body.server_ip, body.tcp_port, body.udp_port) == ("10.1.2.3", 6809, 0)
    assert body.identification == with_files
    assert body.alarm_number == NUMBERS.assign("13900000001", with_files)
    assert attachment_requests(_position({0x01: 1.0}), SETTINGS) == []


def test_alarm_numbers_are_deterministic_unique_and_keyed() -> None:
    a = identification("1234567", T, 0, 2)
    n = NUMBERS.assign("13900000001", a)
    assert len(n) == 32 and all(c in "0123456789abcdef" for c in n)
    assert n == AlarmNumbers(b"k").assign("13900000001", a)  # a replayed report gets the same number
    others = {
        NUMBERS.assign("13900000002", a),
        NUMBERS.assign("13900000001", identification("1234567", T, 1, 2)),
        NUMBERS.assign("13900000001", identification("1234568", T, 0, 2)),
        NUMBERS.assign("13900000001", identification("1234567", T.replace(second=6), 0, 2)),
        AlarmNumbers(b"other").assign("13900000001", a),
    }
    assert n not in others and len(others) == 5
    # The attachment count is not part of the alarm's identity.
    assert NUMBERS.assign("13900000001", identification("1234567", T, 0, 1)) == n
    assert NUMBERS.verify("13900000001", a, n) and not NUMBERS.verify("13900000001", a, "0" * 32)
    odd = AlarmIdentification(terminal_id="1234567", time="000000000000", seq=0, attachment_count=1)
    assert len(NUMBERS.assign("1", odd)) == 32


def test_body_follows_the_identification_variant() -> None:
    """A 粤标 identification (40 bytes) stays 40 bytes even for a 2013-header terminal."""
    gd = identification("ICVSIM13900000001", T, 0, 2, version=jt808.V2019)
    req = AttachmentUploadRequest(server_ip="10.1.2.3", tcp_port=6809, udp_port=0, identification=gd,
                                  alarm_number="a" * 32)
    body = encode_request_body(req, jt808.V2013)
    assert len(body) == 1 + 8 + 2 + 2 + 40 + 32 + 16
    back = jt808.wire.decode(AttachmentUploadRequest, body, Ctx(jt808.V2013, "gdrta"))
    assert back.identification == gd
    js = identification("1234567", T, 0, 2)
    body = encode_request_body(AttachmentUploadRequest(server_ip="h", tcp_port=1, udp_port=2, identification=js,
                                                       alarm_number="b" * 32))
    assert len(body) == 1 + 1 + 2 + 2 + 16 + 32 + 16


def test_position_from_2019_terminal() -> None:
    gd = identification("ICVSIM13900000001", T, 2, 1, version=jt808.V2019)
    p = _position({0x65: dsm_alarm(gd, 9, 36.8, 118.0)}, version=jt808.V2019)
    [(_, body)] = attachment_requests(p, SETTINGS)
    assert body.identification == gd


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(extras_strategy(Ctx(jt808.V2013)), st.sampled_from([jt808.V2013, jt808.V2019]), st.integers(0, 0xFFFF))
def test_prefilter_never_misses_a_safety_item(extras: ExtraItems, version: int, seq: int) -> None:
    """The requester skips frames the pre-filter rejects: it must never reject one
    that holds an active-safety item."""
    loc = jt808.Location(alarm=0, status=3, lat=36.8, lon=118.0, altitude_m=10, speed_kmh=60.0, heading_deg=1,
                         time=T, extras=extras)
    try:
        frame = jt808.encode(0x0200, loc, phone="13900000001", seq=seq, version=version)
    except jt808.EncodeError:
        return
    msg = jt808.decode(frame)
    holds = any(i in msg.body.extras for i in (0x64, 0x65, 0x66, 0x67))
    if holds:
        assert may_hold_safety_item(frame)


def test_prefilter_passes_few_plain_reports() -> None:
    passed = 0
    for i in range(500):
        loc = jt808.Location(alarm=0, status=3, lat=36.8 + i * 1e-4, lon=118.0, altitude_m=10, speed_kmh=i % 90,
                             heading_deg=i % 360, time=T, extras=ExtraItems({0x01: i / 10, 0x30: 20, 0x31: 12}))
        passed += may_hold_safety_item(jt808.encode(0x0200, loc, phone="13900000001", seq=i))
    assert passed < 25  # a chance byte pair passes now and then; decoding sorts those out
    hb = jt808.encode(0x0002, None, phone="13900000001", seq=1)
    assert not may_hold_safety_item(hb)


async def test_due_requests_go_out_together_and_each_outcome_is_its_own(tmp_path: Path) -> None:
    """A burst (a terminal back-filling its alarms after a tunnel): each request waits
    for a store write or a gateway's reply, so they are in flight together, not one
    after another; a request that fails or finds no terminal stays for a retry while
    the others are done; one nobody answers holds up neither the others nor the log."""
    store = SqliteStore(tmp_path / "store.db")
    log_ = SqliteLog(tmp_path / "log.db")
    in_flight: list[str] = []
    release = asyncio.Event()
    never = asyncio.Event()

    async def send(device_id: str, body: bytes, body_json: dict[str, Any], alarm_no: str) -> int | None:
        in_flight.append(alarm_no)
        await (never if alarm_no == "n0" else release).wait()
        if alarm_no == "n3":
            raise RuntimeError("the bus is away")
        return None if alarm_no == "n4" else int(alarm_no[1:])

    requester = AttachmentRequester(log_, store, send, SETTINGS, concurrency=4)
    for i in range(6):
        requester.pending[f"n{i}"] = _Pending("13900000001", b"", {}, 0.0, 0.0)
    await requester.retry(1.0)  # returns at once: the sends go on by themselves
    await until(lambda: len(in_flight) == 4, "the first four requests in flight at once")
    await requester.retry(1.0)
    await asyncio.sleep(0.05)
    assert len(in_flight) == 4  # no more than four at a time
    release.set()
    await until(lambda: len(requester._inflight) == 1, "all but the unanswered one settled")
    await requester.retry(1.0)  # n0 still hangs: the two not yet tried go out beside it
    await until(lambda: len(requester._inflight) == 1, "those two settled")
    assert sorted(in_flight) == [f"n{i}" for i in range(6)]
    assert sorted(requester.pending) == ["n0", "n3", "n4"] and requester.requested == 3
    assert requester.pending["n3"].due == requester.pending["n4"].due == 1.0 + requester.retry_s
    await requester.retry(1.0 + requester.retry_s)  # n3 and n4 again; n0 is not sent twice
    await until(lambda: len(in_flight) == 8, "the retries out")
    assert sorted(in_flight[6:]) == ["n3", "n4"]
    never.set()
    await requester.settle()
    assert requester.requested == 4 and sorted(requester.pending) == ["n3", "n4"]
