"""The scale-out store: PostgreSQL + PostGIS through an asyncpg connection pool.

The same :class:`Store` interface and semantics as :class:`SqliteStore` (the
parity tests run the store tests against both), with what a shared database
needs: every process (gateways, workers, API) opens it, migrations and partition
maintenance run under an advisory lock, and workers write concurrently (each
partition of the log by one worker; live-state upserts take their row locks in
device order, so two writers of overlapping devices during a takeover cannot
deadlock).

Positions are range-partitioned by device time, one table per UTC day
(``positions_YYYYMMDD``), created ahead by :meth:`PostgresStore.maintain`, which
also drops the days past ``track_retention_days``; a row whose day has no table
yet lands in ``positions_default`` and moves when its day's table is created.
Batches go in as one ``INSERT … SELECT FROM unnest(arrays)`` per kind of row —
one round trip and one statement plan per batch, with binary-encoded arrays.

Everything lives in one PostgreSQL schema (``schema``, default ``icv``), so
several deployments — or tests — can share a database.
"""

# SQL here is assembled only from constant column lists, validated identifiers
# (the schema name, partition names derived from dates) and "$n" placeholders.
# ruff: noqa: S608

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from icvcloud.model import Device, LiveState, Organisation, Position, PositionRow, User, Vehicle, position_row
from icvcloud.model.records import from_us

from .base import BBox, Scope, Store, VehicleFilter, VehicleRow, fold_rows
from .schema import migrations

log = logging.getLogger("icvcloud.store.postgres")

#: Bad frames kept per device; pruning waits for some slack so it runs rarely.
BAD_FRAMES_KEPT = 200
_BAD_FRAMES_SLACK = 50
#: Vehicles whose speed exceeds this count as moving (GNSS jitter reads as a few km/h).
MOVING_KMH = 3.0
#: One lock for every schema change in the database (CREATE EXTENSION is database-wide).
_MIGRATE_LOCK = 0x1C7C_0001
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PARTITION_NAME = re.compile(r"^positions_(\d{8})$")

_POS_COLS = ("device_id", "device_time", "seq", "item", "received_at", "lat", "lon", "speed_kmh",
             "heading_deg", "altitude_m", "alarm", "status", "mileage_km", "backfill", "extras")
_POS_TYPES = ("text", "timestamptz", "int4", "int4", "timestamptz", "float8", "float8", "float8", "int4", "int4",
              "int8", "int8", "float8", "bool", "text")
_POS_LIST = ", ".join(_POS_COLS)
_UNNEST = (f"unnest({', '.join(f'${i + 1}::{t}[]' for i, t in enumerate(_POS_TYPES))}) "
           f"AS u({_POS_LIST})")
_U_COLS = ", ".join(f"u.{c}" if c != "extras" else "u.extras::jsonb" for c in _POS_COLS)
_INSERT_POSITIONS = f"INSERT INTO positions ({_POS_LIST}) SELECT {_U_COLS} FROM {_UNNEST} ON CONFLICT DO NOTHING"
# A back-filled report (0x0704 type 1) re-sends what the terminal saw no
# acknowledgement for, under a new sequence number: if the original did land (the
# ack was lost), the same device time is already stored.
_INSERT_BACKFILL = (f"INSERT INTO positions ({_POS_LIST}) SELECT {_U_COLS} FROM {_UNNEST} "
                    "WHERE NOT EXISTS (SELECT 1 FROM positions p WHERE p.device_id = u.device_id "
                    "AND p.device_time = u.device_time) ON CONFLICT DO NOTHING")
