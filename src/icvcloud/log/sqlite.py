"""The embedded log: an append-only SQLite table (WAL, ``synchronous=FULL``) with
group commit.

Producers (gateway connections) call :meth:`SqliteLog.append` from the event loop;
a writer thread takes everything pending, writes it in one transaction and commits
— one fsync for many connections' reports — then runs the producers' callbacks on
the event loop, where they acknowledge to the devices. A report is therefore never
acknowledged before it is on disk.

Offsets are the table's rowids: dense, increasing, never reused (the tail is never
deleted; retention only removes old heads).

A device's records are chained (``prev_offset``: the device's previous record)
rather than indexed by device: an index on the device ID puts every report of a
commit on a different B-tree page, and writing those pages was most of the
writer's work (measured: 10.6 µs of CPU per record with the index, 1.7 without,
for commits of 170 reports from 10,000 devices). The writer keeps each device's
newest offset in memory; :meth:`SqliteLog.recent` walks the chain back from it.

The newest records (``tail_records``) are also kept in memory, with the payloads as
the gateway decoded them: consumers that keep up (the usual case) read them without
a query and without decoding each frame again — per report, the query and one
decode per consumer were about a tenth of the server's CPU at 5,000 reports/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from icvcloud.sqlite_batch import fetch_rows, insert_flat, insert_one_step, one_step_rows

from .base import Entry, Log, LogRecord, OnDurable

log = logging.getLogger("icvcloud.log.sqlite")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    offset INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    payload BLOB NOT NULL,
    prev_offset INTEGER  -- the same device's previous record (NULL: none known)
);
DROP INDEX IF EXISTS records_device;
"""
#: Records scanned at open to find each device's newest record (older devices'
#: chains start anew with their next record).
HEADS_SCAN_RECORDS = 2_000_000
#: The chain walk of :meth:`SqliteLog.recent`, newest first.
_RECENT_SQL = """
WITH RECURSIVE chain(o, n) AS (
    SELECT ?, 1
    UNION ALL
    SELECT r.prev_offset, chain.n + 1 FROM records AS r JOIN chain ON r.offset = chain.o
    WHERE r.prev_offset IS NOT NULL AND chain.n < ?
)
SELECT offset, kind, device_id, received_at_us, payload FROM records
WHERE offset IN (SELECT o FROM chain) ORDER BY offset DESC
"""


_RECORD_COLS = ("offset", "kind", "device_id", "received_at_us", "payload")
#: Records read (and their JSON parsed) at a time.
READ_PIECE = 4096
#: Newest records kept in memory for consumers (~1 KB each with a decoded report:
#: three seconds of 20,000 reports/s).
TAIL_RECORDS = 65_536


