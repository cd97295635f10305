"""NatsLog against the 3-node JetStream cluster: durable appends, partitioned reads
from a committed offset, re-reads, recovery from delivery gaps, per-device lookups."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icvcloud.log.base import LogRecord
from icvcloud.log.nats import NatsLog, NatsLogSettings, ack_seq, device_token, pack, partition_of, unpack

from .conftest import drop_stream


def _entries(devices: int, per_device: int, start: int = 0) -> list[tuple[str, str, int, bytes]]:
    return [("jt808", f"1390000{d:04d}", 1_700_000_000_000_000 + i, f"frame {d} {i}".encode())
            for i in range(start, start + per_device) for d in range(devices)]


async def _append(lg: NatsLog, entries: list[tuple[str, str, int, bytes]],
                  chunk: int = 7) -> list[BaseException | None]:
    """Append in calls of ``chunk`` entries; wait for every callback."""
    results: list[BaseException | None] = []
    done = asyncio.Event()
    calls = (len(entries) + chunk - 1) // chunk

    def cb(err: BaseException | None) -> None:
        results.append(err)
        if len(results) == calls:
            done.set()

    for i in range(0, len(entries), chunk):
        lg.append(entries[i : i + chunk], cb)
    await asyncio.wait_for(done.wait(), 30)
    return results


async def _read_all(view: object, after: int, expect: int) -> list[LogRecord]:
    out: list[LogRecord] = []
    for _ in range(100):
        recs = await view.read(out[-1].offset if out else after, 500, timeout_s=0.2)  # type: ignore[attr-defined]
        out.extend(recs)
        if len(out) >= expect and not recs:
            break
    return out


async def test_append_is_acknowledged_after_the_stream_has_it(nats_log: NatsLog) -> None:
    entries = _entries(devices=12, per_device=10)
    stored_when_acked: list[int] = []

    async def one_call() -> None:
        fut: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        nats_log.append(entries, fut.set_result)
        assert await asyncio.wait_for(fut, 30) is None
        stored_when_acked.append((await nats_log.stream_state())["messages"])

    await one_call()
    # Every entry was stored (on a quorum of the R3 stream) before the callback ran.
    assert stored_when_acked == [len(entries)]
    assert nats_log.pending == 0
    assert nats_log.last_offset() == len(entries)


async def test_partitions_hold_each_device_in_order(nats_log: NatsLog) -> None:
    entries = _entries(devices=20, per_device=15)
    assert set(await _append(nats_log, entries)) == {None}
    got: list[LogRecord] = []
    for p in range(nats_log.partitions):
        view = nats_log.partition(p, "store")
        recs = await _read_all(view, 0, 1)
        assert all(partition_of(r.device_id, nats_log.partitions) == p for r in recs)
        assert [r.offset for r in recs] == sorted({r.offset for r in recs})
        got.extend(recs)
    # Nothing lost, nothing twice, every field as appended.
    assert sorted((r.kind, r.device_id, r.received_at_us, r.payload) for r in got) == sorted(entries)
    for dev in {e[1] for e in entries}:
        mine = [r.payload for r in sorted(got, key=lambda r: r.offset) if r.device_id == dev]
        assert mine == [e[3] for e in entries if e[1] == dev]
    assert len({partition_of(e[1], 4) for e in entries}) == 4, "20 devices should spread over 4 partitions"


async def test_read_resumes_after_a_committed_offset(nats_log: NatsLog) -> None:
    await _append(nats_log, _entries(devices=8, per_device=20))
    first = await _read_all(nats_log.partition(1, "store"), 0, 1)
    assert len(first) > 10
    committed = first[len(first) // 2].offset
    # A new consumer (another worker taking over) starts after what was committed.
    view = nats_log.partition(1, "store")
    again = await _read_all(view, committed, 1)
    assert [r.offset for r in again] == [r.offset for r in first if r.offset > committed]
    # A retry of the same consumer from an earlier offset (the store write failed) re-reads.
    retry = await _read_all(view, first[2].offset, 1)
    assert [r.offset for r in retry] == [r.offset for r in first[3:]]
    # Records appended later continue the sequence.
    await _append(nats_log, _entries(devices=8, per_device=5, start=100))
    more = await _read_all(view, retry[-1].offset, 1)
    assert more and all(r.offset > retry[-1].offset for r in more)
    assert {r.payload.split()[-1] for r in more} == {str(i).encode() for i in range(100, 105)}


async def test_groups_read_independently(nats_log: NatsLog) -> None:
    await _append(nats_log, _entries(devices=6, per_device=10))
    a = await _read_all(nats_log.partition(0, "store"), 0, 1)
    b = await _read_all(nats_log.partition(0, "alarms"), 0, 1)
    assert a and [r.offset for r in a] == [r.offset for r in b]


async def test_a_delivery_gap_is_re_read_not_skipped(nats_log: NatsLog) -> None:
    await _append(nats_log, _entries(devices=8, per_device=40))
    view = nats_log.partition(2, "store")
    head = await view.read(0, 10, timeout_s=1.0)
    assert len(head) == 10
    # Another reader of the same group (a stale owner) recreates the consumer from
    # the start: the first reader's next delivery sequence jumps back.
    other = nats_log.partition(2, "store")
    await other.read(0, 5, timeout_s=1.0)
    rest = await _read_all(view, head[-1].offset, 1)
    everything = await _read_all(nats_log.partition(2, "check"), 0, 1)
    assert [r.offset for r in head + rest] == [r.offset for r in everything]
    assert view.resets >= 2  # type: ignore[attr-defined]


async def test_recent_frames_of_a_device_newest_first(nats_log: NatsLog) -> None:
    entries = _entries(devices=5, per_device=30)
    await _append(nats_log, entries)
    dev = entries[3][1]
    recent = await nats_log.recent(dev, limit=10)
    mine = [e for e in entries if e[1] == dev]
    assert [r.payload for r in recent] == [e[3] for e in reversed(mine)][:10]
    assert [r.offset for r in recent] == sorted((r.offset for r in recent), reverse=True)
    assert await nats_log.recent("13999999999") == []


async def test_not_stored_means_not_acknowledged(nats_servers: list[str], stream_name: str) -> None:
    lg = NatsLog(NatsLogSettings(servers=nats_servers, stream=stream_name, subject_prefix=stream_name.lower(),
                                 partitions=2, replicas=3, publish_timeout_s=3.0))
    await lg.open()
    try:
        await drop_stream(nats_servers, stream_name)  # nothing will store what follows
        results = await _append(lg, _entries(devices=3, per_device=3), chunk=3)
        assert len(results) == 3 and all(isinstance(r, BaseException) for r in results)
        assert lg.pending == 0 and lg.publish_errors == 3
    finally:
        await lg.close()


@given(kind=st.text(max_size=20), device=st.text(min_size=1, max_size=40), at=st.integers(-(2**63), 2**63 - 1),
       payload=st.binary(max_size=300), offset=st.integers(1, 2**62))
def test_envelope_round_trip(kind: str, device: str, at: int, payload: bytes, offset: int) -> None:
    if len(kind.encode()) > 255 or len(device.encode()) > 255:
        with pytest.raises(struct.error):
            pack(kind, device, at, payload)
        return
    assert unpack(offset, pack(kind, device, at, payload)) == LogRecord(offset, kind, device, at, payload)


@given(st.binary(max_size=64))
def test_envelope_garbage_is_a_clear_error(data: bytes) -> None:
    with contextlib.suppress(ValueError, struct.error):  # UnicodeDecodeError is a ValueError
        rec = unpack(1, data)
        assert rec.offset == 1 and isinstance(rec.payload, bytes)


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_device_tokens_are_subject_safe_and_distinct(a: str, b: str) -> None:
    ta, tb = device_token(a), device_token(b)
    for t in (ta, tb):
        assert t and not any(c in t for c in ".*> \t\r\n")
    assert (ta == tb) == (a == b)


async def test_each_partition_is_a_stream_of_its_own(nats_log: NatsLog) -> None:
    await _append(nats_log, _entries(devices=12, per_device=3))
    js = nats_log.js
    for p in range(nats_log.partitions):
        info = await js.stream_info(nats_log.stream_of(p))
        assert info.config.subjects == [f"{nats_log.settings.subject_prefix}.{p}.>"]
        assert info.config.num_replicas == 3
        # Offsets are the partition's own sequence: dense from 1.
        recs = await _read_all(nats_log.partition(p, "store"), 0, 1)
        assert [r.offset for r in recs] == list(range(1, len(recs) + 1))


async def test_a_vanished_consumer_is_recreated(nats_log: NatsLog) -> None:
    await _append(nats_log, _entries(devices=8, per_device=5))
    view = nats_log.partition(0, "store")
    first = await _read_all(view, 0, 1)
    assert first
    await nats_log.js.delete_consumer(nats_log.stream_of(0), "store-p0")
    await _append(nats_log, _entries(devices=8, per_device=5, start=50))
    more: list[LogRecord] = []
    for _ in range(60):  # the reader notices within a few seconds of empty reads
        more += await view.read(more[-1].offset if more else first[-1].offset, 500, timeout_s=0.2)
        if len(more) >= len(first):
            break
    assert [r.offset for r in more] == list(range(first[-1].offset + 1, first[-1].offset + 1 + len(first)))


@given(st.binary(max_size=120))
def test_publish_acks_parse_or_fail_clearly(data: bytes) -> None:
    try:
        seq = ack_seq(data)
    except ValueError:
        return
    assert seq >= 0 and b'"seq":' in data and b'"error"' not in data


def test_publish_ack_examples() -> None:
    assert ack_seq(b'{"stream":"ICV_LOG_3", "seq":123}') == 123
    assert ack_seq(b'{"stream":"ICV_LOG_3","seq":7,"duplicate":true}') == 7
    for bad in (b"", b'{"error":{"code":503,"description":"no responders"}}', b'{"stream":"X"}', b'{"seq":}'):
        with pytest.raises(ValueError):
            ack_seq(bad)
