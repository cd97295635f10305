"""The embedded log: an append-only SQLite table (WAL, ``synchronous=FULL``) with
group commit.

Producers (gateway connections) call :meth:`SqliteLog.append` from the event loop;
a writer thread takes everything pending, writes it in one transaction and commits
— one fsync for many connections' reports — then runs the producers' callbacks on
the event loop, where they acknowledge to the devices. A report is therefore never
acknowledged before it is on disk.

Offsets are the table's rowids: dense, increasing, never reused (the tail is never
deleted; retention only removes old heads).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from icvcloud.sqlite_batch import fetch_rows, insert_flat

from .base import Entry, Log, LogRecord, OnDurable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    offset INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_device ON records (device_id, offset);
"""


_RECORD_COLS = ("offset", "kind", "device_id", "received_at_us", "payload")


class SqliteLog(Log):
    def __init__(self, path: str | Path, *, max_batch: int = 5000) -> None:
        self.path = Path(path)
        self.max_batch = max_batch
        # Entries laid end to end (4 values each), built on the event loop so the
        # writer thread runs no Python of its own (see icvcloud.sqlite_batch).
        self._pending: list[object] = []
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
        db = self._connect()
        db.executescript(_SCHEMA)
        row = db.execute("SELECT COALESCE(MAX(offset), 0) FROM records").fetchone()
        self._last_offset = int(row[0])
        db.close()
        self._stopping = False
        self._writer = threading.Thread(target=self._write_loop, name="log-writer", daemon=True)
        self._writer.start()

    async def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        self._readers.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so "committed" means "on disk".
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        return db

    # -- producing

    def append(self, entries: Sequence[Entry], on_durable: OnDurable) -> None:
        if not entries:
            on_durable(None)
            return
        with self._cond:
            if self._stopping:
                raise RuntimeError("log is closed")
            for e in entries:
                self._pending.extend(e)
            self._callbacks.append(on_durable)
            self._pending_entries += len(entries)
            self._cond.notify()

    @property
    def pending(self) -> int:
        return self._pending_entries

    def _write_loop(self) -> None:
        db = self._connect()
        insert = "INSERT INTO records (kind, device_id, received_at_us, payload) VALUES"
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._stopping:
                        self._cond.wait()
                    if not self._pending and self._stopping:
                        return
                    values, self._pending = self._pending, []
                    callbacks, self._callbacks = self._callbacks, []
                    count, self._pending_entries = self._pending_entries, 0
                t0 = time.perf_counter()
                error: BaseException | None = None
                try:
                    db.execute("BEGIN IMMEDIATE")
                    insert_flat(db, insert, 4, values)
                    last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
                    db.execute("COMMIT")
                except sqlite3.Error as e:  # disk full, I/O error: the producers must not ack
                    error = e
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                dt = time.perf_counter() - t0
                if error is None:
                    self._last_offset = int(last)
                    self.commits += 1
                    self.entries_written += count
                    self.last_commit_s = dt
                    if self.on_commit is not None:
                        self.on_commit(count, dt)
                assert self._loop is not None
                try:
                    self._loop.call_soon_threadsafe(self._finish, callbacks, error)
                except RuntimeError:  # loop closed during shutdown
                    return
        finally:
            db.close()

    def _finish(self, callbacks: list[OnDurable], error: BaseException | None) -> None:
        for cb in callbacks:
            cb(error)
        if error is None and self._new_data is not None:
            self._new_data.set()

    # -- consuming

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=5000")
            self._local.db = db
        return db

    def _read_sync(self, after: int, limit: int) -> list[LogRecord]:
        rows = fetch_rows(self._reader(), _RECORD_COLS,
                          "SELECT {columns} FROM records WHERE offset > ? ORDER BY offset LIMIT ?", (after, limit),
                          blobs=(4,))
        rows.sort(key=lambda r: r[0])
        return [LogRecord(*row) for row in rows]

    async def read(self, after: int, limit: int = 1000, timeout_s: float = 0.0) -> list[LogRecord]:
        loop = asyncio.get_running_loop()
        if after >= self._last_offset and timeout_s > 0 and self._new_data is not None:
            self._new_data.clear()
            if after >= self._last_offset:
                try:
                    await asyncio.wait_for(self._new_data.wait(), timeout_s)
                except TimeoutError:
                    return []
        return await loop.run_in_executor(self._readers, self._read_sync, after, limit)

    def _recent_sync(self, device_id: str, limit: int) -> list[LogRecord]:
        cur = self._reader().execute(
            "SELECT offset, kind, device_id, received_at_us, payload FROM records WHERE device_id = ? "
            "ORDER BY offset DESC LIMIT ?",
            (device_id, limit),
        )
        return [LogRecord(*row) for row in cur]

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
