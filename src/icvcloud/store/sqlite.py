"""The embedded store: one SQLite file in WAL mode.

Threads: every statement runs off the event loop. One writer connection lives on
a dedicated single-thread executor (SQLite admits one writer at a time anyway, and
a single thread keeps its transactions strictly ordered); queries run on a small
pool of reader connections, which WAL lets read while the writer writes.

Durability: ``synchronous=NORMAL``. A power cut can lose the last few commits,
which is acceptable here because the log, not the store, is the durable record:
the store consumer's offset commits in the same transaction as the positions it
covers, so whatever a crash takes away is replayed from the log, and replays are
ignored by the positions key. (An application crash loses nothing in WAL mode.)
"""

# SQL here is assembled only from constant column lists and "?" placeholders; every
# value is bound, never formatted in.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from icvcloud.model import (
    Device,
    LiveState,
    Organisation,
    Position,
    PositionRow,
    User,
    Vehicle,
    position_of_row,
    position_row,
)
from icvcloud.model.records import from_us, to_us
from icvcloud.sqlite_batch import fetch_rows, insert_flat

from .base import BBox, Scope, Store, VehicleFilter, VehicleRow, fold_rows
from .schema import migrate_sqlite

T = TypeVar("T")


#: Bad frames kept per device; pruning waits for some slack so it runs rarely.
BAD_FRAMES_KEPT = 200
_BAD_FRAMES_SLACK = 50

#: Vehicles whose speed exceeds this count as moving (GNSS jitter reads as a few km/h).
MOVING_KMH = 3.0

# positions and live_state share these leading columns, in this order.
_POS_COLS = ("device_id", "device_time_us", "seq", "item", "received_at_us", "lat", "lon", "speed_kmh",
             "heading_deg", "altitude_m", "alarm", "status", "mileage_km", "backfill", "extras")
