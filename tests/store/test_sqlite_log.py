"""The embedded log: group commit, offsets, a device's recent records (chained by
device, not indexed), reopening, pruning, a log written before the chains, and the
newest records served from memory with what the producer decoded."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from icvcloud.log.base import Entry, LogRecord
from icvcloud.log.sqlite import SqliteLog
from icvcloud.sqlite_batch import insert_one_step, one_step_rows


async def _append(log: SqliteLog, entries: list[Entry], decoded: list[object] | None = None) -> None:
    done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    log.append(entries, done.set_result, decoded)
    assert await done is None


def _entry(device: str, n: int) -> Entry:
    return ("jt808", device, 1_700_000_000_000_000 + n, f"{device}:{n}".encode())


async def _all(log: SqliteLog) -> list[LogRecord]:
    return await log.read(0, 1_000_000)


async def test_recent_is_each_devices_newest_records_across_commits(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.db")
    await log.open()
    rng = random.Random(7)
    devices = [f"0139{i:08d}" for i in range(40)]
    sent: dict[str, list[bytes]] = {d: [] for d in devices}
    n = 0
    # Commits of every size, devices interleaved within a commit and across commits.
    for size in (1, 2, 3, 7, 64, 65, 300, 1, 129):
        batch = []
        for _ in range(size):
            d = rng.choice(devices)
            batch.append(_entry(d, n))
            sent[d].append(batch[-1][3])
            n += 1
        await _append(log, batch)
    records = await _all(log)
    assert [r.offset for r in records] == list(range(1, n + 1))  # dense, in append order
    for d in devices:
        got = await log.recent(d, 500)
        assert [r.payload for r in got] == sent[d][::-1]
        assert all(r.device_id == d for r in got)
        assert [r.payload for r in await log.recent(d, 3)] == sent[d][::-1][:3]
    assert await log.recent("013999999999") == []
    await log.close()


async def test_chains_survive_reopening_and_continue(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = SqliteLog(path)
    await log.open()
    await _append(log, [_entry("A", 0), _entry("B", 1), _entry("A", 2)])
    await log.close()
    log = SqliteLog(path)
    await log.open()
    assert [r.payload for r in await log.recent("A")] == [b"A:2", b"A:0"]
    await _append(log, [_entry("A", 3), _entry("C", 4)])
    assert [r.payload for r in await log.recent("A")] == [b"A:3", b"A:2", b"A:0"]
    assert [r.payload for r in await log.recent("B")] == [b"B:1"]
    assert [r.offset for r in await _all(log)] == [1, 2, 3, 4, 5]
    await log.close()


async def test_pruned_records_end_a_chain(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.db")
    await log.open()
    for n in range(6):
        await _append(log, [_entry("A", n)])
    removed = await log.prune(before_offset=4, older_than_us=2**62)
    assert removed == 3
    assert [r.payload for r in await log.recent("A")] == [b"A:5", b"A:4", b"A:3"]
    await log.close()


async def test_a_log_written_before_chains_opens_and_chains_from_then_on(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE records (offset INTEGER PRIMARY KEY, kind TEXT NOT NULL, device_id TEXT NOT NULL,
                              received_at_us INTEGER NOT NULL, payload BLOB NOT NULL);
        CREATE INDEX records_device ON records (device_id, offset);
        INSERT INTO records (kind, device_id, received_at_us, payload) VALUES ('jt808', 'A', 1, x'01');
        INSERT INTO records (kind, device_id, received_at_us, payload) VALUES ('jt808', 'A', 2, x'02');
    """)
    db.commit()
    db.close()
    log = SqliteLog(path)
    await log.open()
    await _append(log, [_entry("A", 3)])
    # The old rows have no links: the newest old row is found at open, older ones not.
    assert [r.payload for r in await log.recent("A")] == [b"A:3", b"\x02"]
    await log.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall() == []
    db.close()