# The live position moves only forward in device time (a back-filled batch must not
# drag the map backwards); receive time and online flag follow every message.
_NEWER = "(live_state.device_time IS NULL OR excluded.device_time > live_state.device_time)"
_N = len(_POS_COLS)
_UPSERT_LIVE = (
    f"INSERT INTO live_state ({_POS_LIST}, online, last_report_at, geom) "
    f"SELECT {_U_COLS}, true, l.at, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326) "
    f"FROM {_UNNEST} JOIN unnest(${_N + 1}::text[], ${_N + 2}::timestamptz[]) AS l(dev, at) ON l.dev = u.device_id "
    "ORDER BY u.device_id "
    "ON CONFLICT (device_id) DO UPDATE SET "
    + ", ".join(f"{c} = CASE WHEN {_NEWER} THEN excluded.{c} ELSE live_state.{c} END" for c in (*_POS_COLS[1:], "geom"))
    + ", online = true, last_report_at = GREATEST(live_state.last_report_at, excluded.last_report_at)"
)
# A message without a position (heartbeat, reply…) still says the device is online.
_UPSERT_SEEN = (
    "INSERT INTO live_state (device_id, online, last_report_at) "
    "SELECT d, true, at FROM unnest($1::text[], $2::timestamptz[]) AS s(d, at) ORDER BY d "
    "ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, "
    "last_report_at = GREATEST(live_state.last_report_at, excluded.last_report_at)")
_UPSERT_OFFSET = ("INSERT INTO consumer_offsets (consumer, log_offset) VALUES ($1, $2) "
                  "ON CONFLICT (consumer) DO UPDATE SET log_offset = excluded.log_offset")

_VEHICLE_COLS = "v.id, v.plate, v.plate_colour, v.vin, v.vehicle_type, v.org_id, v.device_id"
_LIVE_COLS = "l.online, l.last_report_at, " + ", ".join(f"l.{c}" for c in _POS_COLS)
_VEHICLE_ROW_SELECT = (f"SELECT {_VEHICLE_COLS}, {_LIVE_COLS} FROM vehicles v "
                       "LEFT JOIN live_state l ON l.device_id = v.device_id")
_DEVICE_COLS = ("device_id, phone, terminal_id, maker_id, model, protocol_version, auth_code, vehicle_id, "
                "registered_at, province_id, city_id")

def _position(r: Sequence[Any]) -> Position:
    """A Position from the 15 ``_POS_COLS`` values."""
    return Position(device_id=r[0], device_time=r[1], seq=r[2], item=r[3], received_at=r[4], lat=r[5], lon=r[6],
                    speed_kmh=r[7], heading_deg=r[8], altitude_m=r[9], alarm=r[10], status=r[11], mileage_km=r[12],
                    backfill=bool(r[13]), extras=json.loads(r[14]) if r[14] else {})


def _vehicle(r: Sequence[Any]) -> Vehicle:
    return Vehicle(id=r[0], plate=r[1], plate_colour=r[2], vin=r[3], vehicle_type=r[4], org_id=r[5], device_id=r[6])


def _vehicle_row(r: Sequence[Any]) -> VehicleRow:
    v = _vehicle(r)
    live = r[7:]
    if live[2] is None:  # no live_state row: the device never sent anything
        return VehicleRow(v, None)
    position = _position(live[2:]) if live[3] is not None else None
    return VehicleRow(v, LiveState(device_id=live[2], vehicle_id=v.id, online=bool(live[0]), last_report_at=live[1],
                                   position=position))


def _device(r: Sequence[Any]) -> Device:
    return Device(device_id=r[0], phone=r[1], terminal_id=r[2], maker_id=r[3], model=r[4], protocol_version=r[5],
                  auth_code=r[6], vehicle_id=r[7], registered_at=r[8], province_id=r[9], city_id=r[10])


def _user(r: Sequence[Any]) -> User:
    return User(id=r[0], username=r[1], role=r[2], org_id=r[3], password_hash=r[4])


def _scope_sql(scope: Scope, column: str, args: list[Any], *, with_global: bool = False) -> str:
    """A condition for ``scope`` on ``column``; its parameter (if any) is appended to
    ``args``. ``with_global``: rows of no organisation (global definitions) match too."""
    if scope.org_ids is None:
        return "true"
    if not scope.org_ids:
        cond = "false"
    else:
        args.append(sorted(scope.org_ids))
        cond = f"{column} = ANY(${len(args)}::int4[])"
    return f"({cond} OR {column} IS NULL)" if with_global else cond