_POS_SELECT = ", ".join(_POS_COLS)
_INSERT_POSITION = f"INSERT OR IGNORE INTO positions ({_POS_SELECT}) VALUES"
# The live position moves only forward in device time (a back-filled batch must not
# drag the map backwards); receive time and online flag follow every message.
_NEWER = "(live_state.device_time_us IS NULL OR excluded.device_time_us > live_state.device_time_us)"
_UPSERT_LIVE = f"INSERT INTO live_state ({_POS_SELECT}, online, last_report_at_us) VALUES"
_UPSERT_LIVE_TAIL = (
    "ON CONFLICT (device_id) DO UPDATE SET "
    + ", ".join(f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE live_state.{c} END" for c in _POS_COLS[1:])
    + ", online = 1, last_report_at_us = "
      "MAX(COALESCE(live_state.last_report_at_us, excluded.last_report_at_us), excluded.last_report_at_us)"
)
# A message without a position (heartbeat, reply…) still says the device is online.
_UPSERT_SEEN = "INSERT INTO live_state (device_id, online, last_report_at_us) VALUES"
_UPSERT_SEEN_TAIL = (
    "ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, last_report_at_us = "
    "MAX(COALESCE(live_state.last_report_at_us, excluded.last_report_at_us), excluded.last_report_at_us)")
_UPSERT_OFFSET = ("INSERT INTO consumer_offsets (consumer, log_offset) VALUES (?, ?) "
                  "ON CONFLICT (consumer) DO UPDATE SET log_offset = excluded.log_offset")

_VEHICLE_COLS = "v.id, v.plate, v.plate_colour, v.vin, v.vehicle_type, v.org_id, v.device_id"
_LIVE_COLS = "l.online, l.last_report_at_us, " + ", ".join(f"l.{c}" for c in _POS_COLS)
_VEHICLE_ROW_SELECT = (f"SELECT {_VEHICLE_COLS}, {_LIVE_COLS} FROM vehicles v "
                       "LEFT JOIN live_state l ON l.device_id = v.device_id")
_DEVICE_COLS = ("device_id, phone, terminal_id, maker_id, model, protocol_version, auth_code, vehicle_id, "
                "registered_at_us, province_id, city_id")


def _now_us() -> int:
    return time.time_ns() // 1000


def _scope_sql(scope: Scope, column: str, *, with_global: bool = False) -> tuple[str, list[Any]]:
    """A condition for ``scope`` on ``column`` and its parameters; ``with_global``:
    rows of no organisation (global definitions) match too."""
    if scope.org_ids is None:
        return "1", []
    if not scope.org_ids:
        return (f"(0 OR {column} IS NULL)" if with_global else "0"), []
    ids = sorted(scope.org_ids)
    cond = f"{column} IN ({', '.join('?' * len(ids))})"
    return (f"({cond} OR {column} IS NULL)" if with_global else cond), ids


#: Position rows built between turns of the event loop.
_ROWS_PER_TURN = 2000
def _vehicle(r: Sequence[Any]) -> Vehicle:
    return Vehicle(id=r[0], plate=r[1], plate_colour=r[2], vin=r[3], vehicle_type=r[4], org_id=r[5], device_id=r[6])


def _vehicle_row(r: Sequence[Any]) -> VehicleRow:
    """A VehicleRow from ``_VEHICLE_ROW_SELECT`` columns."""
    v = _vehicle(r)
    live_cols = r[7:]
    if live_cols[2] is None:  # no live_state row: the device never sent anything
        return VehicleRow(v, None)
    position = position_of_row(live_cols[2:]) if live_cols[3] is not None else None
    last = from_us(live_cols[1]) if live_cols[1] is not None else None
    return VehicleRow(v, LiveState(device_id=live_cols[2], vehicle_id=v.id, online=bool(live_cols[0]),
                                   last_report_at=last, position=position))


def _device(r: Sequence[Any]) -> Device:
    return Device(device_id=r[0], phone=r[1], terminal_id=r[2], maker_id=r[3], model=r[4], protocol_version=r[5],
                  auth_code=r[6], vehicle_id=r[7], registered_at=from_us(r[8]) if r[8] is not None else None,
                  province_id=r[9], city_id=r[10])


def _user(r: Sequence[Any]) -> User:
    return User(id=r[0], username=r[1], role=r[2], org_id=r[3], password_hash=r[4])


class SqliteStore(Store):
    def __init__(self, path: str | Path, *, readers: int = 2) -> None:
        self.path = Path(path)
        self._n_readers = readers
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._wdb: sqlite3.Connection | None = None
        self._local = threading.local()
        self._reader_dbs: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()

    # -- connections and threads

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA cache_size=-32000")
        db.execute("PRAGMA temp_store=MEMORY")
        return db

    def _open_writer(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        db.execute("PRAGMA foreign_keys=ON")
        # The pages a batch of 10,000 terminals' reports touches (index leaves, live
        # state) should stay in memory between batches.
        db.execute("PRAGMA cache_size=-131072")
        migrate_sqlite(db)
        self._wdb = db

    def _reader_db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            db.execute("PRAGMA query_only=1")
            self._local.db = db
            with self._reader_lock:
                self._reader_dbs.append(db)
        return db

    async def open(self) -> None:
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
        self._readers = ThreadPoolExecutor(max_workers=self._n_readers, thread_name_prefix="store-read")
        await asyncio.get_running_loop().run_in_executor(self._writer, self._open_writer)

    async def close(self) -> None:
        writer, readers = self._writer, self._readers
        self._writer = self._readers = None
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(writer, self._close_writer)
            await asyncio.to_thread(writer.shutdown, True)
        if readers is not None:
            await asyncio.to_thread(readers.shutdown, True)
        with self._reader_lock:
            for db in self._reader_dbs:
                db.close()
            self._reader_dbs.clear()

    def _close_writer(self) -> None:
        if self._wdb is not None:
            self._wdb.execute("PRAGMA optimize")
            self._wdb.close()
            self._wdb = None

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(db, *args)`` in one write transaction on the writer thread."""
        if self._writer is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._in_tx, fn, args)

    def _in_tx(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        db = self._wdb
        assert db is not None
        # IMMEDIATE: take the write lock up front rather than upgrading mid-transaction.
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db, *args)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # some errors (disk full) have rolled back already
                db.execute("ROLLBACK")
            raise
        return result

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(db, *args)`` on a reader thread; ``fn`` must fetch everything it
        selects (an open cursor would pin an old WAL snapshot)."""
        if self._readers is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._run_read, fn, args)

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return fn(self._reader_db(), *args)

    # -- organisations and users

    async def add_organisation(self, name: str, kind: str = "enterprise", parent_id: int | None = None) -> int:
        def run(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO organisations (name, kind, parent_id) VALUES (?, ?, ?)",
                             (name, kind, parent_id))
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def list_organisations(self, scope: Scope) -> list[Organisation]:
        where, params = _scope_sql(scope, "id")

        def run(db: sqlite3.Connection) -> list[Organisation]:
            rows = db.execute(f"SELECT id, name, kind, parent_id FROM organisations WHERE {where} ORDER BY id",
                              params).fetchall()
            return [Organisation(*r) for r in rows]

        return await self._read(run)

    async def add_user(self, username: str, password_hash: str, role: str, org_id: int | None) -> int:
        def run(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO users (username, password_hash, role, org_id) VALUES (?, ?, ?, ?)",
                             (username, password_hash, role, org_id))
            return int(cur.lastrowid or 0)

        return await self._write(run)

    async def get_user(self, username: str) -> User | None:
        def run(db: sqlite3.Connection) -> User | None:
            r = db.execute("SELECT id, username, role, org_id, password_hash FROM users WHERE username = ?",
                           (username,)).fetchone()
            return _user(r) if r else None

        return await self._read(run)

    async def add_token(self, user_id: int, token_hash: str, name: str) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO api_tokens (token_hash, user_id, name, created_at_us) VALUES (?, ?, ?, ?)",
                       (token_hash, user_id, name, _now_us()))

        await self._write(run)

    async def user_for_token(self, token_hash: str) -> User | None:
        return await self.user_for_token_issued_after(token_hash, None)

    async def user_for_token_issued_after(self, token_hash: str, not_before: datetime | None) -> User | None:
        """Like :meth:`user_for_token`, but a token issued before ``not_before`` has
        expired (the API's token TTL). Not in the base interface yet."""
        since = to_us(not_before) if not_before is not None else None

        def run(db: sqlite3.Connection) -> User | None:
            r = db.execute(
                "SELECT u.id, u.username, u.role, u.org_id, u.password_hash FROM api_tokens t "
                "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND (? IS NULL OR t.created_at_us >= ?)",
                (token_hash, since, since)).fetchone()
            return _user(r) if r else None

        return await self._read(run)

    # -- devices and vehicles

    async def get_device(self, device_id: str) -> Device | None:
        def run(db: sqlite3.Connection) -> Device | None:
            r = db.execute(f"SELECT {_DEVICE_COLS} FROM devices WHERE device_id = ?", (device_id,)).fetchone()
            return _device(r) if r else None

        return await self._read(run)

    async def save_device(self, device: Device) -> None:
        d = device
        row = (d.device_id, d.phone, d.terminal_id, d.maker_id, d.model, d.protocol_version, d.auth_code,
               d.vehicle_id, to_us(d.registered_at) if d.registered_at else None, d.province_id, d.city_id)

        def run(db: sqlite3.Connection) -> None:
            # The vehicle link is owned by add_vehicle; a device saved without one keeps it.
            db.execute(
                f"INSERT INTO devices ({_DEVICE_COLS}) VALUES ({', '.join('?' * len(row))}) "
                "ON CONFLICT (device_id) DO UPDATE SET phone = excluded.phone, terminal_id = excluded.terminal_id, "
                "maker_id = excluded.maker_id, model = excluded.model, protocol_version = excluded.protocol_version, "
                "auth_code = excluded.auth_code, vehicle_id = COALESCE(excluded.vehicle_id, devices.vehicle_id), "
                "registered_at_us = COALESCE(excluded.registered_at_us, devices.registered_at_us), "
                "province_id = excluded.province_id, city_id = excluded.city_id", row)

        await self._write(run)

    async def add_vehicle(self, vehicle: Vehicle) -> int:
        v = vehicle

        def run(db: sqlite3.Connection) -> int:
            if v.device_id is not None:
                # A provisioned vehicle's terminal is known before it first registers.
                db.execute("INSERT OR IGNORE INTO devices (device_id) VALUES (?)", (v.device_id,))
            cur = db.execute(
                "INSERT INTO vehicles (plate, plate_colour, vin, vehicle_type, org_id, device_id) "
                "VALUES (?, ?, ?, ?, ?, ?)", (v.plate, v.plate_colour, v.vin, v.vehicle_type, v.org_id, v.device_id))
            vid = int(cur.lastrowid or 0)
            if v.device_id is not None:
                db.execute("UPDATE devices SET vehicle_id = ? WHERE device_id = ?", (vid, v.device_id))
            return vid

        return await self._write(run)

    async def vehicle_for_device(self, device_id: str) -> Vehicle | None:
        def run(db: sqlite3.Connection) -> Vehicle | None:
            r = db.execute(f"SELECT {_VEHICLE_COLS} FROM vehicles v WHERE v.device_id = ?",
                           (device_id,)).fetchone()
            return _vehicle(r) if r else None

        return await self._read(run)

    async def get_vehicle(self, scope: Scope, vehicle_id: int) -> VehicleRow | None:
        where, params = _scope_sql(scope, "v.org_id")

        def run(db: sqlite3.Connection) -> VehicleRow | None:
            r = db.execute(f"{_VEHICLE_ROW_SELECT} WHERE v.id = ? AND {where}", [vehicle_id, *params]).fetchone()
            return _vehicle_row(r) if r else None

        return await self._read(run)

    async def list_vehicles(self, scope: Scope, flt: VehicleFilter) -> tuple[list[VehicleRow], int]:
        where, params = _scope_sql(scope, "v.org_id")
        clauses, args = [where], list(params)
        if flt.vehicle_type is not None:
            clauses.append("v.vehicle_type = ?")
            args.append(flt.vehicle_type)
        if flt.org_id is not None:
            clauses.append("v.org_id = ?")
            args.append(flt.org_id)
        if flt.online is not None:
            clauses.append("COALESCE(l.online, 0) = ?")
            args.append(1 if flt.online else 0)
        if flt.plate:
            # instr, not LIKE: the user's % and _ are literal characters of a plate.
            clauses.append("instr(lower(v.plate), ?) > 0")
            args.append(flt.plate.lower())
        cond = " AND ".join(clauses)

        def run(db: sqlite3.Connection) -> tuple[list[VehicleRow], int]:
            rows = db.execute(f"{_VEHICLE_ROW_SELECT} WHERE {cond} ORDER BY v.id LIMIT ? OFFSET ?",
                              [*args, flt.limit, flt.offset]).fetchall()
            total = db.execute("SELECT COUNT(*) FROM vehicles v LEFT JOIN live_state l "
                               f"ON l.device_id = v.device_id WHERE {cond}", args).fetchone()[0]
            return [_vehicle_row(r) for r in rows], int(total)

        return await self._read(run)

    async def count_by_state(self, scope: Scope) -> dict[str, int]:
        where, params = _scope_sql(scope, "v.org_id")
        sql = (
            "SELECT COUNT(*), "
            "COALESCE(SUM(l.online = 1), 0), "
            "COALESCE(SUM(l.online = 1 AND l.speed_kmh > ?), 0), "
            "COALESCE(SUM(l.online = 1 AND l.alarm != 0), 0) "
            f"FROM vehicles v LEFT JOIN live_state l ON l.device_id = v.device_id WHERE {where}"
        )

        def run(db: sqlite3.Connection) -> dict[str, int]:
            total, online, moving, alarm = db.execute(sql, [MOVING_KMH, *params]).fetchone()
            return {"total": total, "online": online, "offline": total - online, "moving": moving,
                    "stopped": online - moving, "alarm": alarm}

        return await self._read(run)

    # -- positions and live state

    async def write_positions(self, positions: Sequence[Position], consumer: str | None = None,
                              offset: int | None = None, seen: Mapping[str, datetime] | None = None) -> int:
        if consumer is not None and offset is None:
            raise ValueError("an offset must be given with a consumer")
        # Rows are built here, on the event loop: Python work on the writer thread
        # would fight the loop for the GIL (see icvcloud.sqlite_batch). A batch is tens
        # of thousands of positions (≈ 3 µs each): built in slices between which the
        # loop runs, or every connection's acknowledgements wait for the whole batch.
        rows: list[PositionRow] = []
        for start in range(0, len(positions), _ROWS_PER_TURN):
            if start:
                await asyncio.sleep(0)
            rows += [position_row(p) for p in positions[start : start + _ROWS_PER_TURN]]
        return await self.write_position_rows(rows, consumer, offset, seen)

    async def write_position_rows(self, rows: Sequence[PositionRow], consumer: str | None = None,
                                  offset: int | None = None, seen: Mapping[str, datetime] | None = None) -> int:
        if not rows and consumer is None and not seen:
            return 0
        if consumer is not None and offset is None:
            raise ValueError("an offset must be given with a consumer")
        newest: dict[str, PositionRow] = {}
        last_seen: dict[str, int] = {}
        pos_values: list[Any] = []
        # Back-filled rows are checked against what is stored, in the transaction.
        backfill: list[PositionRow] = []
        for start in range(0, len(rows), _ROWS_PER_TURN):
            if start:
                await asyncio.sleep(0)
            plain: list[PositionRow] = []
            fold_rows(rows[start : start + _ROWS_PER_TURN], newest, last_seen, plain, backfill)
            pos_values += [v for r in plain for v in r]
        live_values = [v for dev, r in newest.items() for v in (*r, 1, last_seen[dev])]
        seen_values = [v for dev, at in (seen or {}).items() if dev not in newest for v in (dev, 1, to_us(at))]
        return await self._write(self._write_positions_tx, pos_values, backfill, live_values, seen_values,
                                  consumer, offset)

    @staticmethod
    def _write_positions_tx(db: sqlite3.Connection, pos_values: list[Any], backfill: list[PositionRow],
                            live_values: list[Any], seen_values: list[Any], consumer: str | None,
                            offset: int | None) -> int:
        ncols = len(_POS_COLS)
        inserted = insert_flat(db, _INSERT_POSITION, ncols, pos_values)
        if backfill:
            keys = sorted({(r[0], r[1]) for r in backfill})
            stored: set[tuple[Any, ...]] = set()
            for i in range(0, len(keys), 4096):
                part = keys[i : i + 4096]
                stored.update(tuple(k) for k in fetch_rows(
                    db, ("device_id", "device_time_us"),
                    "SELECT {columns} FROM positions WHERE (device_id, device_time_us) IN "
                    f"(VALUES {', '.join(['(?, ?)'] * len(part))})", [v for k in part for v in k]))
            fresh: dict[tuple[str, int], tuple[Any, ...]] = {}
            for r in backfill:
                if (r[0], r[1]) not in stored:
                    fresh.setdefault((r[0], r[1]), r)
            inserted += insert_flat(db, _INSERT_POSITION, ncols, [v for r in fresh.values() for v in r])
        insert_flat(db, _UPSERT_LIVE, ncols + 2, live_values, _UPSERT_LIVE_TAIL)
        insert_flat(db, _UPSERT_SEEN, 3, seen_values, _UPSERT_SEEN_TAIL)
        if consumer is not None:
            db.execute(_UPSERT_OFFSET, (consumer, offset))
        return inserted

    async def consumer_offset(self, consumer: str) -> int:
        def run(db: sqlite3.Connection) -> int:
            r = db.execute("SELECT log_offset FROM consumer_offsets WHERE consumer = ?", (consumer,)).fetchone()
            return int(r[0]) if r else 0

        return await self._read(run)

    async def mark_seen(self, device_id: str, at: datetime, online: bool = True) -> None:
        at_us = to_us(at)

        def run(db: sqlite3.Connection) -> None:
            db.execute(f"{_UPSERT_SEEN} (?, ?, ?) {_UPSERT_SEEN_TAIL}", (device_id, 1 if online else 0, at_us))

        await self._write(run)

    async def mark_offline_before(self, cutoff: datetime) -> list[str]:
        cutoff_us = to_us(cutoff)

        def run(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("UPDATE live_state SET online = 0 WHERE online = 1 AND "
                              "(last_report_at_us IS NULL OR last_report_at_us < ?) RETURNING device_id",
                              (cutoff_us,)).fetchall()
            return sorted(r[0] for r in rows)

        return await self._write(run)

    async def track(self, scope: Scope, vehicle_id: int, start: datetime, end: datetime,
                    limit: int = 100_000) -> list[Position]:
        where, params = _scope_sql(scope, "v.org_id")
        # Range scan on the positions key (device_id, device_time_us, …): already in order.
        sql = (f"SELECT {', '.join(f'p.{c}' for c in _POS_COLS)} FROM vehicles v "
               "JOIN positions p ON p.device_id = v.device_id "
               f"WHERE v.id = ? AND {where} AND p.device_time_us BETWEEN ? AND ? "
               "ORDER BY p.device_time_us, p.seq, p.item LIMIT ?")
        args = [vehicle_id, *params, to_us(start), to_us(end), limit]

        def run(db: sqlite3.Connection) -> list[Position]:
            return [position_of_row(r) for r in db.execute(sql, args).fetchall()]

        return await self._read(run)

    async def live_states(self, scope: Scope, bbox: BBox | None = None) -> list[VehicleRow]:
        where, params = _scope_sql(scope, "v.org_id")
        clauses, args = [where, "l.lat IS NOT NULL"], list(params)
        if bbox is not None:
            clauses.append("l.lon BETWEEN ? AND ? AND l.lat BETWEEN ? AND ?")
            args += [bbox.min_lon, bbox.max_lon, bbox.min_lat, bbox.max_lat]
        sql = f"{_VEHICLE_ROW_SELECT} WHERE {' AND '.join(clauses)} ORDER BY v.id"

        def run(db: sqlite3.Connection) -> list[VehicleRow]:
            return [_vehicle_row(r) for r in db.execute(sql, args).fetchall()]

        return await self._read(run)

    async def count_positions(self, device_id: str | None = None) -> int:
        def run(db: sqlite3.Connection) -> int:
            if device_id is None:
                return int(db.execute("SELECT COUNT(*) FROM positions").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM positions WHERE device_id = ?", (device_id,)).fetchone()[0])

        return await self._read(run)

    # -- terminal debugging

    async def add_bad_frame(self, device_id: str, at: datetime, frame: bytes, reason: str) -> None:
        at_us = to_us(at)

        def run(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO bad_frames (device_id, received_at_us, frame, reason) VALUES (?, ?, ?, ?)",
                       (device_id, at_us, frame, reason))
            n = db.execute("SELECT COUNT(*) FROM bad_frames WHERE device_id = ?", (device_id,)).fetchone()[0]
            if n > BAD_FRAMES_KEPT + _BAD_FRAMES_SLACK:
                db.execute("DELETE FROM bad_frames WHERE device_id = ? AND id NOT IN (SELECT id FROM bad_frames "
                           "WHERE device_id = ? ORDER BY received_at_us DESC, id DESC LIMIT ?)",
                           (device_id, device_id, BAD_FRAMES_KEPT))

        await self._write(run)

    async def bad_frames(self, device_id: str, limit: int = 50) -> list[tuple[datetime, bytes, str]]:
        def run(db: sqlite3.Connection) -> list[tuple[datetime, bytes, str]]:
            rows = db.execute("SELECT received_at_us, frame, reason FROM bad_frames WHERE device_id = ? "
                              "ORDER BY received_at_us DESC, id DESC LIMIT ?", (device_id, limit)).fetchall()
            return [(from_us(t), bytes(f), reason) for t, f, reason in rows]

        return await self._read(run)