async def test_a_commit_too_big_for_one_statement_is_one_transaction(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.db")
    await log.open()
    n = one_step_rows(5) * 2 + 3
    await _append(log, [_entry(f"D{i % 3}", i) for i in range(n)])
    records = await _all(log)
    assert len(records) == n and records[-1].offset == n
    assert len(await log.recent("D1", 500)) == 500
    last_d2 = max(i for i in range(n) if i % 3 == 2)
    assert [r.payload for r in await log.recent("D2", 2)] == [f"D2:{last_d2}".encode(), f"D2:{last_d2 - 3}".encode()]
    await log.close()


async def _on_disk(path: Path) -> list[LogRecord]:
    """The log as SQLite holds it (a second log on the file, keeping nothing in memory)."""
    other = SqliteLog(path, tail_records=0)
    await other.open()
    try:
        return await other.read(0, 1_000_000)
    finally:
        await other.close()


async def test_the_newest_records_are_read_from_memory_with_what_the_producer_decoded(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = SqliteLog(path, tail_records=8)
    await log.open()
    rng = random.Random(3)
    given: dict[int, object] = {}  # offset → what the producer decoded
    n = 0
    for size in (1, 3, 7, 2, 5, 1, 9):
        batch = [_entry(f"D{rng.randrange(4)}", n + j) for j in range(size)]
        decoded: list[object] = [("decoded", n + j) if (n + j) % 3 else None for j in range(size)]
        await _append(log, batch, decoded)
        given.update({n + j + 1: d for j, d in enumerate(decoded)})
        n += size
    truth = await _on_disk(path)
    assert [r.offset for r in truth] == list(range(1, n + 1))
    # Read from every offset, in pieces: the same records as on disk, whichever way read.
    for after in range(n + 1):
        for limit in (1, 4, 100):
            got = await log.read(after, limit)
            assert got == truth[after:after + limit]
    newest = await log.read(n - 8, 100)
    assert [r.decoded for r in newest] == [given[r.offset] for r in newest]
    # Older records than the tail keeps come from SQLite, undecoded.
    assert all(r.decoded is None for r in await log.read(0, 5))
    # A consumer waiting at the end gets the next commit from memory.
    waiting = asyncio.create_task(log.read(n, 10, timeout_s=5))
    await asyncio.sleep(0.05)
    await _append(log, [_entry("D9", n)], ["next"])
    (rec,) = await waiting
    assert (rec.offset, rec.payload, rec.decoded) == (n + 1, b"D9:" + str(n).encode(), "next")
    with pytest.raises(ValueError):
        log.append([_entry("D1", 0), _entry("D1", 1)], lambda e: None, ["one"])
    await log.close()
    # Reopened: nothing in memory, the same records from disk.
    log = SqliteLog(path)
    await log.open()
    again = await log.read(0, 1_000_000)
    assert again == [*truth, rec] and all(r.decoded is None for r in again)
    await log.close()


async def test_memory_never_shows_a_record_under_another_offset(tmp_path: Path) -> None:
    """A row inserted behind the writer's back shifts the offsets it predicted: the
    records in memory start again rather than show wrong offsets."""
    path = tmp_path / "log.db"
    log = SqliteLog(path)
    await log.open()
    await _append(log, [_entry("A", 0), _entry("A", 1)], ["a0", "a1"])
    db = sqlite3.connect(path)
    db.execute("INSERT INTO records (kind, device_id, received_at_us, payload) VALUES ('jt808', 'X', 1, x'ff')")
    db.commit()
    db.close()
    await _append(log, [_entry("B", 2)], ["b2"])
    await _append(log, [_entry("C", 3)], ["c3"])
    truth = await _on_disk(path)
    assert [r.payload for r in truth] == [b"A:0", b"A:1", b"\xff", b"B:2", b"C:3"]
    for after in range(len(truth) + 1):
        assert await log.read(after, 10) == truth[after:]
    assert [r.decoded for r in await log.read(4, 10)] == ["c3"]
    await log.close()


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 8, 100, one_step_rows(3)])
def test_insert_one_step_inserts_exactly_the_rows_in_order(rows: int) -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE t (a TEXT NOT NULL, b INTEGER, c BLOB)")
    values: list[object] = []
    for i in range(rows):
        values += [f"r{i}", i if i % 2 else None, bytes([i % 256])]
    last = insert_one_step(db, "t (a, b, c)", 3, values)
    assert last == rows
    got = db.execute("SELECT rowid, a, b, c FROM t ORDER BY rowid").fetchall()
    assert got == [(i + 1, f"r{i}", i if i % 2 else None, bytes([i % 256])) for i in range(rows)]


def test_insert_one_step_refuses_what_it_cannot_take() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE t (a TEXT NOT NULL)")
    with pytest.raises(ValueError):
        insert_one_step(db, "t (a)", 1, [])
    with pytest.raises(ValueError):
        insert_one_step(db, "t (a)", 2, ["x", "y", "z"])
    with pytest.raises(ValueError):
        insert_one_step(db, "t (a)", 1, ["x"] * (one_step_rows(1) + 1))