def _count(status: str) -> int:
    """Rows affected, from a command status such as ``INSERT 0 12``."""
    return int(status.rsplit(" ", 1)[-1])


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool. asyncpg's default (RESET
    ALL, UNLISTEN *, CLOSE ALL, advisory unlock) is a round trip after every query —
    measured: a third of a registration's time. This store leaves no session state on
    pooled connections (advisory locks are transaction-scoped, temporary tables drop
    on commit), so an unfinished transaction is all there can be to undo."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


class PostgresStore(Store):
    def __init__(self, dsn: str, *, schema: str = "icv", min_connections: int = 1, max_connections: int = 10,
                 partition_days_back: int = 7, partition_days_ahead: int = 3,
                 track_retention_days: int | None = None) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r}: lower-case letters, digits and _ only")
        self.dsn = dsn
        self.schema = schema
        self.min_connections = min_connections
        self.max_connections = max_connections
        self.partition_days_back = partition_days_back
        self.partition_days_ahead = partition_days_ahead
        self.track_retention_days = track_retention_days
        self._pool: asyncpg.Pool | None = None

    # -- lifecycle

    async def open(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await conn.execute(f'SET search_path TO "{self.schema}", public')
                await self._migrate(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=self.min_connections, max_size=self.max_connections, reset=_reset_connection,
            server_settings={"search_path": f'"{self.schema}", public', "timezone": "UTC",
                             "application_name": "icvcloud"})
        await self.maintain()

    async def _migrate(self, conn: asyncpg.Connection) -> list[int]:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                           "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        have = {r[0] for r in await conn.fetch("SELECT version FROM schema_version")}
        known = migrations("postgres")
        newest = known[-1].version if known else 0
        if have and max(have) > newest:
            raise RuntimeError(f"the database has schema version {max(have)}; this icvcloud knows up to {newest}")
        applied = []
        for mg in known:
            if mg.version in have:
                continue
            async with conn.transaction():  # DDL is transactional: a failed migration leaves nothing
                await conn.execute(mg.sql)
                await conn.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)", mg.version, mg.name)
            applied.append(mg.version)
            log.info("applied PostgreSQL migration %04d_%s in schema %s", mg.version, mg.name, self.schema)
        return applied

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    # -- partitions of positions

    async def maintain(self, today: date | None = None) -> dict[str, list[str]]:
        """Create the day partitions of positions from ``partition_days_back`` before
        today to ``partition_days_ahead`` after it, and drop those past retention.
        Safe to run from every process at any time (one at a time, by a lock)."""
        today = today or datetime.now(UTC).date()
        created: list[str] = []
        dropped: list[str] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATE_LOCK)
            have = {r[0] for r in await conn.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'positions'::regclass")}
            for k in range(-self.partition_days_back, self.partition_days_ahead + 1):
                day = today + timedelta(days=k)
                name = f"positions_{day:%Y%m%d}"
                if name not in have:
                    await self._create_partition(conn, name, day)
                    created.append(name)
            if self.track_retention_days is not None:
                cutoff = today - timedelta(days=self.track_retention_days)
                for name in sorted(have):
                    m = _PARTITION_NAME.match(name)
                    if m and datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC).date() < cutoff:
                        await conn.execute(f'DROP TABLE "{name}"')
                        dropped.append(name)
                await conn.execute("DELETE FROM positions_default WHERE device_time < $1", _day_start(cutoff))
        if created or dropped:
            log.info("positions partitions: created %s, dropped %s", created, dropped)
        return {"created": created, "dropped": dropped}

    @staticmethod
    async def _create_partition(conn: asyncpg.Connection, name: str, day: date) -> None:
        lo, hi = _day_start(day), _day_start(day + timedelta(days=1))
        bounds = f"FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
        # Rows of that day already in the default partition would make the new
        # partition's bounds overlap them: move them in through a temporary table.
        waiting = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM positions_default WHERE device_time >= $1 "
                                      "AND device_time < $2)", lo, hi)
        if waiting:
            await conn.execute("CREATE TEMP TABLE positions_moving (LIKE positions) ON COMMIT DROP")
            await conn.execute("WITH moved AS (DELETE FROM positions_default WHERE device_time >= $1 AND "
                               "device_time < $2 RETURNING *) INSERT INTO positions_moving SELECT * FROM moved", lo, hi)
        await conn.execute(f'CREATE TABLE "{name}" PARTITION OF positions FOR VALUES {bounds}')
        if waiting:
            await conn.execute("INSERT INTO positions SELECT * FROM positions_moving")
            await conn.execute("DROP TABLE positions_moving")

    async def drop_position_days_before(self, cutoff: datetime) -> tuple[list[str], int]:
        """Drop the day partitions of positions that lie wholly before ``cutoff``;
        returns their names and how many rows they held. Rows before ``cutoff`` in a
        partly older day or in ``positions_default`` are the caller's to delete."""
        dropped: list[str] = []
        rows = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATE_LOCK)
            for name in await self.position_partitions(conn):
                m = _PARTITION_NAME.match(name)
                if m and _day_start(datetime.strptime(m.group(1), "%Y%m%d").date() + timedelta(days=1)) <= cutoff:
                    rows += int(await conn.fetchval(f'SELECT COUNT(*) FROM "{name}"'))
                    await conn.execute(f'DROP TABLE "{name}"')
                    dropped.append(name)
        if dropped:
            log.info("positions partitions dropped before %s: %s", cutoff.isoformat(), dropped)
        return dropped, rows

    async def position_partitions(self, conn: asyncpg.Connection | None = None) -> list[str]:
        rows = await (conn or self.pool).fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                               "ON c.oid = i.inhrelid WHERE i.inhparent = 'positions'::regclass "
                                               "ORDER BY 1")
        return [r[0] for r in rows]

    # -- organisations and users

    async def add_organisation(self, name: str, kind: str = "enterprise", parent_id: int | None = None) -> int:
        return int(await self.pool.fetchval(
            "INSERT INTO organisations (name, kind, parent_id) VALUES ($1, $2, $3) RETURNING id",
            name, kind, parent_id))

    async def list_organisations(self, scope: Scope) -> list[Organisation]:
        args: list[Any] = []
        where = _scope_sql(scope, "id", args)
        rows = await self.pool.fetch(f"SELECT id, name, kind, parent_id FROM organisations WHERE {where} ORDER BY id",
                                     *args)
        return [Organisation(*r) for r in rows]

    async def add_user(self, username: str, password_hash: str, role: str, org_id: int | None) -> int:
        return int(await self.pool.fetchval(
            "INSERT INTO users (username, password_hash, role, org_id) VALUES ($1, $2, $3, $4) RETURNING id",
            username, password_hash, role, org_id))

    async def get_user(self, username: str) -> User | None:
        r = await self.pool.fetchrow("SELECT id, username, role, org_id, password_hash FROM users WHERE username = $1",
                                     username)
        return _user(r) if r else None

    async def add_token(self, user_id: int, token_hash: str, name: str) -> None:
        await self.pool.execute("INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES ($1, $2, $3, "
                                "clock_timestamp())", token_hash, user_id, name)

    async def user_for_token(self, token_hash: str) -> User | None:
        return await self.user_for_token_issued_after(token_hash, None)

    async def user_for_token_issued_after(self, token_hash: str, not_before: datetime | None) -> User | None:
        """Like :meth:`user_for_token`, but a token issued before ``not_before`` has
        expired (the API's token TTL); as in the SQLite store."""
        r = await self.pool.fetchrow(
            "SELECT u.id, u.username, u.role, u.org_id, u.password_hash FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND ($2::timestamptz IS NULL OR "
            "t.created_at >= $2)", token_hash, not_before)
        return _user(r) if r else None

    # -- devices and vehicles

    async def get_device(self, device_id: str) -> Device | None:
        r = await self.pool.fetchrow(f"SELECT {_DEVICE_COLS} FROM devices WHERE device_id = $1", device_id)
        return _device(r) if r else None

    async def save_device(self, device: Device) -> None:
        d = device
        # The vehicle link is owned by add_vehicle; a device saved without one keeps it.
        await self.pool.execute(
            f"INSERT INTO devices ({_DEVICE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            "ON CONFLICT (device_id) DO UPDATE SET phone = excluded.phone, terminal_id = excluded.terminal_id, "
            "maker_id = excluded.maker_id, model = excluded.model, protocol_version = excluded.protocol_version, "
            "auth_code = excluded.auth_code, vehicle_id = COALESCE(excluded.vehicle_id, devices.vehicle_id), "
            "registered_at = COALESCE(excluded.registered_at, devices.registered_at), "
            "province_id = excluded.province_id, city_id = excluded.city_id",
            d.device_id, d.phone, d.terminal_id, d.maker_id, d.model, d.protocol_version, d.auth_code, d.vehicle_id,
            d.registered_at, d.province_id, d.city_id)

    async def add_vehicle(self, vehicle: Vehicle) -> int:
        v = vehicle
        args = (v.plate, v.plate_colour, v.vin, v.vehicle_type, v.org_id)
        if v.device_id is None:
            return int(await self.pool.fetchval(
                "INSERT INTO vehicles (plate, plate_colour, vin, vehicle_type, org_id) VALUES ($1, $2, $3, $4, $5) "
                "RETURNING id", *args))
        # One statement, one round trip (registration storms after a gateway restart
        # are bounded by these): the vehicle, and its device created (a provisioned
        # vehicle's terminal is known before it first registers) or linked. The
        # foreign key from vehicles to devices is checked at the statement's end.
        return int(await self.pool.fetchval(
            "WITH v AS (INSERT INTO vehicles (plate, plate_colour, vin, vehicle_type, org_id, device_id) "
            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id), "
            "d AS (INSERT INTO devices (device_id, vehicle_id) SELECT $6, id FROM v "
            "ON CONFLICT (device_id) DO UPDATE SET vehicle_id = excluded.vehicle_id) "
            "SELECT id FROM v", *args, v.device_id))

    async def device_and_vehicle(self, device_id: str) -> tuple[Device | None, Vehicle | None]:
        # One round trip: a registration storm (every terminal reconnecting after an
        # outage) is bounded by the gateway's round trips to PostgreSQL.
        r = await self.pool.fetchrow(
            f"SELECT {', '.join('d.' + c.strip() for c in _DEVICE_COLS.split(','))}, {_VEHICLE_COLS} "
            "FROM devices d LEFT JOIN vehicles v ON v.device_id = d.device_id WHERE d.device_id = $1", device_id)
        if r is None:
            return None, None
        n = _DEVICE_COLS.count(",") + 1
        vals = list(r)
        return _device(vals[:n]), (_vehicle(vals[n:]) if vals[n] is not None else None)

    async def vehicle_for_device(self, device_id: str) -> Vehicle | None:
        r = await self.pool.fetchrow(f"SELECT {_VEHICLE_COLS} FROM vehicles v WHERE v.device_id = $1", device_id)
        return _vehicle(r) if r else None

    async def get_vehicle(self, scope: Scope, vehicle_id: int) -> VehicleRow | None:
        args: list[Any] = [vehicle_id]
        where = _scope_sql(scope, "v.org_id", args)
        # IDs arrive as SQLite's 64-bit integers: compared as int8, an unknown one is just not found.
        r = await self.pool.fetchrow(f"{_VEHICLE_ROW_SELECT} WHERE v.id = $1::int8 AND {where}", *args)
        return _vehicle_row(r) if r else None

    async def list_vehicles(self, scope: Scope, flt: VehicleFilter) -> tuple[list[VehicleRow], int]:
        args: list[Any] = []
        clauses = [_scope_sql(scope, "v.org_id", args)]
        if flt.vehicle_type is not None:
            args.append(flt.vehicle_type)
            clauses.append(f"v.vehicle_type = ${len(args)}")
        if flt.org_id is not None:
            args.append(flt.org_id)
            clauses.append(f"v.org_id = ${len(args)}::int8")
        if flt.online is not None:
            args.append(flt.online)
            clauses.append(f"COALESCE(l.online, false) = ${len(args)}")
        if flt.plate and "\x00" in flt.plate:
            clauses.append("false")  # PostgreSQL text cannot hold NUL: no stored plate has one
        elif flt.plate:
            # strpos, not LIKE: the user's % and _ are literal characters of a plate.
            args.append(flt.plate.lower())
            clauses.append(f"strpos(lower(v.plate), ${len(args)}) > 0")
        cond = " AND ".join(clauses)
        n = len(args)
        async with self.pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            rows = await conn.fetch(f"{_VEHICLE_ROW_SELECT} WHERE {cond} ORDER BY v.id LIMIT ${n + 1} OFFSET ${n + 2}",
                                    *args, flt.limit, flt.offset)
            total = await conn.fetchval("SELECT COUNT(*) FROM vehicles v LEFT JOIN live_state l "
                                        f"ON l.device_id = v.device_id WHERE {cond}", *args)
        return [_vehicle_row(r) for r in rows], int(total)

    async def count_by_state(self, scope: Scope) -> dict[str, int]:
        args: list[Any] = [MOVING_KMH]
        where = _scope_sql(scope, "v.org_id", args)
        total, online, moving, alarm = await self.pool.fetchrow(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE l.online), COUNT(*) FILTER (WHERE l.online AND l.speed_kmh > $1), "
            "COUNT(*) FILTER (WHERE l.online AND l.alarm <> 0) "
            f"FROM vehicles v LEFT JOIN live_state l ON l.device_id = v.device_id WHERE {where}", *args)
        return {"total": total, "online": online, "offline": total - online, "moving": moving,
                "stopped": online - moving, "alarm": alarm}

    # -- positions and live state

    async def write_positions(self, positions: Sequence[Position], consumer: str | None = None,
                              offset: int | None = None, seen: Mapping[str, datetime] | None = None) -> int:
        for p in positions:
            if p.device_time.tzinfo is None or p.received_at.tzinfo is None:
                # asyncpg would read a naive time as UTC; the SQLite store refuses it too.
                raise TypeError(f"position of {p.device_id}: naive datetime (times must be timezone-aware)")
        return await self.write_position_rows([position_row(p) for p in positions], consumer, offset, seen)

    async def write_position_rows(self, rows: Sequence[PositionRow], consumer: str | None = None,
                                  offset: int | None = None, seen: Mapping[str, datetime] | None = None) -> int:
        if not rows and consumer is None and not seen:
            return 0
        if consumer is not None and offset is None:
            raise ValueError("an offset must be given with a consumer")
        plain: list[PositionRow] = []
        backfilled: list[PositionRow] = []
        newest: dict[str, PositionRow] = {}
        last_seen: dict[str, int] = {}
        fold_rows(rows, newest, last_seen, plain, backfilled)
        backfill: dict[tuple[str, int], PositionRow] = {}
        for r in backfilled:  # one per device time: the statement checks them against the stored ones
            backfill.setdefault((r[0], r[1]), r)
        live_devs = sorted(newest)
        seen_rows = sorted((d, at) for d, at in (seen or {}).items() if d not in newest)
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = 0
            if plain:
                inserted += _count(await conn.execute(_INSERT_POSITIONS, *_columns(plain)))
            if backfill:
                inserted += _count(await conn.execute(_INSERT_BACKFILL, *_columns(list(backfill.values()))))
            if newest:
                await conn.execute(_UPSERT_LIVE, *_columns([newest[d] for d in live_devs]), live_devs,
                                   [from_us(last_seen[d]) for d in live_devs])
            if seen_rows:
                await conn.execute(_UPSERT_SEEN, [d for d, _ in seen_rows], [at for _, at in seen_rows])
            if consumer is not None:
                await conn.execute(_UPSERT_OFFSET, consumer, offset)
        return inserted

    async def consumer_offset(self, consumer: str) -> int:
        v = await self.pool.fetchval("SELECT log_offset FROM consumer_offsets WHERE consumer = $1", consumer)
        return int(v) if v is not None else 0

    async def consumer_offsets(self, prefix: str) -> dict[str, int]:
        """Every consumer whose name starts with ``prefix`` (a group's partitions)."""
        rows = await self.pool.fetch(
            "SELECT consumer, log_offset FROM consumer_offsets WHERE starts_with(consumer, $1)", prefix)
        return {r[0]: int(r[1]) for r in rows}

    async def mark_seen(self, device_id: str, at: datetime, online: bool = True) -> None:
        await self.pool.execute(
            "INSERT INTO live_state (device_id, online, last_report_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, "
            "last_report_at = GREATEST(live_state.last_report_at, excluded.last_report_at)", device_id, online, at)

    async def mark_offline_before(self, cutoff: datetime) -> list[str]:
        rows = await self.pool.fetch("UPDATE live_state SET online = false WHERE online AND "
                                     "(last_report_at IS NULL OR last_report_at < $1) RETURNING device_id", cutoff)
        return sorted(r[0] for r in rows)

    async def track(self, scope: Scope, vehicle_id: int, start: datetime, end: datetime,
                    limit: int = 100_000) -> list[Position]:
        args: list[Any] = [vehicle_id, start, end, limit]
        where = _scope_sql(scope, "v.org_id", args)
        rows = await self.pool.fetch(
            f"SELECT {', '.join(f'p.{c}' for c in _POS_COLS)} FROM vehicles v "
            "JOIN positions p ON p.device_id = v.device_id "
            f"WHERE v.id = $1::int8 AND {where} AND p.device_time BETWEEN $2 AND $3 "
            "ORDER BY p.device_time, p.seq, p.item LIMIT $4", *args)
        return [_position(r) for r in rows]

    async def live_states(self, scope: Scope, bbox: BBox | None = None) -> list[VehicleRow]:
        args: list[Any] = []
        clauses = [_scope_sql(scope, "v.org_id", args), "l.lat IS NOT NULL"]
        if bbox is not None:
            n = len(args)
            args += [bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat]
            # The GiST index on geom answers the box; edges count as inside, like BBox.contains.
            clauses.append(f"l.geom && ST_MakeEnvelope(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4}, 4326)")
        rows = await self.pool.fetch(f"{_VEHICLE_ROW_SELECT} WHERE {' AND '.join(clauses)} ORDER BY v.id", *args)
        return [_vehicle_row(r) for r in rows]

    async def count_positions(self, device_id: str | None = None) -> int:
        if device_id is None:
            return int(await self.pool.fetchval("SELECT COUNT(*) FROM positions"))
        return int(await self.pool.fetchval("SELECT COUNT(*) FROM positions WHERE device_id = $1", device_id))

    # -- terminal debugging

    async def add_bad_frame(self, device_id: str, at: datetime, frame: bytes, reason: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO bad_frames (device_id, received_at, frame, reason) VALUES ($1, $2, $3, $4)",
                               device_id, at, frame, reason)
            n = await conn.fetchval("SELECT COUNT(*) FROM bad_frames WHERE device_id = $1", device_id)
            if n > BAD_FRAMES_KEPT + _BAD_FRAMES_SLACK:
                await conn.execute(
                    "DELETE FROM bad_frames WHERE device_id = $1 AND id NOT IN (SELECT id FROM bad_frames "
                    "WHERE device_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2)", device_id, BAD_FRAMES_KEPT)

    async def bad_frames(self, device_id: str, limit: int = 50) -> list[tuple[datetime, bytes, str]]:
        rows = await self.pool.fetch("SELECT received_at, frame, reason FROM bad_frames WHERE device_id = $1 "
                                     "ORDER BY received_at DESC, id DESC LIMIT $2", device_id, limit)
        return [(r[0], bytes(r[1]), r[2]) for r in rows]


def _columns(rows: Sequence[PositionRow]) -> list[list[Any]]:
    """Position rows as the 15 column arrays of ``_UNNEST``."""
    return [
        [r[0] for r in rows], [from_us(r[1]) for r in rows], [r[2] for r in rows], [r[3] for r in rows],
        [from_us(r[4]) for r in rows], [r[5] for r in rows], [r[6] for r in rows], [r[7] for r in rows],
        [r[8] for r in rows], [r[9] for r in rows], [r[10] for r in rows], [r[11] for r in rows],
        [r[12] for r in rows], [bool(r[13]) for r in rows], [r[14] for r in rows],
    ]