class SqliteLog(Log):
    def __init__(self, path: str | Path, *, linger_s: float = 0.002, max_batch: int = 4000,
                 tail_records: int = TAIL_RECORDS) -> None:
        self.path = Path(path)
        #: How long the writer lets a commit gather entries after the first one
        #: arrived (unless ``max_batch`` are pending): a commit costs the same fsync
        #: whatever it holds, so a little patience buys CPU at low and middle rates.
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.keeps_decoded = tail_records > 0
        self._first_pending_at = 0.0
        # Entries laid end to end (4 values and a slot for prev_offset each), built on
        # the event loop so the writer thread runs little Python (see icvcloud.sqlite_batch).
        self._pending: list[object] = []
        #: Each pending entry's decoded payload (or None), in the same order.
        self._pending_decoded: list[Any] = []
        self.tail_records = tail_records
        #: The newest durable records, contiguous: ``_tail[0]`` has offset ``_tail_first``.
        #: Only the event loop's thread touches them.
        self._tail: list[LogRecord] = []
        self._tail_first = 0
        #: Each device's newest durable offset (the head of its chain).
        self._heads: dict[str, int] = {}
        self._callbacks: list[OnDurable] = []
        self._pending_entries = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_offset = 0
        self._new_data: asyncio.Event | None = None
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="log-read")
        self._local = threading.local()
        #: Statistics for /metrics: commits and entries written, last commit time.
        self.commits = 0
        self.entries_written = 0
        self.last_commit_s = 0.0
        self.on_commit: Callable[[int, float], None] | None = None  # (entries, seconds)

    # -- lifecycle

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        self._new_data = asyncio.Event()
        # In a thread: finding the chains' heads scans up to HEADS_SCAN_RECORDS (~1 s).
        await asyncio.to_thread(self._open_sync)
        self._stopping = False
        self._writer = threading.Thread(target=self._write_loop, name="log-writer", daemon=True)
        self._writer.start()

    def _open_sync(self) -> None:
        db = self._connect()
        try:
            db.executescript(_SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(records)")}
            if "prev_offset" not in columns:  # a log written before chains: they start now
                db.execute("ALTER TABLE records ADD COLUMN prev_offset INTEGER")
            row = db.execute("SELECT COALESCE(MAX(offset), 0) FROM records").fetchone()
            self._last_offset = int(row[0])
            self._heads = dict(db.execute(
                "SELECT device_id, MAX(offset) FROM records WHERE offset > ? GROUP BY device_id",
                (self._last_offset - HEADS_SCAN_RECORDS,)))
        finally:
            db.close()

    async def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        self._readers.shutdown(wait=True)
        self._tail, self._tail_first = [], 0

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so "committed" means "on disk".
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        return db

    # -- producing

    def append(self, entries: Sequence[Entry], on_durable: OnDurable,
               decoded: Sequence[Any] | None = None) -> None:
        if not entries:
            on_durable(None)
            return
        if decoded is not None and len(decoded) != len(entries):
            raise ValueError(f"{len(decoded)} decoded payloads for {len(entries)} entries")
        with self._cond:
            if self._stopping:
                raise RuntimeError("log is closed")
            pending = self._pending
            if not pending:
                self._first_pending_at = time.monotonic()
            for e in entries:
                pending.extend(e)
                pending.append(None)
            if decoded is None:
                self._pending_decoded += [None] * len(entries)
            else:
                self._pending_decoded += decoded
            self._callbacks.append(on_durable)
            self._pending_entries += len(entries)
            self._cond.notify()

    @property
    def pending(self) -> int:
        return self._pending_entries

    def _chain(self, values: list[object]) -> dict[str, int]:
        """Fill each entry's prev_offset; returns the heads after these entries.
        Offsets are predictable: the writer is the only inserter and rowids grow by one."""
        heads = self._heads
        moved: dict[str, int] = {}
        offset = self._last_offset
        for i in range(1, len(values), 5):
            device = cast(str, values[i])
            offset += 1
            prev = moved.get(device)
            values[i + 3] = prev if prev is not None else heads.get(device)
            moved[device] = offset
        return moved

    def _write_loop(self) -> None:
        db = self._connect()
        table = "records (kind, device_id, received_at_us, payload, prev_offset)"
        one_step = one_step_rows(5)
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._stopping:
                        self._cond.wait()
                    if not self._pending and self._stopping:
                        return
                    linger = self._first_pending_at + self.linger_s - time.monotonic()
                if linger > 0 and not self._stopping and self._pending_entries < self.max_batch:
                    time.sleep(linger)
                with self._cond:
                    values, self._pending = self._pending, []
                    decoded, self._pending_decoded = self._pending_decoded, []
                    callbacks, self._callbacks = self._callbacks, []
                    count, self._pending_entries = self._pending_entries, 0
                t0 = time.perf_counter()
                error: BaseException | None = None
                moved = self._chain(values)
                try:
                    if count <= one_step:
                        # One statement outside a transaction: insert and commit in one step.
                        last = insert_one_step(db, table, 5, values)
                    else:
                        db.execute("BEGIN IMMEDIATE")
                        insert_flat(db, f"INSERT INTO {table} VALUES", 5, values)
                        last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
                        db.execute("COMMIT")
                except sqlite3.Error as e:  # disk full, I/O error: the producers must not ack
                    error = e
                    with contextlib.suppress(sqlite3.Error):
                        if db.in_transaction:
                            db.execute("ROLLBACK")
                dt = time.perf_counter() - t0
                records: list[LogRecord] | None = None
                if error is None:
                    if last != self._last_offset + count:
                        # Someone else inserted: the predicted offsets are wrong, so are the links.
                        log.warning("log offsets jumped to %d (expected %d): device chains restart",
                                    last, self._last_offset + count)
                        self._heads.clear()
                    else:
                        self._heads.update(moved)
                        if self.tail_records > 0:
                            try:
                                records = self._records(self._last_offset + 1, values, decoded)
                            except Exception:  # a bug here must not stop every acknowledgement
                                log.exception("log records not kept in memory")
                    self._last_offset = int(last)
                    self.commits += 1
                    self.entries_written += count
                    self.last_commit_s = dt
                    if self.on_commit is not None:
                        self.on_commit(count, dt)
                assert self._loop is not None
                try:
                    self._loop.call_soon_threadsafe(self._finish, callbacks, error, records)
                except RuntimeError:  # loop closed during shutdown
                    return
        finally:
            db.close()

    @staticmethod
    def _records(first: int, values: list[object], decoded: list[Any]) -> list[LogRecord]:
        """The committed entries as records (``values`` as laid out by :meth:`append`,
        maybe padded after them: one ``decoded`` per entry)."""
        return [LogRecord(first + j, cast(str, values[5 * j]), cast(str, values[5 * j + 1]),
                          cast(int, values[5 * j + 2]), cast(bytes, values[5 * j + 3]), d)
                for j, d in enumerate(decoded)]

    def _finish(self, callbacks: list[OnDurable], error: BaseException | None,
                records: list[LogRecord] | None = None) -> None:
        for cb in callbacks:
            cb(error)
        if error is None:
            self._keep(records)
            if self._new_data is not None:
                self._new_data.set()

    def _keep(self, records: list[LogRecord] | None) -> None:
        """Add a commit's records to the in-memory tail (None: the offsets are not
        the predicted ones; the tail starts again with the next commit)."""
        tail = self._tail
        if not records or not tail or self._tail_first + len(tail) != records[0].offset:
            self._tail = tail = records or []
            self._tail_first = tail[0].offset if tail else 0
        else:
            tail += records
        excess = len(tail) - self.tail_records
        if excess > self.tail_records // 4:  # trimmed now and then: each trim moves the whole list
            del tail[:excess]
            self._tail_first += excess

    def _from_tail(self, after: int, limit: int) -> list[LogRecord] | None:
        """Records after ``after`` from memory, or None if the tail does not hold the next one."""
        i = after + 1 - self._tail_first
        if not self._tail or i < 0 or i >= len(self._tail):
            return None
        return self._tail[i:i + limit]

    # -- consuming

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=5000")
            self._local.db = db
        return db

    def _read_sync(self, after: int, limit: int) -> list[LogRecord]:
        # In pieces: parsing one piece's JSON holds the GIL throughout (50,000 records:
        # ~50 ms during which the event loop, and every acknowledgement, waits).
        out: list[LogRecord] = []
        while len(out) < limit:
            rows = fetch_rows(self._reader(), _RECORD_COLS,
                              "SELECT {columns} FROM records WHERE offset > ? ORDER BY offset LIMIT ?",
                              (after, min(READ_PIECE, limit - len(out))), blobs=(4,))
            if not rows:
                break
            rows.sort(key=lambda r: r[0])
            out += [LogRecord(*row) for row in rows]
            after = out[-1].offset
            if len(rows) < READ_PIECE:
                break
        return out

    async def read(self, after: int, limit: int = 1000, timeout_s: float = 0.0) -> list[LogRecord]:
        loop = asyncio.get_running_loop()
        if after >= self._last_offset and timeout_s > 0 and self._new_data is not None:
            self._new_data.clear()
            if after >= self._last_offset:
                try:
                    await asyncio.wait_for(self._new_data.wait(), timeout_s)
                except TimeoutError:
                    return []
        kept = self._from_tail(after, limit)
        if kept is not None:
            return kept
        return await loop.run_in_executor(self._readers, self._read_sync, after, limit)

    def _recent_sync(self, device_id: str, limit: int) -> list[LogRecord]:
        head = self._heads.get(device_id)
        if head is None:
            return []
        return [LogRecord(*row) for row in self._reader().execute(_RECENT_SQL, (head, limit))]

    async def recent(self, device_id: str, limit: int = 50) -> list[LogRecord]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._recent_sync, device_id, limit)

    def last_offset(self) -> int:
        return self._last_offset

    # -- retention

    def _prune_sync(self, before_offset: int, older_than_us: int) -> int:
        db = self._reader()
        cur = db.execute("DELETE FROM records WHERE offset < ? AND received_at_us < ?", (before_offset, older_than_us))
        return cur.rowcount

    async def prune(self, before_offset: int, older_than_us: int) -> int:
        """Delete records that every consumer has passed (offset < ``before_offset``)
        and that are older than the retention time."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._prune_sync, before_offset, older_than_us)
